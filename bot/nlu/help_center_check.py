"""Rasa component: ``help_center`` only when an article could answer the question.

The classifier learns ``help_center`` from the articles' questions, so an off-topic question that
shares their words (another wallet's approvals, a bank card's limit) can score it. Before the
fallback, this component searches the articles shipped in ``data/help_center/`` with the help
center's own bar (``bot.help_center.index``); when none fits, the intent's confidence becomes 0
and the fallback after it asks back with the likely topics, as for any question the classifier
cannot place. Every other intent is left alone.

Giving ``help_center`` to a question the classifier put under an FAQ topic when an article
answered it clearly was measured: it answered a few more long-tail calibration questions and
cost more of the topics' own questions, so it is not done.

The articles are read when the component is first used: it checks that the question is one for
the help center, while the answer comes from the live articles the leads edit
(``bot.help_center.library``).
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.help_center.articles import load_directory
from bot.help_center.index import ArticleIndex
from bot.help_center.routing import HELP_CENTER_INTENT
from bot.nlu.stateless import StatelessComponent


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class HelpCenterCheck(StatelessComponent):
    """Takes the confidence from ``help_center`` when no article fits the question."""

    def __init__(self) -> None:
        self._index: ArticleIndex | None = None

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) != HELP_CENTER_INTENT:
                continue
            if not self._articles().search(message.get(TEXT) or ""):
                message.set(INTENT, {**intent, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
        return messages

    def _articles(self) -> ArticleIndex:
        if self._index is None:
            self._index = ArticleIndex(load_directory())
        return self._index
