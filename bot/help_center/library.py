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
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from bot.help_center.articles import ARTICLES_DIR, Article, load_directory
from bot.help_center.index import DEFAULT_BAR, ArticleIndex, Bar, Hit
from bot.help_center.store import ArticleStore

logger = logging.getLogger(__name__)

SEED_AUTHOR = "data/help_center"


class HelpCenter:
    """Searches the live articles, rebuilding its index when the store's stamp moves."""

    def __init__(
        self,
        store: ArticleStore,
        refresh_seconds: float,
        seed: Path | None = ARTICLES_DIR,
        bar: Bar = DEFAULT_BAR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._refresh_seconds = refresh_seconds
        self._seed = seed
        self._bar = bar
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._stamp = -1
        self._index = ArticleIndex([], bar)
        self._articles: dict[str, Article] = {}

    def load(self) -> int:
        """Builds the index now rather than at the first question (a server's start); returns
        the number of live articles."""
        self._current()
        return len(self._articles)

    def search(self, question: str, limit: int = 3, bar: Bar | None = None) -> list[Hit]:
        """The articles that fit ``question``, best first (none when nothing fits)."""
        return self._current().search(question, limit, bar)

    def ranked(self, question: str, limit: int = 3) -> list[Hit]:
        """The best ``limit`` articles whether they fit or not (an agent's suggestions)."""
        return self._current().ranked(question, limit)

    def article(self, article_id: str) -> Article | None:
        """A live article."""
        self._current()
        return self._articles.get(article_id)

    def _current(self) -> ArticleIndex:
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
                        len(self._articles),
                    )
            return self._index

    def _refresh(self) -> None:
        stamp = self.store.stamp()
        if stamp == 0 and self._seed is not None:
            self._fill_from(self._seed)
            stamp = self.store.stamp()
        if stamp == self._stamp:
            return
        live = self.store.live()
        self._index = ArticleIndex(live, self._bar)
        self._articles = {article.article_id: article for article in live}
        self._stamp = stamp
        logger.info("help center: %d live articles (stamp %d)", len(live), stamp)

    def _fill_from(self, directory: Path) -> None:
        try:
            self.store.import_articles(load_directory(directory), SEED_AUTHOR)
        except sa.exc.IntegrityError:
            # Another server filled the empty store at the same moment: its articles are there.
            logger.info("help center: another server filled the store first")
