"""Rasa component that runs the spaCy wallet pipeline and emits normalised entities.

currency and chain come out as codes ("以太坊" -> "ETH"), amount as a plain decimal ("2000");
an amount written with its currency ("500U", "0.5个ETH") also yields that currency.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.language import Language
from spacy.pipeline import EntityRuler
from spacy.tokens import Span

import bot.nlu.spacy_pipeline  # noqa: F401  registers the jieba tokenizer with spaCy
from bot.nlu.amounts import format_amount, split_amount

logger = logging.getLogger(__name__)

SPACY_MODEL_KEY = "spacy_model"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class WalletEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts currency, chain and amount entities with the spaCy pipeline built in ``models/``."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {SPACY_MODEL_KEY: "models/spacy_zh"}

    @staticmethod
    def required_packages() -> list[str]:
        return ["spacy", "jieba"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrains when the spaCy pipeline on disk changes, not only when the config does."""
        root = Path({**cls.get_default_config(), **config}[SPACY_MODEL_KEY])
        digest = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        nlp: Language | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._nlp = nlp
        self._currency_codes = _currency_codes(nlp) if nlp is not None else {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> WalletEntityExtractor:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> WalletEntityExtractor:
        with model_storage.read_from(resource) as directory:
            nlp = spacy.load(directory)
        return cls(config, model_storage, resource, nlp)

    def train(self, training_data: TrainingData) -> Resource:
        """Copies the pipeline from ``models/`` into the trained model (self-contained)."""
        path = Path(self._config[SPACY_MODEL_KEY])
        if not (path / "config.cfg").is_file():
            raise FileNotFoundError(
                f"spaCy pipeline not found at {path}; build it with `make spacy-model`"
            )
        nlp = spacy.load(path)
        if "entity_ruler" not in nlp.pipe_names:
            raise ValueError(f"spaCy pipeline at {path} has no entity_ruler")
        with self._model_storage.write_to(self._resource) as directory:
            nlp.to_disk(directory)
        self._nlp = nlp
        self._currency_codes = _currency_codes(nlp)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self._nlp is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            found = self.add_extractor_name(self.extract(text))
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages

    def extract(self, text: str) -> list[dict[str, Any]]:
        """The normalised entities found in ``text``."""
        assert self._nlp is not None
        entities: list[dict[str, Any]] = []
        for span in self._nlp(text).ents:
            if span.label_ == "amount":
                entities += self._amount_entities(span)
            else:
                entities.append(_entity(span.label_, span.ent_id_, span.start_char, span.end_char))
        return entities

    def _amount_entities(self, span: Span) -> list[dict[str, Any]]:
        last = span[-1]
        currency = self._currency_codes.get(last.lower_) if len(span) > 1 else None
        number_tokens = span[:-1] if currency else span
        parsed = split_amount("".join(token.text for token in number_tokens))
        if parsed is None:
            return []
        value, rest = parsed
        found = [_entity("amount", format_amount(value), span.start_char, span.end_char)]
        if currency:
            found.append(_entity("currency", currency, last.idx, last.idx + len(last)))
        elif rest.casefold() in self._currency_codes:
            found.append(
                _entity(
                    "currency",
                    self._currency_codes[rest.casefold()],
                    span.start_char,
                    span.end_char,
                )
            )
        return found


def _currency_codes(nlp: Language) -> dict[str, str]:
    """Lower-cased currency synonym -> code, read from the entity ruler's own patterns."""
    ruler: EntityRuler = nlp.get_pipe("entity_ruler")  # type: ignore[assignment]
    return {
        str(p["pattern"]).casefold(): str(p["id"])
        for p in ruler.patterns
        if p["label"] == "currency" and isinstance(p["pattern"], str)
    }


def _entity(entity_type: str, value: str, start: int, end: int) -> dict[str, Any]:
    return {
        ENTITY_ATTRIBUTE_TYPE: entity_type,
        ENTITY_ATTRIBUTE_VALUE: value,
        ENTITY_ATTRIBUTE_START: start,
        ENTITY_ATTRIBUTE_END: end,
    }
