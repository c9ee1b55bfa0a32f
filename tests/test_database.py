"""What the stores share: pruning old rows at once, then at most once per period; a PostgreSQL
connection the server ended is never handed to a query."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from bot import database
from bot.database import Every
from scripts.production_stack import Postgres


def test_housekeeping_is_due_at_first_then_once_per_period(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(database.time, "monotonic", lambda: clock[0])
    every = Every(60)
    assert every.due()
    clock[0] += 59
    assert not every.due()
    clock[0] += 1
    assert every.due()
    assert not every.due()


def test_a_machine_just_started_prunes_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """monotonic() may start near 0: the first call is due all the same."""
    monkeypatch.setattr(database.time, "monotonic", lambda: 5.0)
    assert Every(3600).due()


def _backend(engine: sa.engine.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_the_server_ended_is_replaced_before_a_query_uses_it(
    postgres: Postgres,
) -> None:
    engine = database.create_engine(postgres.url("tracker"), pool_size=1, future=True)
    watcher = sa.create_engine(postgres.url("tracker"), isolation_level="AUTOCOMMIT")
    try:
        first = _backend(engine)
        assert _backend(engine) == first, "a live pooled connection is kept"
        with watcher.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            deadline = time.monotonic() + 5
            while other.execute(alive, {"pid": first}).scalar_one() and time.monotonic() < deadline:
                time.sleep(0.01)
        # The next query gets a new connection instead of "server closed the connection".
        assert _backend(engine) != first
    finally:
        engine.dispose()
        watcher.dispose()
