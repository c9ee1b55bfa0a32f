"""help_center survives the NLU only when an article could answer the question."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.help_center_check import HelpCenterCheck


@pytest.fixture(scope="module")
def check() -> HelpCenterCheck:
    return HelpCenterCheck()


def confidence_after(check: HelpCenterCheck, text: str, intent: str) -> float:
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.8}})
    (checked,) = check.process([message])
    return float(checked.get("intent")["confidence"])


def test_a_question_an_article_answers_keeps_help_center(check: HelpCenterCheck) -> None:
    assert confidence_after(check, "之前给dapp的授权怎么取消", "help_center") == 0.8


def test_help_center_without_an_article_goes_to_the_fallback(check: HelpCenterCheck) -> None:
    assert confidence_after(check, "周末去哪里爬山比较好", "help_center") == 0.0


def test_other_intents_are_left_alone(check: HelpCenterCheck) -> None:
    assert confidence_after(check, "微信支付密码忘了怎么改", "out_of_scope") == 0.8
