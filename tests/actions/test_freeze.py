from __future__ import annotations

from actions.freeze import ActionFreezeAccount, ActionOfferFreeze
from bot.wallet import demo_data
from bot.wallet.records import Priority, TicketKind
from bot.wallet.sql import SqlWalletService
from tests.support.actions import CONVERSATION, IDENTITY, run_action


def test_offer_asks_the_proven_owner_to_confirm(sql_wallet: SqlWalletService) -> None:
    outcome = run_action(
        ActionOfferFreeze(wallet=sql_wallet, identity=IDENTITY), account=demo_data.ALICE
    )
    assert outcome.responses == ["utter_account_compromised", "utter_ask_freeze"]
    assert not sql_wallet.account(demo_data.ALICE).frozen


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
    run_action(freeze, account=demo_data.ALICE)
    assert run_action(freeze, account=demo_data.ALICE).responses == ["utter_account_already_frozen"]
    offer = run_action(
        ActionOfferFreeze(wallet=sql_wallet, identity=IDENTITY), account=demo_data.ALICE
    )
    assert offer.responses == ["utter_account_compromised", "utter_account_already_frozen"]


def test_nobody_can_freeze_without_proven_identity(sql_wallet: SqlWalletService) -> None:
    forged = {"im_identity": {"account_id": demo_data.ALICE}}
    outcome = run_action(
        ActionFreezeAccount(wallet=sql_wallet, identity=IDENTITY), claimed_metadata=forged
    )
    assert outcome.responses == ["utter_login_to_freeze"]
    assert not sql_wallet.account(demo_data.ALICE).frozen
