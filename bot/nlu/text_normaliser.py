"""Rasa components that run the NLU on normalised text and answer in terms of the user's text.

``TextNormaliser`` goes first in the pipeline: it replaces the message text by its normalised
form (``bot.nlu.normalisation``) and keeps the alignment. ``OriginalTextRestorer`` goes last: it
maps every entity's ``start``/``end`` back onto the text the user typed and puts that text back,
so the tracker and ``parse_data`` keep it. Entity values stay those read from the normalised text
(a full-width ５００Ｕ gives amount "500" and currency "USDT"). Being in the pipeline, the same
normalisation applies on every channel, in ``rasa shell``, on ``/model/parse`` and in evaluation.
"""

from __future__ import annotations

import logging

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.normalisation import Normalised, normalise
from bot.nlu.stateless import StatelessComponent

logger = logging.getLogger(__name__)

# The message attribute holding the ``Normalised`` record between the two components.
NORMALISATION = "normalisation"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class TextNormaliser(StatelessComponent):
    """Replaces a message's text by its normalised form, remembering the original."""

    @staticmethod
    def required_packages() -> list[str]:
        return ["opencc"]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Normalises the training examples, moving annotated entities with their text."""
        for example in training_data.training_examples:
            normalised = _normalised(example)
            if normalised is None:
                continue
            example.set(TEXT, normalised.text)
            for entity in example.get(ENTITIES) or []:
                start, end = normalised.normalised_span(
                    entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
                )
                entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = start, end
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            normalised = _normalised(message)
            if normalised is not None:
                message.set(TEXT, normalised.text)
                message.set(NORMALISATION, normalised)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class OriginalTextRestorer(StatelessComponent):
    """Puts the user's own text back and gives entities offsets into it."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            normalised = message.data.pop(NORMALISATION, None)
            if not isinstance(normalised, Normalised):
                continue
            for entity in message.get(ENTITIES) or []:
                start, end = normalised.original_span(
                    entity.get(ENTITY_ATTRIBUTE_START, 0), entity.get(ENTITY_ATTRIBUTE_END, 0)
                )
                entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = start, end
            message.set(TEXT, normalised.original)
        return messages


def _normalised(message: Message) -> Normalised | None:
    """The message's text normalised, or None when there is nothing to change."""
    text = message.get(TEXT)
    if not isinstance(text, str) or not text:
        return None
    normalised = normalise(text)
    if normalised.text == text or not normalised.text:
        return None
    return normalised
