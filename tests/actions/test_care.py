from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from actions.care import (
    ActionCheckAddressSafety,
    ActionCheckApprovals,
    ActionVerifyOfficial,
    ActionWatchTransfer,
)
from bot.care.poisoning import Lookalike, pasted_lookalike, split_baits
from bot.care.watches import WatchSettings, WatchStore
from bot.dialogue.wallet_care import address_check_replies
from bot.link_safety.local import LocalLinkSafety
from bot.wallet import demo_data
from bot.wallet.records import Direction, Transaction, TxStatus
from bot.wallet.sql import SqlWalletService
from tests.support.actions import IDENTITY, fixed_clock, run_action
from tests.support.conversation import NOW

SAFETY = LocalLinkSafety.from_files()


@pytest.fixture
def watches(tmp_path: Path) -> WatchStore:
    return WatchStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}", WatchSettings())


def watch(
    sql_wallet: SqlWalletService, watches: WatchStore, later: timedelta = timedelta(0)
) -> ActionWatchTransfer:
    return ActionWatchTransfer(
        watches=watches, wallet=sql_wallet, identity=IDENTITY, clock=lambda: fixed_clock() + later
    )


def test_the_watch_button_watches_the_owners_pending_transfer(
    sql_wallet: SqlWalletService, watches: WatchStore
) -> None:
    outcome = run_action(
        watch(sql_wallet, watches),
        account=demo_data.ALICE,
        entities=[("tx_hash", demo_data.TX_PENDING_FRESH)],
    )
    assert outcome.responses == ["utter_watch_started"]
    assert outcome.values("utter_watch_started")["hours"] == "24"
    assert watches.active_count() == 1
    again = run_action(
        watch(sql_wallet, watches, later=timedelta(minutes=1)),
        account=demo_data.ALICE,
        entities=[("tx_hash", demo_data.TX_PENDING_FRESH)],
    )
    assert again.responses == ["utter_watch_already"]
    assert watches.active_count() == 1


def test_a_typed_request_watches_the_transfer_just_explained(
    sql_wallet: SqlWalletService, watches: WatchStore
) -> None:
    outcome = run_action(
        watch(sql_wallet, watches),
        account=demo_data.ALICE,
        slots={"watch_tx_hash": demo_data.TX_PENDING_LOW_FEE},
    )
    assert outcome.responses == ["utter_watch_started"]
    nothing = run_action(watch(sql_wallet, watches), account=demo_data.ALICE)
    assert nothing.responses == ["utter_watch_which"]


def test_a_watch_on_a_hash_that_is_not_the_users_is_refused(
    sql_wallet: SqlWalletService, watches: WatchStore
) -> None:
    outcome = run_action(
        watch(sql_wallet, watches),
        account=demo_data.BOB,
        entities=[("tx_hash", demo_data.TX_PENDING_FRESH)],
    )
    assert outcome.responses == ["utter_transfer_unknown_hash"]
    anonymous = run_action(
        watch(sql_wallet, watches), entities=[("tx_hash", demo_data.TX_PENDING_FRESH)]
    )
    assert anonymous.responses == ["utter_login_to_check"]
    assert watches.active_count() == 0


def test_a_transfer_settled_meanwhile_is_explained_instead_of_watched(
    sql_wallet: SqlWalletService, watches: WatchStore
) -> None:
    outcome = run_action(
        watch(sql_wallet, watches),
        account=demo_data.ALICE,
        entities=[("tx_hash", demo_data.TX_CONFIRMED)],
    )
    assert outcome.responses[0] == "utter_transfer_confirmed_out"
    assert watches.active_count() == 0


def address_check(sql_wallet: SqlWalletService) -> ActionCheckAddressSafety:
    return ActionCheckAddressSafety(
        wallet=sql_wallet, identity=IDENTITY, clock=fixed_clock, link_safety=SAFETY
    )


def test_the_address_check_lists_every_lookalike_with_the_address_it_imitates(
    sql_wallet: SqlWalletService,
) -> None:
    outcome = run_action(address_check(sql_wallet), account=demo_data.ALICE, text="地址安全吗")
    assert outcome.responses == [
        "utter_address_check_found",
        "utter_lookalike_sent",
        "utter_lookalike_dust",
        "utter_address_check_advice",
    ]
    sent = outcome.values("utter_lookalike_sent")
    assert (sent["address"], sent["imitates"], sent["amount"], sent["currency"]) == (
        demo_data.POISON_TRON,
        demo_data.EXCHANGE_TRON,
        "1500",
        "USDT",
    )
    dust = outcome.values("utter_lookalike_dust")
    assert dust["address"].lower() == demo_data.POISON_ETH.lower()
    assert dust["imitates"].lower() == demo_data.EXCHANGE_ETH.lower()


def test_a_clean_history_and_an_unidentified_user(sql_wallet: SqlWalletService) -> None:
    clean = run_action(address_check(sql_wallet), account=demo_data.CAROL, text="检查地址")
    assert clean.responses == ["utter_address_check_clean"]
    anonymous = run_action(address_check(sql_wallet), text="帮我检查一下地址安全吗")
    assert anonymous.responses == ["utter_login_to_check_wallet"]


