"""The articles one server answers from: the store's live articles, indexed, kept current.

Each server (the action server answering users, the Rasa server suggesting articles to agents)
holds one ``HelpCenter``. Before a search it asks the store whether anything was saved since it
built its index, at most once per ``refresh_seconds``, and rebuilds only then: an edit in the
console is answered by every server within that interval, with no training and no restart.

A store without a single article (a new installation) is filled from ``data/help_center/`` the
first time it is read, so ``make run`` answers from the articles in git; after that, the files
change the store only through ``make kb-import``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bot.help_center.articles import ARTICLES_DIR, Article, load_directory
from bot.help_center.index import ArticleIndex
from bot.help_center.store import ArticleStore

logger = logging.getLogger(__name__)

SEED_AUTHOR = "data/help_center"


@dataclass(frozen=True)
class _Live:
    """The live articles and their index, replaced together when an article is saved."""

    index: ArticleIndex
    articles: dict[str, Article]

    def pick(self, article_ids: Iterable[str]) -> list[Article]:
        return [self.articles[i] for i in article_ids if i in self.articles]


class HelpCenter:
    """Searches the live articles, rebuilding its index when the store's stamp moves."""

    def __init__(
        self,
        store: ArticleStore,
        refresh_seconds: float,
        seed: Path | None = ARTICLES_DIR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._refresh_seconds = refresh_seconds
        self._seed = seed
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._stamp = -1
        self._live = _Live(ArticleIndex([]), {})

    def load(self) -> int:
        """Builds the index now rather than at the first question (a server's start); returns
        the number of live articles."""
        return len(self._current().articles)

    def find(self, question: str, limit: int = 3) -> list[Article]:
        """The live articles that fit ``question``, best first (none when nothing fits)."""
        live = self._current()
        return live.pick(hit.article_id for hit in live.index.search(question, limit))

    def suggest(self, question: str, limit: int = 3) -> list[Article]:
        """The best ``limit`` live articles whether they fit or not (an agent's suggestions)."""
        live = self._current()
        return live.pick(hit.article_id for hit in live.index.ranked(question, limit))

    def articles(self, article_ids: Iterable[str]) -> list[Article]:
        """The live ones of ``article_ids``, in their order."""
        return self._current().pick(article_ids)

    def article(self, article_id: str) -> Article | None:
        """A live article."""
        return self._current().articles.get(article_id)

    def _current(self) -> _Live:
        with self._lock:
            now = self._clock()
            if self._checked_at is None or now - self._checked_at >= self._refresh_seconds:
                self._checked_at = now
                try:
                    self._refresh()
                except sa.exc.SQLAlchemyError as error:
                    # The articles already indexed keep answering until the database is back.
                    logger.error(
                        "help center: cannot read the articles (%s); keeping %d",
                        error,
                        len(self._live.articles),
                    )
            return self._live

    def _refresh(self) -> None:
        stamp = self.store.stamp()
        if stamp == 0 and self._seed is not None:
            self._fill_from(self._seed)
            stamp = self.store.stamp()
        if stamp == self._stamp:
            return
        live = self.store.live()
        self._live = _Live(ArticleIndex(live), {article.article_id: article for article in live})
        self._stamp = stamp
        logger.info("help center: %d live articles (stamp %d)", len(live), stamp)

    def _fill_from(self, directory: Path) -> None:
        try:
            self.store.import_articles(load_directory(directory), SEED_AUTHOR)
        except sa.exc.IntegrityError:
            # Another server filled the empty store at the same moment: its articles are there.
            logger.info("help center: another server filled the store first")
