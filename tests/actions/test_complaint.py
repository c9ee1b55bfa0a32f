from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.complaint import ActionSubmitComplaint, ActionTicketStatus, ValidateComplaintForm
from bot.identity import OWNER_FIELD, sign_owner
from bot.wallet import demo_data
from bot.wallet.sql import SqlWalletService
from tests.support.actions import CONVERSATION, IDENTITY, SECRET, run_action


def validate_category(text: str) -> dict[str, object]:
    return ValidateComplaintForm().validate_complaint_category(
        text, CollectingDispatcher(), None, {}
    )  # type: ignore[arg-type]


def test_category_buttons_map_to_codes() -> None:
    assert validate_category("转账/提币问题") == {"complaint_category": "transfer"}


def test_free_text_category_is_asked_again_keeping_a_real_description() -> None:
    assert validate_category("提币三天了还没到，客服也不回") == {
        "complaint_category": None,
        "complaint_description": "提币三天了还没到，客服也不回",
    }
    assert validate_category("帮我弄一下") == {"complaint_category": None}


def test_too_short_description_is_asked_again() -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateComplaintForm().validate_complaint_description("差", dispatcher, None, {})  # type: ignore[arg-type]
    assert result == {"complaint_description": None}
    assert dispatcher.messages[0]["response"] == "utter_complaint_description_too_short"


def test_filed_complaint_gets_a_number_and_clears_the_form(sql_wallet: SqlWalletService) -> None:
    slots = {"complaint_category": "transfer", "complaint_description": "USDT提币两天没到账"}
    outcome = run_action(
        ActionSubmitComplaint(wallet=sql_wallet, identity=IDENTITY),
        account=demo_data.CAROL,
        slots=slots,
    )
    assert outcome.responses == ["utter_complaint_filed"]
    number = outcome.values("utter_complaint_filed")["ticket_number"]
    assert number.startswith("C")
    assert {e["name"]: e["value"] for e in outcome.events} == {
        "complaint_category": None,
        "complaint_description": None,
        "handoff_reason": "complaint",
    }
    status = run_action(
        ActionTicketStatus(wallet=sql_wallet, identity=IDENTITY), account=demo_data.CAROL
    )
    assert status.responses == ["utter_ticket_open"]
    assert status.values("utter_ticket_open")["ticket_number"] == number
    assert status.values("utter_ticket_open")["category"] == "转账/提币问题"


def test_anonymous_complaints_are_tracked_per_conversation(sql_wallet: SqlWalletService) -> None:
    slots = {"complaint_category": "service", "complaint_description": "客服态度很差"}
    run_action(ActionSubmitComplaint(wallet=sql_wallet, identity=IDENTITY), slots=slots)
    # The REST channel vouches for the sender with the conversation's token.
    owner = {OWNER_FIELD: sign_owner(SECRET, CONVERSATION)}
    status = run_action(
        ActionTicketStatus(wallet=sql_wallet, identity=IDENTITY), claimed_metadata=owner
    )
    assert status.responses == ["utter_ticket_open"]
    stranger = run_action(ActionTicketStatus(wallet=sql_wallet, identity=IDENTITY))
    assert stranger.responses == ["utter_ticket_status_not_owner"]
    other_account = run_action(
        ActionTicketStatus(wallet=sql_wallet, identity=IDENTITY), account=demo_data.BOB
    )
    assert other_account.responses == ["utter_no_tickets"]


def test_asking_for_someone_elses_ticket_number_reveals_nothing(
    sql_wallet: SqlWalletService,
) -> None:
    slots = {"complaint_category": "fees", "complaint_description": "手续费扣太多了"}
    filed = run_action(
        ActionSubmitComplaint(wallet=sql_wallet, identity=IDENTITY),
        account=demo_data.CAROL,
        slots=slots,
    )
    number = filed.values("utter_complaint_filed")["ticket_number"]
    outcome = run_action(
        ActionTicketStatus(wallet=sql_wallet, identity=IDENTITY),
        account=demo_data.BOB,
        entities=[("ticket_number", number)],
    )
    assert outcome.responses == ["utter_no_tickets"]
