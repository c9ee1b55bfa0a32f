"""Rasa featurizer: character n-grams of each token's toneless pinyin.

Homophones typed by mistake (转帐 for 转账, 助计词 for 助记词) and messages typed in pinyin
("zhuanzhang meidaozhang") share these features with the words the NLU was trained on: every
jieba token becomes its pinyin (pypinyin, no tones), Latin text stays as typed, lower-cased. The
counting, the vocabulary and its persistence with the model are Rasa's CountVectorsFeaturizer's;
only the text it counts differs, and only the message text is featurized.

Only sentence features are made, the message's n-grams counted straight from the vocabulary:
the classifier reads nothing else, and sklearn's two ``transform`` calls plus the per-token
matrix cost about 0.5 ms a message. A sequence model (DIET, CRF) would need the per-token
features back.

The readings travel with the model: training asks pypinyin for the pinyin of every trained token
(its phrase dictionary reads 银行 as yinhang) and of every single character, and stores both;
a served message is read from that table, a token never trained on character by character.
Importing pypinyin loads its phrase dictionary, about 50 MB in each server, for words the
model never saw; the servers therefore never import it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

READINGS_FILE = "pinyin_readings.json"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class PinyinFeaturizer(CountVectorsFeaturizer):
    """CountVectorsFeaturizer over the pinyin of the message's tokens."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **CountVectorsFeaturizer.get_default_config(),
            "analyzer": "char_wb",
            "min_ngram": 2,
            "max_ngram": 4,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["pypinyin", *CountVectorsFeaturizer.required_packages()]

    @staticmethod
    def _attributes_for(analyzer: str) -> list[str]:
        return [TEXT]

    def _create_features(
        self, attribute: str, all_tokens: list[list[str]]
    ) -> tuple[list[scipy.sparse.spmatrix | None], list[scipy.sparse.spmatrix | None]]:
        """Sentence counts only, looked up directly in the vocabulary (``char_wb`` only)."""
        vectorizer = self.vectorizers.get(attribute)
        if vectorizer is None or self.analyzer != "char_wb":
            return super()._create_features(attribute, all_tokens)
        analyze = vectorizer.build_analyzer()
        vocabulary = vectorizer.vocabulary_
        sentences: list[scipy.sparse.spmatrix | None] = []
        for tokens in all_tokens:
            counts = Counter(
                vocabulary[gram] for gram in analyze(" ".join(tokens)) if gram in vocabulary
            )
            columns = np.fromiter(sorted(counts), dtype=np.int32, count=len(counts))
            values = np.fromiter((counts[c] for c in columns), dtype=np.int64, count=len(counts))
            sentences.append(
                scipy.sparse.coo_matrix(
                    (values, (np.zeros(len(columns), dtype=np.int32), columns)),
                    shape=(1, len(vocabulary)),
                )
                if tokens
                else None
            )
        return [None] * len(all_tokens), sentences

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.readings: dict[str, str] = {}  # token or character -> toneless pinyin

    def train(self, training_data: TrainingData, model: Any = None) -> Resource:
        tokens_of = super()._get_message_tokens_by_attribute
        self.readings = trained_readings(
            token
            for message in training_data.training_examples
            for token in tokens_of(message, TEXT)
        )
        return super().train(training_data, model)

    def persist(self) -> None:
        super().persist()
        if self.readings:
            with self._model_storage.write_to(self._resource) as model_dir:
                (model_dir / READINGS_FILE).write_text(
                    json.dumps(self.readings, ensure_ascii=False), encoding="utf-8"
                )

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> PinyinFeaturizer:
        featurizer = super().load(config, model_storage, resource, execution_context, **kwargs)
        assert isinstance(featurizer, PinyinFeaturizer)
        try:
            with model_storage.read_from(resource) as model_dir:
                path = model_dir / READINGS_FILE
                if path.exists():
                    featurizer.readings = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:  # no resource: an untrained featurizer, as Rasa's load makes it
            pass
        return featurizer

    def _get_message_tokens_by_attribute(self, message: Message, attribute: str) -> list[str]:
        return [
            self.to_pinyin(token)
            for token in super()._get_message_tokens_by_attribute(message, attribute)
        ]

    def to_pinyin(self, token: str) -> str:
        """The token's toneless pinyin, other characters kept, lower-cased."""
        reading = self.readings.get(token)
        if reading is None:
            reading = "".join(self.readings.get(character, character) for character in token)
        return reading.lower()


def trained_readings(tokens: Iterable[str]) -> dict[str, str]:
    """Toneless pinyin of every character pypinyin knows and of the trained tokens with one."""
    from pypinyin.pinyin_dict import pinyin_dict

    readings = {chr(point): toneless_pinyin(chr(point)) for point in pinyin_dict}
    for token in tokens:
        if len(token) > 1 and token not in readings:
            reading = toneless_pinyin(token)
            if reading != token:
                readings[token] = reading
    return readings


def toneless_pinyin(text: str) -> str:
    """pypinyin's reading of ``text`` without tones (its phrase dictionary decides heteronyms:
    银行 is yinhang); other characters are kept. Training only: importing pypinyin loads that
    dictionary."""
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(text, style=Style.NORMAL, errors="default"))
