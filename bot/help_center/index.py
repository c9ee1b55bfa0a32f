"""Ranks the live articles for a question with BM25 (bm25s), and decides when none fits.

Each article is one document: its title and alternative questions (twice: they are how users
ask), its tags and its summary. The body is left out: its steps share words with every other
article and blur the ranking (measured by ``scripts/eval_help_center.py``).

A BM25 score grows with the length of the question, so the decision "an article fits" is made
on the share of the question the best article covers: its score over the score a document
holding every term of the question would get (the sum of the terms' best possible scores). The
threshold is calibrated on ``tests/help_center/calibration.yml``, never on the held-out set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from bot.help_center.articles import Article
from bot.help_center.terms import query_terms, search_terms

# Chosen on tests/help_center/calibration.yml.
DEFAULT_THRESHOLD = 0.35
K1, B = 1.2, 0.75


@dataclass(frozen=True)
class Hit:
    """An article and how much of the question it covers (0–1)."""

    article_id: str
    score: float


class ArticleIndex:
    """A BM25 index over a fixed set of articles; built again when they change."""

    def __init__(self, articles: Sequence[Article], threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._ids = [article.article_id for article in articles]
        self._retriever = bm25s.BM25(k1=K1, b=B)
        self._idf: dict[str, float] = {}
        self._unseen = float(np.log(1 + (len(articles) + 0.5) / 0.5))
        if articles:
            corpus = [search_terms(document_text(article)) for article in articles]
            self._retriever.index(corpus, show_progress=False)
            self._idf = _idf(corpus)

    def __len__(self) -> int:
        return len(self._ids)

    def ranked(self, question: str, limit: int = 3) -> list[Hit]:
        """The best ``limit`` articles for ``question``, best first, whether they fit or not."""
        terms = query_terms(question)
        known = [term for term in terms if term in self._idf]
        if not known:
            return []
        scores = self._retriever.get_scores(known)
        # A term no article has weighs as much as the rarest: the question is about something else.
        ceiling = sum(self._idf.get(term, self._unseen) * (K1 + 1) for term in terms)
        best = np.argsort(-scores, kind="stable")[:limit]
        return [Hit(self._ids[i], float(scores[i]) / ceiling) for i in best if scores[i] > 0]

    def search(self, question: str, limit: int = 3) -> list[Hit]:
        """The articles that fit, best first: none when the best one is under the threshold."""
        hits = self.ranked(question, limit)
        return hits if hits and hits[0].score >= self.threshold else []


def document_text(article: Article) -> str:
    """What an article is found by."""
    asked = "\n".join([article.title, *article.questions])
    return "\n".join([asked, asked, " ".join(article.tags), article.summary])


def _idf(corpus: Sequence[Sequence[str]]) -> dict[str, float]:
    """Each term's inverse document frequency, as bm25s's default (Lucene) variant counts it."""
    count = len(corpus)
    frequency: dict[str, int] = {}
    for document in corpus:
        for term in set(document):
            frequency[term] = frequency.get(term, 0) + 1
    return {term: float(np.log(1 + (count - n + 0.5) / (n + 0.5))) for term, n in frequency.items()}
