"""The conversation store: Rasa's SQL tracker store on a URL, flat on long talks, loud on failure.

Configured in endpoints.yml by ``TRACKER_DB_URL`` (default: SQLite ``var/tracker.db``, see
``bot.settings.StoreUrls``; production: ``postgresql://…``). Where it differs from Rasa's
``SQLTrackerStore``:

- Hot trackers. Rasa rebuilds the tracker from every event of the session for each message, so
  replies slow down as a conversation grows. The tracker this process saved last is kept (the
  ``HOT_TRACKERS`` most recent conversations) with the id of the last event it wrote;
  a read checks with one indexed query that no other process or server wrote since, and otherwise
  loads from the database as Rasa does. The kept tracker is handed out, not copied: the reader
  owns it until it saves, and a turn that fails before saving leaves nothing behind.
- ``last_saved`` gives the channels the tracker their own turn just saved, without a read.
- Failures are loud. Rasa wraps every tracker store in a ``FailSafeTrackerStore`` that, when the
  database fails, returns an empty conversation and keeps writes in memory: context lost without
  a word, and servers diverging. ``fail_loudly`` has every agent built after it (the server
  calls it when it starts, before it loads its agent) keep its store bare, so the error reaches
  the channel intake, which apologises, logs it and counts it in ``im_failed_turns_total`` (reason
  ``tracker_store``).
- Stored text can be hidden afterwards (``hide_text``): when a message completes a mnemonic
  split over messages, the earlier part is replaced by the marker in the events already stored.
  SQLite zeroes what it frees (``secure_delete``) and the write-ahead log is emptied after, so
  no old bytes stay in the files; PostgreSQL keeps the old row version until it is vacuumed.

- Few round trips. On PostgreSQL a turn's new events go in as one multi-row INSERT, and the
  check for other writers is one SELECT, both outside an explicit transaction (a single
  statement is atomic): they used to cost BEGIN, an INSERT per event, COMMIT, and BEGIN, SELECT,
  ROLLBACK.

SQLite runs as every store of the assistant does (``bot.database.create_engine``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.agent import Agent
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.engine import Engine, make_url

from bot.database import create_engine
from bot.settings import StoreUrls

logger = logging.getLogger(__name__)

# A kept 10-turn conversation holds about 100 KB (`make leak-check`): 500 of them stay within
# the node's memory budget, and a conversation pushed out is only read from the database again.
HOT_TRACKERS = 500
# How many of a conversation's latest events are searched for a message whose text to hide.
RECENT_EVENTS = 200
# Rows psycopg2 puts in one statement for an executemany (SQLAlchemy's
# executemany_values_page_size).
PSYCOPG2_PAGE = 1000


class SupportTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store on ``url`` (any SQLAlchemy URL), with hot trackers."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        hot_trackers: int = HOT_TRACKERS,
        **kwargs: Any,
    ) -> None:
        url = host or StoreUrls.from_env().tracker
        if make_url(url).get_backend_name() == "sqlite":
            Path(make_url(url).database or "").parent.mkdir(parents=True, exist_ok=True)
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        # The engine every store uses: SQLite connections kept open (Rasa opens one per query),
        # PostgreSQL connections checked before use (a restarted database is not an error).
        self.engine.dispose()
        self.engine: Engine = create_engine(url)
        # For single statements: no BEGIN and COMMIT or ROLLBACK around them. Connections of their
        # own: psycopg2 sends a SET whenever a pooled connection changes its isolation level.
        self._statements = create_engine(url, isolation_level="AUTOCOMMIT")
        self._sqlite = self.engine.dialect.name == "sqlite"
        if self._sqlite:
            for engine in (self.engine, self._statements):
                sa.event.listen(engine, "connect", _zero_freed_space)
        self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        self._hot: OrderedDict[str, tuple[int, DialogueStateTracker]] = OrderedDict()
        self._last_saved: OrderedDict[str, DialogueStateTracker] = OrderedDict()
        # How many events of a tracker object are in the database, so a save needs no count.
        self._stored: OrderedDict[str, tuple[DialogueStateTracker, int]] = OrderedDict()
        self._capacity = hot_trackers
        events = self.SQLEvent.__table__
        self._last_event_id_query = sa.select(sa.func.max(events.c.id)).where(
            events.c.sender_id == sa.bindparam("sender")
        )
        self._lock = threading.Lock()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        with self._lock:
            hot = self._hot.pop(sender_id, None)
        if hot is not None:
            last_event_id, tracker = hot
            if self._last_event_id(sender_id) == last_event_id:
                return tracker
            logger.debug("conversation %s changed elsewhere: reloading it", sender_id)
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            with self._lock:
                self._remember(self._stored, sender_id, (tracker, len(tracker.events)))
        return tracker

    async def peek(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation for reading, kept hot for the turn that follows."""
        with self._lock:
            hot = self._hot.get(sender_id)
        # Read before the events: a write in between makes the kept tracker stale, never wrong.
        last_event_id = self._last_event_id(sender_id)
        if hot is not None and hot[0] == last_event_id:
            return hot[1]
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            with self._lock:
                self._remember(self._stored, sender_id, (tracker, len(tracker.events)))
                self._remember(self._hot, sender_id, (last_event_id, tracker))
        return tracker

    def last_saved(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker this process saved last for ``sender_id``, as it was saved; None if none.

        For reading only, right after a turn: it is the object the next turn may continue.
        """
        with self._lock:
            return self._last_saved.get(sender_id)

    def forget_saved(self, sender_id: str) -> None:
        """Before a turn: ``last_saved`` then tells whether this turn saved anything."""
        with self._lock:
            self._last_saved.pop(sender_id, None)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        with self._lock:
            known = self._stored.get(sender_id)
        if known is not None and known[0] is tracker:
            new_events = list(tracker.events)[known[1] :]
        else:
            with self.session_scope() as session:
                new_events = list(self._additional_events(session, tracker))
        rows = [self._row(sender_id, event.as_dict()) for event in new_events]
        last_written = self._insert(rows) if rows else None
        # A tracker that started a new session still holds the old one, which a read from the
        # database would not: such a tracker is not kept.
        starts = [i for i, event in enumerate(tracker.events) if isinstance(event, SessionStarted)]
        one_session = not starts or starts[-1] <= 1
        with self._lock:
            self._remember(self._stored, sender_id, (tracker, len(tracker.events)))
            self._remember(self._last_saved, sender_id, tracker)
            if last_written is not None and one_session:
                self._remember(self._hot, sender_id, (last_written, tracker))
            else:
                self._hot.pop(sender_id, None)

    def _insert(self, rows: list[dict[str, Any]]) -> int:
        """Inserts ``rows`` in order, atomically; the last row's id.

        Core executemany, not the ORM's unit of work: this runs for every message. On SQLite, in
        one transaction, then SQLite's own last row id (SQLAlchemy 1.4 has no RETURNING for it).
        psycopg2 sends an executemany as one INSERT … VALUES of up to ``PSYCOPG2_PAGE`` rows,
        atomic on its own, so a turn's events cost one round trip, ids returned.
        """
        events = self.SQLEvent.__table__
        if self._sqlite:
            with self.engine.begin() as connection:
                connection.execute(events.insert(), rows)
                return int(connection.exec_driver_sql("SELECT last_insert_rowid()").scalar())
        # More rows (a whole session saved at once) take several statements: a transaction.
        engine = self._statements if len(rows) <= PSYCOPG2_PAGE else self.engine
        with engine.begin() as connection:
            inserted = connection.execute(events.insert().returning(events.c.id), rows)
            return max(row[0] for row in inserted)

    def _row(self, sender_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "sender_id": sender_id,
            "type_name": data["event"],
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

    def _remember(self, table: OrderedDict[str, Any], sender_id: str, value: Any) -> None:
        table.pop(sender_id, None)
        table[sender_id] = value
        while len(table) > self._capacity:
            table.popitem(last=False)

    def hide_text(self, sender_id: str, message_id: str, text: str, marker: str) -> int:
        """Replaces ``text`` by ``marker`` in the stored user message ``message_id`` and in every
        later event of the conversation (a slot may hold the text too); how many events changed.
        """
        events = self.SQLEvent.__table__
        recent = (
            sa.select(events.c.id, events.c.type_name, events.c.data)
            .where(events.c.sender_id == sender_id)
            .order_by(events.c.id.desc())
            .limit(RECENT_EVENTS)
        )
        update = (
            events.update()
            .where(events.c.id == sa.bindparam("event_id"))
            .values(data=sa.bindparam("new_data"))
        )
        with self.engine.begin() as connection:
            changed = []
            for event_id, type_name, data in connection.execute(recent):
                event = json.loads(data)
                hidden = _replaced(event, text, marker)
                if hidden != event:
                    changed.append({"event_id": event_id, "new_data": json.dumps(hidden)})
                if type_name == "user" and event.get("message_id") == message_id:
                    break
            if changed:
                connection.execute(update, changed)
        if changed and self._sqlite:
            # The old page images are in the write-ahead log until a checkpoint empties it.
            with self.engine.connect() as connection:
                busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
            if busy:
                logger.warning("conversation %s: hidden text stays in the WAL for now", sender_id)
        with self._lock:  # the trackers kept in memory still hold the text
            for table in (self._hot, self._stored, self._last_saved):
                table.pop(sender_id, None)
        return len(changed)

    def _last_event_id(self, sender_id: str) -> int | None:
        # Core, not the ORM: this runs for every message and the ORM's overhead dominated it.
        with self._statements.connect() as connection:
            return connection.execute(self._last_event_id_query, {"sender": sender_id}).scalar()


def _zero_freed_space(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _replaced(value: Any, text: str, marker: str) -> Any:
    """``value`` (decoded JSON) with ``text`` replaced by ``marker`` in every string."""
    if isinstance(value, str):
        return value.replace(text, marker)
    if isinstance(value, list):
        return [_replaced(item, text, marker) for item in value]
    if isinstance(value, dict):
        return {key: _replaced(item, text, marker) for key, item in value.items()}
    return value


# Rasa's own choice of an agent's tracker store, which wraps it in a FailSafeTrackerStore.
RASA_TRACKER_STORE = Agent._create_tracker_store


def fail_loudly() -> None:
    """Has every agent built from now on keep its tracker store without Rasa's fail-safe
    wrapper, so a database failure reaches the channel (a model loaded later too)."""
    Agent._create_tracker_store = staticmethod(_bare_tracker_store)


def _bare_tracker_store(store: TrackerStore | None, domain: Domain) -> TrackerStore:
    chosen = RASA_TRACKER_STORE(store, domain)
    return chosen._tracker_store if isinstance(chosen, FailSafeTrackerStore) else chosen


def _support_store(agent: Agent) -> SupportTrackerStore | None:
    store = agent.tracker_store
    if isinstance(store, FailSafeTrackerStore):
        store = store._tracker_store
    return store if isinstance(store, SupportTrackerStore) else None


def begin_turn(agent: Agent, sender_id: str) -> None:
    """Marks the start of a turn, for ``turn_tracker``."""
    store = _support_store(agent)
    if store is not None:
        store.forget_saved(sender_id)


async def peek_tracker(agent: Agent, sender_id: str) -> DialogueStateTracker | None:
    """The conversation for reading only, without making the next turn read it again."""
    store = _support_store(agent)
    if store is not None:
        return await store.peek(sender_id)
    return await agent.tracker_store.retrieve(sender_id)


async def turn_tracker(agent: Agent, sender_id: str) -> DialogueStateTracker | None:
    """The conversation as the turn since ``begin_turn`` left it: without a read if it saved."""
    store = _support_store(agent)
    saved = store.last_saved(sender_id) if store is not None else None
    return saved if saved is not None else await agent.tracker_store.retrieve(sender_id)


async def hide_stored_text(
    agent: Agent, sender_id: str, message_id: str, text: str, marker: str
) -> None:
    """Replaces ``text`` by ``marker`` where message ``message_id`` and what followed are stored."""
    store = _support_store(agent)
    if store is None:
        logger.warning("conversation %s: this tracker store cannot hide stored text", sender_id)
        return
    changed = await asyncio.to_thread(store.hide_text, sender_id, message_id, text, marker)
    logger.info("conversation %s: text hidden in %d stored events", sender_id, changed)
