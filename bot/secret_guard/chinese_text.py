"""How much a string of Chinese characters reads like Chinese, by jieba's word frequencies.

Almost every common character is a BIP39 word, so a sentence can pass a mnemonic's checksum. A
sentence is made of frequent words; a random mnemonic mostly of rare single characters.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import jieba

WALLET_DICT = Path(__file__).resolve().parents[2] / "data" / "jieba" / "wallet_dict.txt"


@lru_cache(maxsize=1)
def _tokenizer() -> jieba.Tokenizer:
    """jieba's global instance with the wallet dictionary: the one the NLU pipeline's
    JiebaTokenizer fills from ``data/jieba/`` when a model loads, so a Rasa server holds jieba's
    80 MB dictionary once rather than twice. A process without the pipeline loads the wallet
    words here; with it, they are all there at their frequencies already and are left alone."""
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.dt
    tokenizer.check_initialized()
    if any(tokenizer.FREQ.get(word) != frequency for word, frequency in _wallet_words()):
        with WALLET_DICT.open("rb") as dictionary:
            tokenizer.load_userdict(dictionary)
    return tokenizer


def _wallet_words() -> list[tuple[str, int]]:
    words = []
    for line in WALLET_DICT.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            words.append((parts[0], int(parts[1])))
    return words


def log_probability_per_character(text: str) -> float:
    """The natural log-probability of jieba's best segmentation of ``text``, per character."""
    if not text:
        return 0.0
    tokenizer = _tokenizer()
    route: dict[int, tuple[float, int]] = {}
    tokenizer.calc(text, tokenizer.get_DAG(text), route)
    return route[0][0] / len(text)