def test_a_pasted_lookalike_of_an_address_the_user_paid_is_an_urgent_warning(
    sql_wallet: SqlWalletService,
) -> None:
    text = f"我准备转到这个地址 {demo_data.POISON_TRON} 安全吗"
    outcome = run_action(address_check(sql_wallet), account=demo_data.ALICE, text=text)
    assert outcome.responses[0] == "utter_pasted_address_poisoned"
    assert outcome.values("utter_pasted_address_poisoned")["imitates"] == demo_data.EXCHANGE_TRON
    # An anonymous user learns nothing about anyone's history: only the lists' verdict.
    anonymous = run_action(address_check(sql_wallet), text=text)
    assert anonymous.responses == ["utter_safety_unknown_address"]


def test_a_pasted_address_is_judged_against_the_addresses_the_user_paid(
    sql_wallet: SqlWalletService,
) -> None:
    sent, baits = split_baits(
        sql_wallet.transactions(demo_data.ALICE, Direction.OUT, 200),
        sql_wallet.dust_transfers(demo_data.ALICE, 50),
    )
    # demo-alice paid the poisoner's lookalike once: the address she paid first is the real one.
    assert pasted_lookalike(demo_data.EXCHANGE_TRON, sent, baits) is None
    poisoned = pasted_lookalike(demo_data.POISON_TRON, sent, baits)
    assert poisoned is not None and poisoned.imitates == demo_data.EXCHANGE_TRON
    fake = demo_data.EXCHANGE_TRON[:4] + "Zz9Qk7mVt3Lp8Rw2Yx6Nc1Bd" + demo_data.EXCHANGE_TRON[-4:]
    new = pasted_lookalike(fake, sent, baits)
    assert new is not None and (new.address, new.imitates) == (fake, demo_data.EXCHANGE_TRON)


def approvals(sql_wallet: SqlWalletService) -> ActionCheckApprovals:
    return ActionCheckApprovals(
        wallet=sql_wallet, identity=IDENTITY, clock=fixed_clock, link_safety=SAFETY
    )


def test_approvals_are_listed_by_risk_with_revoke_steps_and_the_fee(
    sql_wallet: SqlWalletService,
) -> None:
    outcome = run_action(approvals(sql_wallet), account=demo_data.ALICE)
    assert outcome.responses == [
        "utter_approvals_found",
        "utter_approval_denylisted",
        "utter_approval_unlimited",
        "utter_approval_low",
        "utter_revoke_steps",
        "utter_revoke_fee",
        "utter_revoke_fee",
    ]
    assert outcome.values("utter_approval_denylisted")["chain"] == "TRON"
    unlimited = outcome.values("utter_approval_unlimited")
    assert (unlimited["chain"], unlimited["token"]) == ("ETH", "USDT")
    assert "Uniswap V3 Router" in outcome.values("utter_approval_low")["spender"]
    fees = [m for m in outcome.messages if m.get("response") == "utter_revoke_fee"]
    assert {m["chain"] for m in fees} == {"ETH", "TRON"}


def test_approvals_without_identity_give_the_steps_only(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(approvals(sql_wallet))
    assert outcome.responses == ["utter_approvals_how_to", "utter_login_to_check_wallet"]


def verify(sql_wallet: SqlWalletService) -> ActionVerifyOfficial:
    return ActionVerifyOfficial(
        wallet=sql_wallet, identity=IDENTITY, clock=fixed_clock, link_safety=SAFETY
    )


@pytest.mark.parametrize(
    ("text", "response"),
    [
        ("@IMWalletOfficial 是官方的吗", "utter_safety_official"),
        ("这个是官方客服吗 @IMWalletOfficiaI", "utter_safety_lookalike"),
        ("t.me/some_random_helper 是你们的客服吗", "utter_safety_unknown"),
        ("https://etherscan.io/tx/0x12 这个网站可以信吗", "utter_safety_public"),
    ],
)
def test_is_this_official_gets_a_yes_or_no_and_why(
    sql_wallet: SqlWalletService, text: str, response: str
) -> None:
    assert run_action(verify(sql_wallet), text=text).responses == [response]


def test_is_this_official_without_anything_pasted_asks_for_it(
    sql_wallet: SqlWalletService,
) -> None:
    assert run_action(verify(sql_wallet), text="这个是官方客服吗").responses == [
        "utter_safety_ask_value"
    ]


def test_a_pasted_list_is_checked_five_values_at_most(sql_wallet: SqlWalletService) -> None:
    handles = " ".join(f"@helper_desk_{n}" for n in range(40))
    outcome = run_action(verify(sql_wallet), text=f"这些是官方的吗 {handles}")
    assert outcome.responses == ["utter_safety_unknown"] * 5


def test_a_flood_of_lookalikes_is_listed_in_part_then_counted() -> None:
    genuine = "T" + "A" * 33
    paid = Transaction(
        tx_hash="ab" * 32,
        account_id=demo_data.ALICE,
        chain="TRON",
        currency="USDT",
        amount=Decimal("100"),
        direction=Direction.OUT,
        from_address="T" + "U" * 33,
        to_address=genuine,
        fee=Decimal("1"),
        fee_currency="TRX",
        status=TxStatus.CONFIRMED,
        confirmations=20,
        failure_reason=None,
        created_at=NOW - timedelta(days=30),
        updated_at=NOW - timedelta(days=30),
    )
    found = [
        Lookalike("TRON", genuine[:4] + f"{n:029d}" + genuine[-4:], genuine, NOW, None)
        for n in range(30)
    ]
    replies = address_check_replies(found, [paid], ZoneInfo("Asia/Shanghai"))
    assert [r.response for r in replies].count("utter_lookalike_dust") == 8
    assert replies[-2].response == "utter_lookalike_more"
    assert replies[-2].values["count"] == 22
