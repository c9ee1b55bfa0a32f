"""The terms a text is searched by: jieba words and character bigrams of the normalised text.

The text is normalised as the NLU's input is (``bot.nlu.normalisation``: full-width, traditional,
Cantonese), so 「點樣加代幣」 finds what 「怎么加代币」 finds. Every synonym of ``data/lexicon.yml``
then becomes the word the articles use: a currency or chain its code (U, 泰达币 → usdt; 姨太 →
eth), a search term its Chinese word (approve, 批准 → 授权; pending, 卡住 → 等待确认), so slang and
English meet the articles' words. Words come from a private jieba instance on jieba's dictionary
cut to the wallet's words (``_search_dictionary``), the wallet dictionary and those words.
Character bigrams of the Chinese runs catch what the segmenter splits differently (「转帐」
against 「转账」 still shares 「转」 neighbours; 「授权管理」 against 「管理授权」). Bigrams carry a
prefix so a two-character word and the same bigram are counted as the separate signals they are.

A query is cut to ``MAX_QUERY_CHARS`` first: a question is never longer, and a 1,000-character
paste must not cost more than a question does.
"""

from __future__ import annotations

import io
import logging
import re
from functools import lru_cache
from pathlib import Path

import jieba

from bot.nlu.lexicon import load_lexicon
from bot.nlu.normalisation import normalise
from bot.secret_guard.chinese_text import WALLET_DICT

MAX_QUERY_CHARS = 120
JIEBA_DICT = Path(jieba.__file__).resolve().parent / "dict.txt"
BIGRAM = "~"
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,}")
_WORD = re.compile(r"[\w\u3400-\u4dbf\u4e00-\u9fff]")


def search_terms(text: str) -> list[str]:
    """The terms of ``text`` (a query or an article's fields), in order, repeats kept."""
    tokenizer, synonyms = _segmenter()
    normal = synonyms.sub(_replacement, normalise(text).text.lower())
    words = [
        word for word in (piece.strip() for piece in tokenizer.cut(normal)) if _WORD.search(word)
    ]
    bigrams = [
        BIGRAM + run[i : i + 2] for run in _HAN_RUN.findall(normal) for i in range(len(run) - 1)
    ]
    return words + bigrams


def query_terms(text: str) -> list[str]:
    """The terms of a user's question, cut to ``MAX_QUERY_CHARS``."""
    return search_terms(text[:MAX_QUERY_CHARS])


def _replacement(match: re.Match[str]) -> str:
    word = _canonical()[match.group(0)]
    return f" {word} " if word.isascii() else word


@lru_cache(maxsize=1)
def _canonical() -> dict[str, str]:
    """What users type (lowercase) -> the word the articles use."""
    lexicon = load_lexicon()
    canonical: dict[str, str] = {}
    for table in (lexicon.terms, lexicon.currencies, lexicon.chains):
        for word, typed in table.items():
            for synonym in (word, *typed):
                canonical.setdefault(synonym.lower(), word.lower())
    return canonical


@lru_cache(maxsize=1)
def _segmenter() -> tuple[jieba.Tokenizer, re.Pattern[str]]:
    # A private instance (the global one is the NLU pipeline's) on a dictionary of its own.
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = tokenizer.gen_pfdict(io.BytesIO(_search_dictionary()))
    tokenizer.initialized = True
    with WALLET_DICT.open("rb") as dictionary:
        tokenizer.load_userdict(dictionary)
    canonical = _canonical()
    for word in set(canonical.values()):
        tokenizer.add_word(word, 10_000)
    # Longest first, so 波场链 is the chain before 波场 is the coin; English only as whole words.
    alternatives = [
        rf"(?<![a-z0-9]){re.escape(typed)}(?![a-z0-9])" if typed.isascii() else re.escape(typed)
        for typed in sorted(canonical, key=len, reverse=True)
        if canonical[typed] != typed
    ]
    return tokenizer, re.compile("|".join(alternatives))


def _search_dictionary() -> bytes:
    """jieba's dictionary cut to the words the wallet's texts can hold: single characters, and
    words whose every character pair occurs in the articles, the training examples or the
    lexicon. Segmenting the wallet's words the same, it takes about 6 MB where jieba's whole
    dictionary takes 80 MB in every server; a word outside it is cut by jieba's HMM, and it is
    in no article either."""
    pairs = {
        run[i : i + 2]
        for text in _wallet_texts()
        for run in _HAN_RUN.findall(normalise(text).text)
        for i in range(len(run) - 1)
    }
    kept = []
    with JIEBA_DICT.open("rb") as dictionary:
        for line in dictionary:
            word = line.split(b" ", 1)[0].decode("utf-8")
            if len(word) == 1 or all(word[i : i + 2] in pairs for i in range(len(word) - 1)):
                kept.append(line.rstrip(b"\n"))
    return b"\n".join(kept)


def _wallet_texts() -> list[str]:
    """The texts the search's words come from: articles, training examples, lexicon."""
    # Imported here: they import this module's search_terms.
    from bot.help_center.articles import load_directory
    from bot.help_center.domain import training_examples

    wallet, off_topic = training_examples()
    articles = [
        text for a in load_directory() for text in (a.title, *a.questions, a.summary, a.body)
    ]
    return [*wallet, *off_topic, *articles, *_canonical()]
