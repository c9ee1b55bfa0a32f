"""Rasa component: a question is never a yes or a no, a no says no, and a question with no topic
asks back.

Short answers (嗯, 好的, 不是) are short, so the classifier leans towards affirm and deny for any
short message it knows little about, questions included (怎么回事, 啥, 是吗). A message with a
question word or mark cannot answer the assistant's question, so affirm and deny are taken out
of its ranking and the next intent stands; the fallback after this component then decides,
usually asking back with the likely topics.

A no says no: every way users decline (不, 没, 别, 算了, 取消, 撤销, 免了, 唔, 冇, no, buyao,
8用, 木有) has a word of refusal, so a message without one (帮我弄一下) is no deny either,
whatever its length makes the classifier lean to: deny leaves its ranking the same way.

A question made only of question words (怎么回事, 什么情况, 啥意思, 你说啥, 怎么办) names nothing to
answer: its top intent's confidence becomes 0, so the fallback asks back with the likely topics
instead of the classifier guessing one (or calling it off-topic). Runs on the normalised text,
before the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.stateless import StatelessComponent

ANSWERS = frozenset({"affirm", "deny"})
# 呢 is left out: 嗯呢 and 好的呢 are yeses.
QUESTION = re.compile(r"怎么|什么|为什么|为啥|啥|咋|如何|哪|吗|[?？]")
DENY = "deny"
REFUSAL = re.compile(
    r"不|没|别|算|取消|撤销|否|免|拉倒|甭|错|非|未|罢|休|唔|冇|木有|8用|"
    r"\b(?:no|nope|nah|not|n|bie|mei(?:you)?|bu(?:yao|shi|yong|xing)?)\b",
    re.IGNORECASE,
)
TOPICLESS = re.compile(
    r"(你|这|那|这是|那是|到底)?(说)?"
    r"(怎么回事|怎么了|怎么办|什么情况|什么意思|什么鬼|啥情况|啥意思|咋回事|咋了|咋办|然后呢|"
    r"为什么|为啥|什么|啥)"
    r"[啊呀呢嘛哦了吖]*[\s?？!！。.…~～]*"
)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class QuestionIsNoAnswer(StatelessComponent):
    """Drops affirm and deny from the ranking of a message that asks something, and deny from one
    that refuses nothing; a question with no topic goes to the fallback."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            text = (message.get(TEXT) or "").strip()
            if TOPICLESS.fullmatch(text) and intent.get(INTENT_NAME_KEY):
                message.set(INTENT, {**intent, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
                continue
            name = intent.get(INTENT_NAME_KEY)
            if name in ANSWERS and QUESTION.search(text):
                _drop(message, ANSWERS)
            elif name == DENY and not REFUSAL.search(text):
                _drop(message, {DENY})
        return messages


def _drop(message: Message, intents: Collection[str]) -> None:
    """Takes ``intents`` out of the message's ranking; the next intent stands."""
    ranking = [
        entry
        for entry in message.get(INTENT_RANKING_KEY) or []
        if entry.get(INTENT_NAME_KEY) not in intents
    ]
    best = ranking[0] if ranking else {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}
    message.set(INTENT, best, add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
