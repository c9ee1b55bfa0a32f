"""What every SQL store shares: opening a database with its tables, the default SQLite files
under ``var/``, a column type for aware datetimes, and when pruning old rows is due."""

from __future__ import annotations

import select
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

VAR = Path(__file__).resolve().parents[1] / "var"


def sqlite_in_var(filename: str) -> str:
    """The URL of an embedded SQLite database in ``var/`` (created on demand)."""
    VAR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{VAR / filename}"


def closed_by_server(dbapi_connection: Any) -> bool:
    """Whether the server has closed this idle connection, seen without a round trip.

    An idle PostgreSQL connection receives nothing until it sends a query; when the server ends
    it (a restart, ``pg_terminate_backend``, ``idle_session_timeout``) the socket becomes
    readable with the error and the end of the stream. SQLAlchemy's ``pool_pre_ping`` asks the
    same with a ``SELECT 1`` round trip before every use: about 5 a turn, 16 % of a production
    server's time. Anything readable counts as closed: at worst a live connection is replaced.
    """
    if dbapi_connection.closed:
        return True
    readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    return bool(readable)


def _replace_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    if closed_by_server(dbapi_connection):
        # The pool drops it and checks out another (SQLAlchemy's pessimistic disconnect handling).
        raise sa.exc.DisconnectionError("the server closed this connection")


def create_engine(url: str, **options: Any) -> Engine:
    """An engine on ``url``: connections checked before use; for SQLite, kept open, in WAL mode.

    SQLAlchemy 1.4 opens a new SQLite connection for every transaction, which costs more than
    the query. WAL lets readers and a writer of another process (Rasa server, action server) go
    on together; ``synchronous=NORMAL`` keeps every commit across a killed process. On
    PostgreSQL a connection that died with a database restart is replaced, not handed to a turn
    (``closed_by_server``).
    """
    if sa.engine.make_url(url).get_backend_name() != "sqlite":
        engine = sa.create_engine(url, **options)
        sa.event.listen(engine, "checkout", _replace_closed)
        return engine
    engine = sa.create_engine(
        url,
        poolclass=sa.pool.QueuePool,
        connect_args={"check_same_thread": False, "timeout": 10},
        **options,
    )

    @sa.event.listens_for(engine, "connect")
    def tune(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def open_database(url: str, metadata: sa.MetaData, **options: Any) -> Engine:
    """An engine on ``url`` (``options`` as for ``create_engine``) with ``metadata``'s tables
    created if they are missing."""
    engine = create_engine(url, future=True, **options)
    for attempt in range(3):
        try:
            metadata.create_all(engine)
            break
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
            # Several servers starting on one PostgreSQL create the same tables at once: the
            # loser fails; the tables are there when it looks again.
            if attempt == 2:
                raise
    return engine


class UtcDateTime(sa.types.TypeDecorator):
    """Aware datetimes stored as UTC (SQLite drops offsets)."""

    impl = sa.DateTime()
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Every:
    """When a store's housekeeping (pruning old rows) is due: at the first call, then at most once
    per ``seconds``, so a hot path pays for it rarely."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._last: float | None = None

    def due(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self._seconds:
            return False
        self._last = now
        return True
