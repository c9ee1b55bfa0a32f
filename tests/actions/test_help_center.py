"""The help center in the conversation: the best article with 有帮助吗, the next two after 没帮助,
then a human; nothing shown when nothing fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from actions.help_center import ActionHelpCenter, ActionHelpFeedback
from bot.handoff.store import HandoffStore
from bot.help_center.library import HelpCenter
from bot.help_center.store import ArticleStore, events
from bot.wallet import demo_data
from tests.support.actions import CONVERSATION, IDENTITY, run_action


@pytest.fixture
def library(tmp_path: Path) -> HelpCenter:
    return HelpCenter(ArticleStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}"), 3)


def recorded(library: HelpCenter) -> list[tuple[str, str | None]]:
    with library.store.engine.connect() as connection:
        return [(row.kind, row.article_id) for row in connection.execute(events.select())]


def test_a_question_gets_the_articles_short_answer_link_and_feedback_buttons(
    library: HelpCenter,
) -> None:
    outcome = run_action(
        ActionHelpCenter(library, identity=IDENTITY), text="怎么取消授权", intent="help_center"
    )
    message = outcome.values("utter_help_article")
    assert message["title"] == "如何取消授权"
    assert message["link"].endswith("/help/articles/revoke-approval")
    assert "授权管理" in message["summary"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]
    slots = {event["name"]: event["value"] for event in outcome.events}
    assert slots["help_found"] is True
    assert slots["help_articles"]["shown"] == "revoke-approval"
    assert len(slots["help_articles"]["others"]) == 2
    assert recorded(library) == [("view", "revoke-approval")]


def test_an_article_on_approvals_offers_the_owner_a_check_of_their_own(
    library: HelpCenter,
) -> None:
    outcome = run_action(
        ActionHelpCenter(library, identity=IDENTITY),
        account=demo_data.ALICE,
        text="怎么取消授权",
        intent="help_center",
    )
    buttons = outcome.values("utter_help_article")["buttons"]
    assert [b["payload"] for b in buttons] == ["/affirm", "/deny", "/approval_safety"]
    assert buttons[2]["title"] == "检查和取消授权"


def test_an_article_on_impersonation_offers_to_check_a_handle_to_anyone(
    library: HelpCenter,
) -> None:
    outcome = run_action(
        ActionHelpCenter(library, identity=IDENTITY),
        text="有人冒充客服私信我怎么办",
        intent="help_center",
    )
    message = outcome.values("utter_help_article")
    assert message["buttons"][-1]["payload"] == "/verify_official"


def test_nothing_fits_the_likely_topics_are_offered_and_the_question_kept(
    library: HelpCenter,
) -> None:
    outcome = run_action(
        ActionHelpCenter(library, identity=IDENTITY), text="周末去哪里爬山好", intent="nlu_fallback"
    )
    assert outcome.responses == ["utter_clarify"]
    assert outcome.messages[0]["buttons"][-1]["payload"] == "/deny"  # 都不是
    assert outcome.events[-1]["name"] == "help_found" and outcome.events[-1]["value"] is False
    assert recorded(library) == [("unanswered", None)]


def test_an_article_picked_from_the_offer_is_shown(library: HelpCenter) -> None:
    outcome = run_action(
        ActionHelpCenter(library, identity=IDENTITY), entities=[("help_article", "swap-slippage")]
    )
    assert outcome.values("utter_help_article")["title"] == library.article("swap-slippage").title  # type: ignore[union-attr]
    state = {event["name"]: event["value"] for event in outcome.events}["help_articles"]
    assert state["more_offered"] is True


def test_the_store_down_means_the_topics_are_asked_not_a_crash(library: HelpCenter) -> None:
    library.store.engine = sa.create_engine("sqlite:////nonexistent/dir/handoff.db")
    outcome = run_action(
        ActionHelpCenter(library, identity=IDENTITY), text="怎么取消授权", intent="help_center"
    )
    assert outcome.responses == ["utter_clarify"] and outcome.events[-1]["value"] is False


def test_helpful_is_counted(library: HelpCenter, tmp_path: Path) -> None:
    action = ActionHelpFeedback(
        library, store=HandoffStore.from_url(f"sqlite:///{tmp_path / 'h.db'}")
    )
    state = {"shown": "revoke-approval", "others": ["what-is-approval"], "more_offered": False}
    outcome = run_action(action, intent="affirm", slots={"help_articles": state})
    assert outcome.responses == ["utter_help_glad"]
    assert recorded(library) == [("helpful", "revoke-approval")]


def test_not_helpful_offers_the_next_two_articles_then_a_human(
    library: HelpCenter, tmp_path: Path
) -> None:
    handoff = HandoffStore.from_url(f"sqlite:///{tmp_path / 'h.db'}")
    action = ActionHelpFeedback(library, store=handoff, identity=IDENTITY)
    state = {
        "shown": "revoke-approval",
        "others": ["what-is-approval", "approval-theft"],
        "more_offered": False,
    }
    offer = run_action(action, intent="deny", slots={"help_articles": state})
    buttons = offer.values("utter_help_more")["buttons"]
    picked = [
        json.loads(b["payload"].removeprefix("/help_center"))["help_article"] for b in buttons[:2]
    ]
    assert picked == ["what-is-approval", "approval-theft"]
    assert buttons[2]["payload"] == "/request_human"
    assert handoff.tickets.open_for(CONVERSATION) is None

    again = run_action(
        action, intent="deny", slots={"help_articles": {**state, "more_offered": True}}
    )
    assert again.responses[0] == "utter_help_to_human"
    assert again.responses[1] in {"utter_handoff_queued", "utter_handoff_after_hours"}
    assert handoff.tickets.open_for(CONVERSATION) is not None
    assert recorded(library) == [("unhelpful", "revoke-approval")] * 2
