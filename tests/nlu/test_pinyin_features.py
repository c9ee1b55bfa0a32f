"""The pinyin featurizer: homophones and pinyin typing share features with the trained words."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.pinyin_features import PinyinFeaturizer

TRAINED = ["转账没到账", "手续费太贵了", "助记词怎么备份", "忘记密码怎么办", "你好"]


@pytest.fixture
def trained(tmp_path: Path) -> tuple[JiebaTokenizer, PinyinFeaturizer]:
    """A tokenizer and the featurizer trained on a few messages, loaded back from storage."""
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    tokenizer = JiebaTokenizer.create(
        {**JiebaTokenizer.get_default_config(), "dictionary_path": "data/jieba"},
        storage,
        Resource("tokenizer"),
        context,
    )
    featurizer = PinyinFeaturizer.create(
        PinyinFeaturizer.get_default_config(), storage, Resource("pinyin"), context
    )
    data = TrainingData([Message(data={TEXT: text, "intent": "x"}) for text in TRAINED])
    tokenizer.process_training_data(data)
    resource = featurizer.train(data)
    loaded = PinyinFeaturizer.load(
        PinyinFeaturizer.get_default_config(), storage, resource, context
    )
    assert isinstance(loaded, PinyinFeaturizer)
    return tokenizer, loaded


@pytest.fixture
def featurize(trained: tuple[JiebaTokenizer, PinyinFeaturizer]) -> Any:
    """Message -> the columns of its sentence features."""
    tokenizer, loaded = trained

    def ngrams(text: str) -> set[int]:
        message = Message(data={TEXT: text})
        tokenizer.process([message])
        loaded.process([message])
        _, sentence = message.get_sparse_features(TEXT)
        assert sentence is not None
        return set(sentence.features.tocsr().indices)

    return ngrams


def overlap(a: set[int], b: set[int]) -> float:
    """Jaccard similarity of two n-gram sets."""
    return len(a & b) / max(1, len(a | b))


def test_a_homophone_typo_has_the_same_features_as_the_word(featurize: Any) -> None:
    # jieba may cut the misspelt text elsewhere; the pinyin n-grams are nearly all the same.
    assert overlap(featurize("转帐没到帐"), featurize("转账没到账")) > 0.8
    assert overlap(featurize("助计词怎么备份"), featurize("助记词怎么备份")) > 0.8


def test_a_message_typed_in_pinyin_shares_features_with_its_chinese(featurize: Any) -> None:
    typed = featurize("zhuanzhang meidaozhang")
    chinese = featurize("转账没到账")
    unrelated = featurize("手续费太贵了")
    assert overlap(typed, chinese) > 0.5
    assert overlap(typed, unrelated) < overlap(typed, chinese) / 3


def test_the_vocabulary_is_persisted_with_the_model(featurize: Any) -> None:
    # ``featurize`` uses the featurizer loaded back from the model storage.
    assert featurize("zhuanzhang")


@pytest.mark.parametrize(
    "text", ["我转帐了 500U 还没到账！", "zhuanzhang meidaozhang", "USDT TRC20"]
)
def test_sentence_counts_are_those_of_the_whole_text(
    trained: tuple[JiebaTokenizer, PinyinFeaturizer], text: str
) -> None:
    tokenizer, featurizer = trained
    message = Message(data={TEXT: text})
    tokenizer.process([message])
    tokens = featurizer._get_processed_message_tokens_by_attribute(message, TEXT)
    ours = featurizer._create_features(TEXT, [tokens])
    rasas = CountVectorsFeaturizer._create_features(featurizer, TEXT, [tokens])
    assert ours[0] == [None]  # no per-token features: the classifier reads sentences only
    assert (ours[1][0].toarray() == rasas[1][0].toarray()).all()


def test_a_trained_word_keeps_its_phrase_reading_and_a_new_one_is_read_by_character(
    trained: tuple[JiebaTokenizer, PinyinFeaturizer],
) -> None:
    _, featurizer = trained
    assert featurizer.to_pinyin("助记词") == "zhujici"
    assert featurizer.to_pinyin("转帐") == "zhuanzhang"  # never trained: character by character
    assert featurizer.to_pinyin("USDT") == "usdt"


def test_a_server_reads_pinyin_without_loading_pypinyin(
    trained: tuple[JiebaTokenizer, PinyinFeaturizer], tmp_path: Path
) -> None:
    # pypinyin's phrase dictionary costs about 50 MB in every server: the model carries the
    # readings it needs instead. A fresh process loads the featurizer trained above.
    script = f"""
import sys
from pathlib import Path
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from bot.nlu.pinyin_features import PinyinFeaturizer

featurizer = PinyinFeaturizer.load(
    PinyinFeaturizer.get_default_config(),
    LocalModelStorage(Path({str(tmp_path)!r})),
    Resource("pinyin"),
    ExecutionContext(GraphSchema({{}}), "test"),
)
print(featurizer.to_pinyin("助记词"), featurizer.to_pinyin("转帐"), "pypinyin" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.split()[-3:] == ["zhujici", "zhuanzhang", "False"]
