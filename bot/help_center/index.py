"""Ranks the live articles for a question with BM25 (bm25s), and decides when none fits.

Each article is one document: its title and alternative questions (twice: they are how users
ask), its tags and its summary. The body is left out: its steps share words with every other
article and blur the ranking (measured by ``scripts/evaluate_help_center.py``).

The best article is served when it clears a ``Bar``: its BM25 score (a question an article
answers shares its key terms; an off-topic one a word or two) and the question's wallet-likeness
(``bot.help_center.domain``: 「微信支付密码忘了」 shares 支付密码 with an article, yet reads
off-topic). Both are calibrated on ``tests/help_center/calibration.yml``, never on the held-out
set. Scaling the score by the question's own weight was measured and separates the two worse.
"""

from __future__ import annotations

import math
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
class Hit:
    """An article and its BM25 score for the question."""

    article_id: str
    score: float


@dataclass(frozen=True)
class Judgement:
    """What the index makes of a question: its best articles, and how much it reads like a
    wallet question (``bot.help_center.domain``)."""

    hits: list[Hit]
    domain: float


@dataclass(frozen=True)
class Bar:
    """What the best article and the question must reach for the article to be served."""

    score: float  # the article's BM25 score
    domain: float  # the question's wallet-likeness

    def admits(self, judgement: Judgement) -> bool:
        hits = judgement.hits
        return bool(hits) and hits[0].score >= self.score and judgement.domain >= self.domain


# Chosen on tests/help_center/calibration.yml (scripts/evaluate_help_center.py --calibrate).
DEFAULT_BAR = Bar(score=6.0, domain=-0.4)


class ArticleIndex:
    """A BM25 index over a fixed set of articles; built again when they change."""

    def __init__(self, articles: Sequence[Article]) -> None:
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

    def search(self, question: str, limit: int = 3) -> list[Hit]:
        """The articles that fit, best first: none when the best one or the question is under
        ``DEFAULT_BAR``."""
        judgement = self.judge(question, limit)
        return judgement.hits if DEFAULT_BAR.admits(judgement) else []

    def judge(self, question: str, limit: int = 3) -> Judgement:
        """The best ``limit`` articles and the question's wallet-likeness; no article for a
        fragment (「不见了」, 「没了」: too little to choose an article by, so it is asked back)."""
        if len(_MEANINGFUL.findall(question)) < MIN_QUESTION_CHARS:
            return Judgement([], -math.inf)
        terms = query_terms(question)
        return Judgement(self._ranked(terms, limit), self._domain.score(terms))

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
