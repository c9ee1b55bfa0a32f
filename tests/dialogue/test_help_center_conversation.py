"""The help center in a conversation through the trained model and the real action server."""

from __future__ import annotations

from tests.support.conversation import Conversation

# Written for these tests, not taken from the articles or the evaluation sets (how well the
# classifier routes such questions is measured by scripts/evaluate_help_center.py --model).
LONG_TAIL = [
    ("跨链桥转过去一般要多久才到", "跨链"),
    ("闪兑能换哪些链上的币", "闪兑"),
]


def test_a_long_tail_question_gets_the_article_with_its_link_and_feedback(
    conversation: Conversation,
) -> None:
    question, title = LONG_TAIL[0]
    (reply,) = conversation.say(question)
    assert reply.response == "utter_help_article"
    assert title in reply.text and "/help/articles/" in reply.text
    assert [b["payload"] for b in reply.buttons] == ["/affirm", "/deny"]
    assert conversation.responses("/affirm") == ["utter_help_glad"]


def test_not_helpful_twice_reaches_a_human(conversation: Conversation) -> None:
    conversation.say(LONG_TAIL[1][0])
    (offer,) = conversation.say("/deny")
    assert offer.response == "utter_help_more"
    assert offer.buttons[-1]["payload"] == "/request_human"
    (picked,) = conversation.say(offer.buttons[0]["payload"])
    assert picked.response == "utter_help_article" and offer.buttons[0]["title"] in picked.text
    replies = conversation.responses("/deny")
    assert replies[0] == "utter_help_to_human"
    assert replies[1] in {"utter_handoff_queued", "utter_handoff_after_hours"}


def test_my_transfer_still_goes_to_the_transfer_check(conversation: Conversation) -> None:
    responses = conversation.responses("我转的U到现在还没到账")
    assert "utter_help_article" not in responses
    assert responses[0] in {"utter_transfer_pending", "utter_login_to_check"}


def test_off_topic_gets_no_article(conversation: Conversation) -> None:
    assert conversation.responses("周末去哪里爬山比较好") == ["utter_out_of_scope"]
