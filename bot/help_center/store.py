"""The articles as the console edits them: every version kept, in the handoff database.

``help_articles`` holds each article's current text (or its retirement) and revision;
``help_article_versions`` every saved version with its author, time and the diff against the one
before, and is never changed. A save names the revision it was made from, so of two leads
editing one article at once, the second is told to reload rather than silently overwrite.
``help_events`` records what users did with the answers: views, 有帮助 / 没帮助, and the
questions no article fitted (masked), for the insight report.

The store lives in HANDOFF_DB_URL (SQLite by default, PostgreSQL in production) so every server
reads the same articles; ``stamp()`` is the cheap question a server asks to learn it is behind.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.database import UtcDateTime, open_database
from bot.help_center.articles import Article, ArticleError, parse_article
from bot.privacy import mask_identifiers

metadata = sa.MetaData()

articles = sa.Table(
    "help_articles",
    metadata,
    sa.Column("article_id", sa.String(64), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("retired", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

versions = sa.Table(
    "help_article_versions",
    metadata,
    sa.Column("version_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.String(64), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("retired", sa.Boolean, nullable=False),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("saved_at", UtcDateTime, nullable=False),
    sa.Column("diff", sa.Text, nullable=False),
    sa.UniqueConstraint("article_id", "revision", name="ux_help_article_versions_revision"),
)

events = sa.Table(
    "help_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("article_id", sa.String(64)),
    sa.Column("question", sa.Text),
    sa.Index("ix_help_events_at", "at"),
)

MAX_QUESTION_STORED = 200


class EditConflict(ValueError):
    """The article changed since the editor loaded it (or an article with that id exists)."""


class Event(enum.Enum):
    """What a user did with the help center."""

    VIEW = "view"
    HELPFUL = "helpful"
    UNHELPFUL = "unhelpful"
    UNANSWERED = "unanswered"


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored: its parsed form, text, revision and whether it is retired."""

    article: Article
    text: str
    revision: int
    retired: bool
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True)
class Version:
    """One saved version of an article."""

    article_id: str
    revision: int
    retired: bool
    author: str
    saved_at: datetime
    diff: str
    text: str


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ArticleStore:
    """Reads and saves articles and their history; records the users' events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> ArticleStore:
        return cls(open_database(url, metadata))

    def stamp(self) -> int:
        """A number that grows with every save: equal stamps, equal articles."""
        with self.engine.connect() as connection:
            return int(connection.scalar(sa.select(sa.func.max(versions.c.version_id))) or 0)

    def all(self) -> list[StoredArticle]:
        """Every article, retired ones too, by id."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(articles).order_by(articles.c.article_id))
            return [_stored(row) for row in rows]

    def live(self) -> list[Article]:
        """The articles users are answered from."""
        return [stored.article for stored in self.all() if not stored.retired]

    def get(self, article_id: str) -> StoredArticle | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(articles).where(articles.c.article_id == article_id)
            ).first()
        return None if row is None else _stored(row)

    def history(self, article_id: str) -> list[Version]:
        """Every version of the article, newest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(versions)
                .where(versions.c.article_id == article_id)
                .order_by(versions.c.revision.desc())
            )
            return [
                Version(
                    row.article_id,
                    row.revision,
                    row.retired,
                    row.author,
                    row.saved_at,
                    row.diff,
                    row.text,
                )
                for row in rows
            ]

    def save(self, text: str, author: str, base_revision: int | None) -> StoredArticle:
        """Saves ``text`` as the article's next version, made from ``base_revision`` (None: a new
        article). ArticleError for a text that cannot be served, EditConflict when the article
        moved on (or exists, for a new one); the version served stays as it was."""
        article = parse_article(text)
        with self.engine.begin() as connection:
            return self._write(connection, article, author, base_revision, retired=False)

    def retire(self, article_id: str, author: str, base_revision: int) -> StoredArticle:
        """Stops answering from the article (its text and history stay)."""
        current = self.get(article_id)
        if current is None:
            raise EditConflict(f"there is no article {article_id!r}")
        with self.engine.begin() as connection:
            return self._write(connection, current.article, author, base_revision, retired=True)

    def import_articles(self, imported: Iterable[Article], author: str) -> list[str]:
        """Saves each article whose text differs from the stored one (a retired one comes
        back); returns the ids saved. All in one transaction: all or nothing."""
        saved = []
        with self.engine.begin() as connection:
            for article in imported:
                row = connection.execute(
                    sa.select(articles).where(articles.c.article_id == article.article_id)
                ).first()
                if row is not None and row.text == article.text() and not row.retired:
                    continue
                revision = None if row is None else row.revision
                self._write(connection, article, author, revision, retired=False)
                saved.append(article.article_id)
        return saved

    def record(self, kind: Event, article_id: str | None, question: str | None = None) -> None:
        """One user event; a question is stored masked and cut short."""
        masked = None if question is None else mask_identifiers(question)[:MAX_QUESTION_STORED]
        with self.engine.begin() as connection:
            connection.execute(
                events.insert().values(
                    at=utc_now(), kind=kind.value, article_id=article_id, question=masked
                )
            )

    def _write(
        self,
        connection: Connection,
        article: Article,
        author: str,
        base_revision: int | None,
        retired: bool,
    ) -> StoredArticle:
        text = article.text()
        now = utc_now()
        row = connection.execute(
            sa.select(articles).where(articles.c.article_id == article.article_id)
        ).first()
        if base_revision is None and row is not None:
            raise EditConflict(f"an article {article.article_id!r} exists already")
        if base_revision is not None and (row is None or row.revision != base_revision):
            raise EditConflict(
                f"article {article.article_id!r} was changed by someone else: reload it"
            )
        revision = 1 if row is None else row.revision + 1
        values = {
            "revision": revision,
            "text": text,
            "retired": retired,
            "updated_by": author,
            "updated_at": now,
        }
        if row is None:
            connection.execute(articles.insert().values(article_id=article.article_id, **values))
        else:
            # The revision in the WHERE: of two saves from one revision, one updates a row.
            updated = connection.execute(
                articles.update()
                .where(articles.c.article_id == article.article_id)
                .where(articles.c.revision == row.revision)
                .values(**values)
            )
            if updated.rowcount != 1:
                raise EditConflict(
                    f"article {article.article_id!r} was changed by someone else: reload it"
                )
        diff = "\n".join(
            difflib.unified_diff(
                (row.text if row is not None else "").splitlines(),
                text.splitlines(),
                f"r{revision - 1}",
                f"r{revision}",
                lineterm="",
            )
        )
        if retired:
            diff = diff or "(retired)"
        connection.execute(
            versions.insert().values(
                article_id=article.article_id,
                revision=revision,
                text=text,
                retired=retired,
                author=author,
                saved_at=now,
                diff=diff,
            )
        )
        return StoredArticle(article, text, revision, retired, author, now)


def _stored(row: sa.Row) -> StoredArticle:
    try:
        article = parse_article(row.text)
    except ArticleError as error:  # a row written by hand: never by save()
        raise ArticleError(f"stored article {row.article_id!r}: {error}") from None
    return StoredArticle(
        article, row.text, row.revision, row.retired, row.updated_by, row.updated_at
    )
