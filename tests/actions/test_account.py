from __future__ import annotations

from actions.account import ActionAccountStatus, ActionSecurityCheckup
from bot.link_safety.local import LocalLinkSafety
from bot.wallet import demo_data
from bot.wallet.sql import SqlWalletService
from tests.support.actions import IDENTITY, fixed_clock, run_action


def status(sql_wallet: SqlWalletService) -> ActionAccountStatus:
    return ActionAccountStatus(wallet=sql_wallet, identity=IDENTITY, clock=fixed_clock)


def checkup(sql_wallet: SqlWalletService) -> ActionSecurityCheckup:
    return ActionSecurityCheckup(wallet=sql_wallet, identity=IDENTITY, clock=fixed_clock)


def test_locked_account_says_until_when_and_where_the_code_goes(
    sql_wallet: SqlWalletService,
) -> None:
    outcome = run_action(status(sql_wallet), account=demo_data.BOB)
    assert outcome.responses == [
        "utter_account_locked",
        "utter_reset_code_destination",
        "utter_reset_two_factor_on",
        "utter_password_reset",
    ]
    locked = outcome.values("utter_account_locked")
    assert locked["minutes"] == 18
    assert locked["until"] == "18:18"  # 10:18 UTC in Beijing time
    assert outcome.values("utter_reset_code_destination")["destination"] == "b***@example.com"


def test_unlocked_account_masks_phone_and_email(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(status(sql_wallet), account=demo_data.ALICE)
    assert outcome.responses[0] == "utter_account_not_locked"
    destination = outcome.values("utter_reset_code_destination")["destination"]
    assert destination == "138****5678 / a***@example.com"
    assert "13812345678" not in str(outcome.messages)


def test_password_question_without_identity_gets_the_steps_only(
    sql_wallet: SqlWalletService,
) -> None:
    assert run_action(status(sql_wallet)).responses == ["utter_password_reset"]


def test_checkup_flags_missing_2fa_and_new_devices(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(checkup(sql_wallet), account=demo_data.ALICE)
    assert outcome.responses == [
        "utter_checkup_two_factor_off",
        "utter_checkup_new_logins",
        "utter_account_security",
    ]
    logins = outcome.values("utter_checkup_new_logins")["logins"]
    assert "Windows PC" in logins and "Lagos, NG" in logins
    assert "iPhone 15" not in logins


def test_checkup_of_a_healthy_account(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(checkup(sql_wallet), account=demo_data.CAROL)
    assert outcome.responses == ["utter_checkup_all_good", "utter_account_security"]


def test_checkup_without_identity(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(checkup(sql_wallet))
    assert outcome.responses == ["utter_account_security", "utter_login_for_checkup"]


def test_a_handle_named_in_a_security_question_is_checked_first(
    sql_wallet: SqlWalletService,
) -> None:
    action = ActionSecurityCheckup(
        wallet=sql_wallet,
        identity=IDENTITY,
        clock=fixed_clock,
        link_safety=LocalLinkSafety.from_files(),
    )
    outcome = run_action(action, text="@IMWalletOfficiaI 私信我要助记词，是真的吗")
    assert outcome.responses == [
        "utter_safety_lookalike",
        "utter_account_security",
        "utter_login_for_checkup",
    ]
