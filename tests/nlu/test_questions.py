"""A question is never read as a yes or a no, however short; a no says no."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("question", ["怎么回事", "啥", "是吗？", "好吗", "咋整"])
def test_a_short_question_is_no_answer(parse: Any, question: str) -> None:
    assert parse(question)["intent"]["name"] not in {"affirm", "deny"}


@pytest.mark.parametrize(
    ("answer", "intent"), [("嗯", "affirm"), ("好的", "affirm"), ("不用了", "deny")]
)
def test_short_answers_stay_answers(parse: Any, answer: str, intent: str) -> None:
    assert parse(answer)["intent"]["name"] == intent


@pytest.mark.parametrize("question", ["怎么回事", "什么情况？", "你说啥", "啥意思啊", "怎麼辦"])
def test_a_question_with_no_topic_asks_back(parse: Any, question: str) -> None:
    assert parse(question)["intent"]["name"] == "nlu_fallback"


@pytest.mark.parametrize(
    ("question", "intent"),
    [("转账怎么回事", "transfer_pending"), ("矿工费是什么意思", "network_fee")],
)
def test_a_question_with_a_topic_is_answered(parse: Any, question: str, intent: str) -> None:
    assert parse(question)["intent"]["name"] == intent


@pytest.mark.parametrize("text", ["帮我弄一下", "你看着办吧"])
def test_a_message_that_refuses_nothing_is_no_deny(parse: Any, text: str) -> None:
    assert parse(text)["intent"]["name"] != "deny"
