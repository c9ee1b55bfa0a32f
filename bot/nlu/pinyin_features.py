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
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse
from pypinyin import Style, lazy_pinyin
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message


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

    def _get_message_tokens_by_attribute(self, message: Message, attribute: str) -> list[str]:
        return [
            to_pinyin(token)
            for token in super()._get_message_tokens_by_attribute(message, attribute)
        ]


@lru_cache(maxsize=65536)
def to_pinyin(token: str) -> str:
    """The toneless pinyin of a token's Chinese characters, other characters kept, lower-cased."""
    return "".join(lazy_pinyin(token, style=Style.NORMAL, errors="default")).lower()
