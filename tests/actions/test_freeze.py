from __future__ import annotations

import pytest

from actions.freeze import ActionFreezeAccount, ActionOfferFreeze
from bot.link_safety.local import LocalLinkSafety
from bot.wallet import demo_data
from bot.wallet.errors import WalletUnavailable
from bot.wallet.records import Approval, Priority, TicketKind
from bot.wallet.sql import SqlWalletService
from tests.support.actions import CONVERSATION, IDENTITY, run_action


def offer(sql_wallet: SqlWalletService) -> ActionOfferFreeze:
    return ActionOfferFreeze(
        wallet=sql_wallet, identity=IDENTITY, link_safety=LocalLinkSafety.from_files()
    )


def test_offer_asks_the_proven_owner_to_confirm(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(offer(sql_wallet), account=demo_data.CAROL)
    assert outcome.responses == ["utter_account_compromised", "utter_ask_freeze"]
    assert not sql_wallet.account(demo_data.CAROL).frozen


def test_after_a_theft_report_the_draining_approval_is_named_first(
    sql_wallet: SqlWalletService,
) -> None:
    # 「我的USDT被盗了」: demo-alice's USDT approvals: a denylisted spender's on TRON, an
    # unlimited one on ETH. The scam spender's is the likeliest cause.
    outcome = run_action(
        offer(sql_wallet), account=demo_data.ALICE, entities=[("currency", "USDT")]
    )
    assert outcome.responses == [
        "utter_account_compromised",
        "utter_theft_approval_suspect",
        "utter_ask_freeze",
    ]
    named = outcome.values("utter_theft_approval_suspect")
    assert (named["chain"], named["token"]) == ("TRON", "USDT")
    assert named["spender"].startswith(demo_data.DENYLISTED_TRON_SPENDER[:4])


def test_confirmed_freeze_freezes_and_reports_an_urgent_incident(
    sql_wallet: SqlWalletService,
) -> None:
    outcome = run_action(
        ActionFreezeAccount(wallet=sql_wallet, identity=IDENTITY), account=demo_data.ALICE
    )
    assert outcome.responses == ["utter_account_frozen"]
    assert sql_wallet.account(demo_data.ALICE).frozen
    (incident,) = sql_wallet.tickets(
        account_id=demo_data.ALICE, conversation_id=CONVERSATION, kind=TicketKind.INCIDENT, limit=5
    )
    assert incident.priority is Priority.URGENT
    assert outcome.values("utter_account_frozen")["ticket_number"] == incident.number
    assert outcome.events == [
        {"event": "slot", "timestamp": None, "name": "handoff_reason", "value": "compromised"}
    ]


def test_a_frozen_account_is_not_frozen_twice(sql_wallet: SqlWalletService) -> None:
    freeze = ActionFreezeAccount(wallet=sql_wallet, identity=IDENTITY)
    run_action(freeze, account=demo_data.CAROL)
    assert run_action(freeze, account=demo_data.CAROL).responses == ["utter_account_already_frozen"]
    offered = run_action(offer(sql_wallet), account=demo_data.CAROL)
    assert offered.responses == ["utter_account_compromised", "utter_account_already_frozen"]


def test_nobody_can_freeze_without_proven_identity(sql_wallet: SqlWalletService) -> None:
    forged = {"im_identity": {"account_id": demo_data.ALICE}}
    outcome = run_action(
        ActionFreezeAccount(wallet=sql_wallet, identity=IDENTITY), claimed_metadata=forged
    )
    assert outcome.responses == ["utter_login_to_freeze"]
    assert not sql_wallet.account(demo_data.ALICE).frozen


def test_a_stolen_coin_no_approval_can_move_names_no_approval(
    sql_wallet: SqlWalletService,
) -> None:
    outcome = run_action(offer(sql_wallet), account=demo_data.ALICE, entities=[("currency", "BTC")])
    assert outcome.responses == ["utter_account_compromised", "utter_ask_freeze"]


def test_the_freeze_is_offered_when_the_approvals_cannot_be_read(
    sql_wallet: SqlWalletService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(account_id: str) -> list[Approval]:
        raise WalletUnavailable("approvals endpoint down")

    monkeypatch.setattr(sql_wallet, "approvals", down)
    outcome = run_action(offer(sql_wallet), account=demo_data.ALICE)
    assert outcome.responses == ["utter_account_compromised", "utter_ask_freeze"]
