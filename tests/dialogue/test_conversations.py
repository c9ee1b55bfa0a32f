"""Conversations through the trained model and the real action server, as a user sees them."""

from __future__ import annotations

import re

import pytest

from bot.dialogue.clarify import load_intent_labels
from tests.support.conversation import Conversation

# Phrasings written for these tests, not taken from the training data. Without a proven
# identity, account questions get general guidance and how to log in.
ACCOUNT_QUESTIONS = [
    ("登录密码想不起来了咋整", ["utter_password_reset"]),
    ("从火币提的U到现在都没到", ["utter_transfer_pending", "utter_login_to_check"]),
    ("怎么让我的钱包更安全一点", ["utter_account_security", "utter_login_for_checkup"]),
    ("钱包里的币全被人转走了", ["utter_account_compromised", "utter_login_to_freeze"]),
    ("我要投诉你们，太坑了", ["utter_complaint", "utter_ask_complaint_category"]),
    # Nothing proves this conversation is the asker's (no channel vouches for it here).
    ("我的投诉处理得怎么样了", ["utter_ticket_status_not_owner"]),
]
FAQ = [
    ("建议加个深色模式", "utter_feedback"),
    ("你们客服电话是多少", "utter_contact_channels"),
    ("人工客服几点上班", "utter_service_hours"),
    ("怎么用银行卡买USDT", "utter_deposit_withdraw"),
    ("矿工费为什么这么贵", "utter_network_fee"),
    ("新用户怎么注册", "utter_create_wallet"),
    ("换新手机了怎么导入钱包", "utter_mnemonic_backup"),
    ("支持SOL吗", "utter_supported_coins"),
    ("你好", "utter_greet"),
    ("再见", "utter_goodbye"),
    ("谢谢你", "utter_you_are_welcome"),
    ("你是机器人吗", "utter_bot_challenge"),
    ("今天天气怎么样", "utter_out_of_scope"),
    ("比特币明天会涨吗", "utter_out_of_scope"),
]

# Vague messages that give the classifier nothing to hold on to.
UNCLEAR = ["怎么回事", "啥意思"]


@pytest.mark.parametrize(("text", "responses"), ACCOUNT_QUESTIONS)
def test_account_questions_without_identity_get_general_help(
    conversation: Conversation, text: str, responses: list[str]
) -> None:
    assert conversation.responses(text) == responses


@pytest.mark.parametrize(("text", "response"), FAQ)
def test_each_question_gets_its_answer(
    conversation: Conversation, text: str, response: str
) -> None:
    assert conversation.responses(text) == [response]


def test_agent_hours_from_configuration_are_quoted(conversation: Conversation) -> None:
    (reply,) = conversation.say("人工客服几点上班")
    assert "09:00–21:00" in reply.text
    assert "UTC+8" in reply.text
    assert "{" not in reply.text


def test_first_fallback_offers_likely_topics_as_chinese_buttons(conversation: Conversation) -> None:
    replies = conversation.say(UNCLEAR[0])
    assert conversation.last_intent() == "nlu_fallback"
    assert [r.response for r in replies] == ["utter_clarify"]
    labels = load_intent_labels()
    titles = [b["title"] for b in replies[0].buttons]
    assert titles[-1] == labels.none_of_these
    assert 1 <= len(titles) - 1 <= 3
    assert set(titles[:-1]) <= set(labels.titles.values())
    payloads = [b["payload"] for b in replies[0].buttons]
    assert all(p.startswith("/") for p in payloads)


def test_clicking_an_offered_topic_answers_it(conversation: Conversation) -> None:
    conversation.say(UNCLEAR[0])
    assert conversation.responses("/network_fee") == ["utter_network_fee"]


def test_second_fallback_in_a_row_hands_off_to_a_human(conversation: Conversation) -> None:
    assert conversation.responses(UNCLEAR[0]) == ["utter_clarify"]
    replies = conversation.say(UNCLEAR[1])
    assert conversation.last_intent() == "nlu_fallback"
    assert [r.response for r in replies] == ["utter_handoff_queued"]
    # Other tests of the session queue tickets in the same store: any place in the queue.
    assert "人工客服" in replies[0].text and re.search(r"第 \d+ 位", replies[0].text)
    # A human owns the conversation now: the bot stays silent.
    assert conversation.say("还在吗") == []


def test_none_of_these_hands_off_to_a_human(conversation: Conversation) -> None:
    conversation.say(UNCLEAR[0])
    assert conversation.responses("/deny") == ["utter_handoff_queued"]


def test_asking_for_a_human_hands_off(conversation: Conversation) -> None:
    assert conversation.responses("帮我转人工") == ["utter_handoff_queued"]
    assert conversation.tracker().is_paused()


def test_a_plain_yes_to_the_offered_topics_asks_to_pick_one(conversation: Conversation) -> None:
    conversation.say(UNCLEAR[0])
    assert conversation.responses("是的") == ["utter_clarify_pick"]
