"""The second signal: how much a question reads like a wallet question rather than an off-topic one.

BM25 alone cannot tell 「微信支付密码忘了怎么改」 from a wallet question: it shares 支付密码 and
忘了 with an article. A naive Bayes ratio over the same terms can: each term's frequency in
wallet text (the articles and the assistant's in-scope training examples) against its frequency
in off-topic text (the ``out_of_scope`` training examples), averaged over the question's terms.
Above 0 a question reads more like the wallet's texts. Both sides are the project's own data,
never an evaluation set; it costs a dictionary lookup per term.

No maintained library fits: scikit-learn's MultinomialNB wants a vectoriser and a fit per edit
for what is two counters and a logarithm.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.help_center.articles import Article
from bot.help_center.terms import search_terms

NLU_DIR = Path(__file__).resolve().parents[2] / "data" / "nlu"
OFF_TOPIC_INTENT = "out_of_scope"
# Neither side: small talk, and files that hold no questions.
SKIPPED_FILES = {"chitchat.yml", "regex.yml", "bare_number.yml"}
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
SMOOTHING = 0.5


class DomainModel:
    """Per-term log ratios of wallet text against off-topic text."""

    def __init__(self, wallet: Frequencies, off_topic: Frequencies) -> None:
        self._wallet = wallet
        self._off_topic = off_topic

    @classmethod
    def for_articles(cls, articles: Iterable[Article]) -> DomainModel:
        """Wallet text: the articles and the in-scope examples; off-topic: ``out_of_scope``'s."""
        wallet, off_topic = _example_frequencies()
        texts = [text for a in articles for text in (a.title, *a.questions, a.summary, a.body)]
        return cls(wallet.plus(Frequencies.of(texts)), off_topic)

    def score(self, terms: Iterable[str]) -> float:
        """The mean log ratio over the distinct terms; very negative for no terms."""
        distinct = set(terms)
        if not distinct:
            return -math.inf
        return sum(self._ratio(term) for term in distinct) / len(distinct)

    def _ratio(self, term: str) -> float:
        wallet = (self._wallet.counts[term] + SMOOTHING) / (self._wallet.documents + 1)
        off_topic = (self._off_topic.counts[term] + SMOOTHING) / (self._off_topic.documents + 1)
        return math.log(wallet / off_topic)


@dataclass(frozen=True)
class Frequencies:
    """In how many texts each term occurs, and of how many texts."""

    counts: Counter[str]
    documents: int

    @classmethod
    def of(cls, texts: Iterable[str]) -> Frequencies:
        counts: Counter[str] = Counter()
        documents = 0
        for text in texts:
            counts.update(set(search_terms(text)))
            documents += 1
        return cls(counts, documents)

    def plus(self, other: Frequencies) -> Frequencies:
        return Frequencies(self.counts + other.counts, self.documents + other.documents)


@lru_cache(maxsize=1)
def _example_frequencies() -> tuple[Frequencies, Frequencies]:
    wallet, off_topic = training_examples()
    return Frequencies.of(wallet), Frequencies.of(off_topic)


@lru_cache(maxsize=1)
def training_examples() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The assistant's in-scope examples and its off-topic ones, from ``data/nlu/``."""
    wallet: list[str] = []
    off_topic: list[str] = []
    for path in sorted(NLU_DIR.glob("*.yml")):
        if path.name in SKIPPED_FILES:
            continue
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" not in item:
                continue
            examples = [
                _ANNOTATION.sub(r"\1", line[2:].strip())
                for line in str(item.get("examples", "")).splitlines()
                if line.startswith("- ")
            ]
            (off_topic if item["intent"] == OFF_TOPIC_INTENT else wallet).extend(examples)
    return tuple(wallet), tuple(off_topic)
