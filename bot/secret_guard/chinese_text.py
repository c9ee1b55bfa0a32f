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
    # A private instance: the global one is the NLU pipeline's; loading takes about a second.
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(WALLET_DICT))
    return tokenizer


def log_probability_per_character(text: str) -> float:
    """The natural log-probability of jieba's best segmentation of ``text``, per character."""
    if not text:
        return 0.0
    tokenizer = _tokenizer()
    route: dict[int, tuple[float, int]] = {}
    tokenizer.calc(text, tokenizer.get_DAG(text), route)
    return route[0][0] / len(text)
