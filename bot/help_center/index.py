"""Ranks the live articles for a question with BM25 (bm25s), and decides when none fits.

Each article is one document: its title and alternative questions (twice: they are how users
ask), its tags and its summary. The body is left out: its steps share words with every other
article and blur the ranking (measured by ``scripts/eval_help_center.py``).

An article fits when its BM25 score reaches the threshold, calibrated on
``tests/help_center/calibration.yml`` (never on the held-out set): an off-topic question shares
a word or two with some article, a question an article answers shares its key terms. Scaling the
score by the question's own weight was measured and separates the two worse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from bot.help_center.articles import Article
from bot.help_center.terms import query_terms, search_terms

# Chosen on tests/help_center/calibration.yml.
DEFAULT_THRESHOLD = 5.5
K1, B = 1.2, 0.75


@dataclass(frozen=True)
class Hit:
    """An article and its BM25 score for the question."""

    article_id: str
    score: float


class ArticleIndex:
    """A BM25 index over a fixed set of articles; built again when they change."""

    def __init__(self, articles: Sequence[Article], threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
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
        terms = [term for term in query_terms(question) if term in self._vocabulary]
        if not terms:
            return []
        scores = self._retriever.get_scores(terms)
        best = np.argsort(-scores, kind="stable")[:limit]
        return [Hit(self._ids[i], float(scores[i])) for i in best if scores[i] > 0]

    def search(self, question: str, limit: int = 3) -> list[Hit]:
        """The articles that fit, best first: none when the best one is under the threshold."""
        hits = self.ranked(question, limit)
        return hits if hits and hits[0].score >= self.threshold else []


def document_text(article: Article) -> str:
    """What an article is found by."""
    asked = "\n".join([article.title, *article.questions])
    return "\n".join([asked, asked, " ".join(article.tags), article.summary])
