"""Rasa component that recognises a message whose secret the channel intake hid.

The intake (``bot.channels.intake``) replaces a mnemonic, key, password or code by a marker such
as ``[已隐藏的助记词]``. Whatever else the message says, the assistant must first warn the user,
so a marker sets the intent ``share_secret`` with full confidence and the ``secret_kind`` entity
(the most severe kind), overriding the classifier and the fallback.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.stateless import StatelessComponent
from bot.secret_guard import marker_kinds

SHARE_SECRET = "share_secret"
SECRET_KIND = "secret_kind"


@DefaultV1Recipe.register(
    [
        DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER,
        DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR,
    ],
    is_trainable=False,
)
class SecretMarkerClassifier(StatelessComponent, EntityExtractorMixin):
    """Sets ``share_secret`` and ``secret_kind`` for a message carrying a secret marker."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            kinds = marker_kinds(message.get(TEXT) or "")
            if not kinds:
                continue
            intent = {INTENT_NAME_KEY: SHARE_SECRET, PREDICTED_CONFIDENCE_KEY: 1.0}
            ranking = [
                entry
                for entry in message.get(INTENT_RANKING_KEY) or []
                if entry.get(INTENT_NAME_KEY) != SHARE_SECRET
            ]
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [intent, *ranking], add_to_output=True)
            entity = {
                ENTITY_ATTRIBUTE_TYPE: SECRET_KIND,
                ENTITY_ATTRIBUTE_VALUE: kinds[0].value,
                ENTITY_ATTRIBUTE_START: 0,
                ENTITY_ATTRIBUTE_END: 0,
            }
            entities = [e for e in message.get(ENTITIES) or [] if e.get("entity") != SECRET_KIND]
            message.set(
                ENTITIES, [*entities, self.add_extractor_name([entity])[0]], add_to_output=True
            )
        return messages
