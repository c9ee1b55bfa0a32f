"""Ranks the live articles for a question with BM25 (bm25s), and decides when none fits.

Each article is one document: its title and alternative questions (twice: they are how users
ask), its tags and its summary. The body is left out: its steps share words with every other
article and blur the ranking (measured by ``scripts/eval_help_center.py``).

The best article is served when it clears a ``Bar``: its BM25 score (a question an article
answers shares its key terms; an off-topic one a word or two) and the question's wallet-likeness
(``bot.help_center.domain``: 「微信支付密码忘了」 shares 支付密码 with an article, yet reads
off-topic). Both are calibrated on ``tests/help_center/calibration.yml``, never on the held-out
set. Scaling the score by the question's own weight was measured and separates the two worse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from bot.help_center.articles import Article
from bot.help_center.domain import DomainModel
from bot.help_center.terms import query_terms, search_terms

K1, B = 1.2, 0.75
# A question shorter than this (letters, digits and Chinese characters) names nothing an article
# could be chosen by.
MIN_QUESTION_CHARS = 4
_MEANINGFUL = re.compile(r"[0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass(frozen=True)
class Bar:
    """What the best article and the question must reach for the article to be served."""

    score: float  # the article's BM25 score
    domain: float  # the question's wallet-likeness (bot.help_center.domain)


# Chosen on tests/help_center/calibration.yml (scripts/evaluate_help_center.py --calibrate).
DEFAULT_BAR = Bar(score=6.0, domain=-0.4)


@dataclass(frozen=True)
class Hit:
    """An article and its BM25 score for the question."""

    article_id: str
    score: float


class ArticleIndex:
    """A BM25 index over a fixed set of articles; built again when they change."""

    def __init__(self, articles: Sequence[Article], bar: Bar = DEFAULT_BAR) -> None:
        self.bar = bar
        self._domain = DomainModel.for_articles(articles)
        self._ids = [article.article_id for article in articles]
        self._retriever = bm25s.BM25(k1=K1, b=B)
        self._vocabulary: set[str] = set()
        if articles:
            corpus = [search_terms(document_text(article)) for article in articles]
            self._retriever.index(corpus, show_progress=False)
            self._vocabulary = {term for document in corpus for term in document}

    def __len__(self) -> int:
        return len(self._ids)

    def ranked(self, question: str, limit: int = 3) -> list[Hit]:
        """The best ``limit`` articles for ``question``, best first, whether they fit or not."""
        return self._ranked(query_terms(question), limit)

    def search(self, question: str, limit: int = 3, bar: Bar | None = None) -> list[Hit]:
        """The articles that fit, best first: none when the best one or the question is under
        the bar (``bar``, else the index's)."""
        needed = bar or self.bar
        if len(_MEANINGFUL.findall(question)) < MIN_QUESTION_CHARS:
            return []  # 「不见了」, 「没了」: too little to choose an article by; ask back
        terms = query_terms(question)
        hits = self._ranked(terms, limit)
        if not hits or hits[0].score < needed.score:
            return []
        return hits if self._domain.score(terms) >= needed.domain else []

    def domain(self, question: str) -> float:
        """How much ``question`` reads like a wallet question (above 0: more than off-topic)."""
        return self._domain.score(query_terms(question))

    def _ranked(self, question_terms: list[str], limit: int) -> list[Hit]:
        terms = [term for term in question_terms if term in self._vocabulary]
        if not terms:
            return []
        scores = self._retriever.get_scores(terms)
        best = np.argsort(-scores, kind="stable")[:limit]
        return [Hit(self._ids[i], float(scores[i])) for i in best if scores[i] > 0]


def document_text(article: Article) -> str:
    """What an article is found by."""
    asked = "\n".join([article.title, *article.questions])
    return "\n".join([asked, asked, " ".join(article.tags), article.summary])
