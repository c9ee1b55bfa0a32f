"""The conversation store: hot trackers stay correct when another server writes, on SQLite and on
PostgreSQL, and a turn's events go in with one round trip."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.core.agent import Agent
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered

from bot.tracking import (
    RASA_TRACKER_STORE,
    SupportTrackerStore,
    begin_turn,
    fail_loudly,
    turn_tracker,
)

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet]
slots:
  note:
    type: text
    mappings: [{type: custom}]
"""
)


def store_on(path: Path) -> SupportTrackerStore:
    return SupportTrackerStore(DOMAIN, host=f"sqlite:///{path}")


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], SupportTrackerStore]:
    """Makes stores on one empty database, as the servers of one setup have."""
    if request.param == "sqlite":
        return lambda: store_on(tmp_path / "t.db")
    url = request.getfixturevalue("postgres").url("tracker")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS events"))
    engine.dispose()
    return lambda: SupportTrackerStore(DOMAIN, host=url)


def test_a_tracker_read_again_is_the_one_saved_until_another_server_writes(
    stores: Callable[[], SupportTrackerStore],
) -> None:
    server_a, server_b = stores(), stores()

    async def scenario() -> None:
        tracker = await server_a.get_or_create_tracker("u1")
        tracker.update(UserUttered("你好", {"name": "greet", "confidence": 1.0}))
        await server_a.save(tracker)
        assert await server_a.retrieve("u1") is tracker, "served without rebuilding"
        await server_a.save(tracker)

        other = await server_b.retrieve("u1")
        assert other is not None and other is not tracker
        other.update(SlotSet("note", "written by b"))
        await server_b.save(other)

        reloaded = await server_a.retrieve("u1")
        assert reloaded is not tracker
        assert reloaded is not None and reloaded.get_slot("note") == "written by b"
        assert len(reloaded.events) == len(other.events)

    asyncio.run(scenario())


def test_a_turn_that_failed_before_saving_leaves_nothing_behind(tmp_path: Path) -> None:
    store = store_on(tmp_path / "t.db")

    async def scenario() -> None:
        tracker = await store.get_or_create_tracker("u2")
        await store.save(tracker)
        owned = await store.retrieve("u2")
        assert owned is not None
        owned.update(ActionExecuted("action_that_crashed"))  # never saved
        fresh = await store.retrieve("u2")
        assert fresh is not None and fresh is not owned
        assert "action_that_crashed" not in [getattr(e, "action_name", None) for e in fresh.events]

    asyncio.run(scenario())


def test_the_turn_tracker_is_read_only_when_the_turn_saved_nothing(tmp_path: Path) -> None:
    store = store_on(tmp_path / "t.db")
    agent: Any = SimpleNamespace(tracker_store=FailSafeTrackerStore(store), processor=None)

    async def scenario() -> None:
        tracker = await store.get_or_create_tracker("u3")
        begin_turn(agent, "u3")
        tracker.update(SlotSet("note", "this turn"))
        await store.save(tracker)
        assert await turn_tracker(agent, "u3") is tracker
        begin_turn(agent, "u3")
        read = await turn_tracker(agent, "u3")
        assert read is not None and read.get_slot("note") == "this turn"

    asyncio.run(scenario())


def test_a_database_failure_reaches_the_caller_instead_of_an_empty_conversation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fail_loudly changes how every later agent is built; the test gives Rasa's way back after.
    monkeypatch.setattr(Agent, "_create_tracker_store", staticmethod(RASA_TRACKER_STORE))
    store = store_on(tmp_path / "t.db")
    assert isinstance(Agent(domain=DOMAIN, tracker_store=store).tracker_store, FailSafeTrackerStore)
    fail_loudly()
    agent = Agent(domain=DOMAIN, tracker_store=store)
    assert agent.tracker_store is store
    store.engine.dispose()
    (tmp_path / "t.db").unlink()
    (tmp_path / "t.db").mkdir()  # the database file is gone and cannot be recreated

    with pytest.raises(Exception, match="unable to open database"):
        asyncio.run(agent.tracker_store.retrieve("u4"))


def test_a_turns_events_go_in_with_one_round_trip_and_come_back_in_order(
    stores: Callable[[], SupportTrackerStore], request: pytest.FixtureRequest
) -> None:
    store = stores()
    statements: list[str] = []

    def record(*call: Any) -> None:
        statements.append(call[2])

    # Every engine: the store's own, whichever it writes with.
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    request.addfinalizer(lambda: sa.event.remove(sa.engine.Engine, "before_cursor_execute", record))

    async def scenario() -> None:
        tracker = await store.get_or_create_tracker("u6")
        for n in range(5):
            tracker.update(UserUttered(f"第{n}句", {"name": "greet", "confidence": 1.0}))
            tracker.update(SlotSet("note", f"note {n}"))
        statements.clear()
        await store.save(tracker)
        # One executemany; SQLite, in process, is then asked for the last id.
        expected = {"sqlite": ["INSERT", "SELECT"], "postgresql": ["INSERT"]}
        assert [s.split()[0] for s in statements] == expected[
            request.node.callspec.params["stores"]
        ]
        fresh = await stores().retrieve("u6")  # another server, reading from the database
        assert fresh is not None
        assert [e.as_dict() for e in fresh.events] == [e.as_dict() for e in tracker.events]

    asyncio.run(scenario())


def test_a_new_session_is_stored_once_and_read_back_on_its_own(
    stores: Callable[[], SupportTrackerStore],
) -> None:
    store = stores()

    async def scenario() -> None:
        tracker = await store.get_or_create_tracker("u5")
        tracker.update(UserUttered("昨天的问题", {"name": "greet", "confidence": 1.0}))
        await store.save(tracker)
        old_events = len(tracker.events)
        same = await store.retrieve("u5")
        assert same is tracker
        for event in (
            ActionExecuted("action_session_start"),
            SessionStarted(),
            ActionExecuted("action_listen"),
            UserUttered("今天的问题", {"name": "greet", "confidence": 1.0}),
        ):
            same.update(event)
        await store.save(same)
        with store.engine.connect() as connection:
            stored = connection.execute(sa.text("SELECT count(*) FROM events")).scalar()
        assert stored == old_events + 4
        fresh = await store.retrieve("u5")
        assert fresh is not None and fresh is not same
        assert [e.text for e in fresh.events if isinstance(e, UserUttered)] == ["今天的问题"]

    asyncio.run(scenario())
