"""The supervisors' live view of conversations: where each open one stands, written as the Rasa
server serves it and read by the console (``bot.handoff.live_console``).

After each user turn the server notes the conversation's state (``observe``): its channel, the
last intent and its confidence, how many turns in a row the bot did not understand, and the flags
a supervisor should see at once:

- ``secret_shared``: the secret guard hid a secret the user sent (``share_secret``, or its
  warning ``utter_secret_shared``);
- ``theft``: the user reported stolen funds (``account_compromised``), or a freeze was offered or
  made;
- ``fallbacks``: ``FALLBACKS_FLAGGED`` or more turns in a row that the bot did not understand
  (``nlu_fallback``) or answered with a clarification, while it served the user alone.

A turn never waits for the database: ``LiveRecorder.record`` keeps the latest state of each
conversation in memory (at most ``MAX_PENDING``; the oldest give way), and a task of the server
(``LiveRecorder.run``) writes them every ``FLUSH_SECONDS``, one upsert per conversation, on
SQLite and PostgreSQL alike (``LiveBoard``). Each server writes the conversations it served; an
upsert never replaces the state after a later message by an earlier one, so servers that share a
conversation agree. A conversation without a user message for ``LIVE_FOR`` leaves the view, and
its row is pruned.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

import sqlalchemy as sa
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.database import Every
from bot.handoff.routing import SECURITY_ACTIONS, SECURITY_RESPONSES
from bot.handoff.tables import live_conversations, utc_now

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
LIVE_FOR = timedelta(hours=4)
PRUNE_EVERY_SECONDS = 60.0
# Conversations noted between two writes; more only while the database is down.
MAX_PENDING = 10_000
FALLBACKS_FLAGGED = 2
# Rows in one INSERT: 8 values each stays under SQLite's 999 bound parameters.
UPSERT_BATCH = 100
MAX_LISTED = 200
MAX_CONVERSATION_ID = 255

THEFT_INTENTS = {"account_compromised"}
SECRET_INTENTS = {"share_secret"}
FALLBACK_INTENTS = {"nlu_fallback"}
# The bot's "I did not understand": the topics offered, the ask to pick one, Rasa's default.
CLARIFY_RESPONSES = {"utter_clarify", "utter_clarify_pick", "utter_default"}
# What the console reads from the app's context (set by ``LiveHandlers.start``).
CONTEXT_NAME = "live_recorder"


class Flag(str, Enum):
    """What makes a conversation stand out in the live view."""

    SECRET_SHARED = "secret_shared"
    THEFT = "theft"
    FALLBACKS = "fallbacks"


@dataclass(frozen=True)
class LiveState:
    """A conversation as its last user message left it."""

    conversation_id: str
    channel: str
    last_intent: str | None
    confidence: float | None
    flags: tuple[Flag, ...]
    fallbacks_in_row: int
    at: datetime  # the last user message
    since: datetime  # the session's first user message


@dataclass(frozen=True)
class LiveRow:
    """A conversation of the live view, as stored."""

    conversation_id: str
    channel: str
    last_intent: str | None
    confidence: float | None
    flags: tuple[Flag, ...]
    fallbacks_in_row: int
    first_seen_at: datetime
    last_user_at: datetime


def observe(tracker: DialogueStateTracker) -> LiveState | None:
    """The conversation's state in its current session (it was first seen at the session's
    first user message); None before any user message.

    One pass from the newest event back to the session's start: the flags hold for the whole
    session, the fallbacks are counted back from the last turn until one the bot understood (or
    one a human owned: the bot was not answering then).
    """
    flags: set[Flag] = set()
    latest: UserUttered | None = None
    first: UserUttered | None = None
    in_row, counting = 0, True
    paused = tracker.is_paused()
    clarified = False  # the turn being read back got a clarification
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            intent = (event.intent or {}).get("name")
            if intent in THEFT_INTENTS:
                flags.add(Flag.THEFT)
            elif intent in SECRET_INTENTS:
                flags.add(Flag.SECRET_SHARED)
            latest = latest or event
            first = event
            if counting and not paused and (clarified or intent in FALLBACK_INTENTS):
                in_row += 1
            else:
                counting = False
            clarified = False
        elif isinstance(event, BotUttered):
            response = (event.metadata or {}).get("utter_action")
            if response in CLARIFY_RESPONSES:
                clarified = True
            elif response in SECURITY_RESPONSES:
                flags.add(Flag.SECRET_SHARED)
        elif isinstance(event, ActionExecuted):
            if event.action_name in SECURITY_ACTIONS:
                flags.add(Flag.THEFT)
            elif event.action_name in SECURITY_RESPONSES:
                flags.add(Flag.SECRET_SHARED)
        elif isinstance(event, ConversationPaused):
            paused = False  # read backwards: before the pause, the bot served the user
        elif isinstance(event, ConversationResumed):
            paused = True
        elif isinstance(event, SessionStarted):
            break
    if latest is None or first is None:
        return None
    if in_row >= FALLBACKS_FLAGGED:
        flags.add(Flag.FALLBACKS)
    intent = (latest.intent or {}).get("name")
    confidence = (latest.intent or {}).get("confidence")
    return LiveState(
        conversation_id=tracker.sender_id,
        channel=latest.input_channel or tracker.get_latest_input_channel() or "unknown",
        last_intent=str(intent) if intent else None,
        confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
        flags=tuple(flag for flag in Flag if flag in flags),
        fallbacks_in_row=in_row,
        at=datetime.fromtimestamp(latest.timestamp, timezone.utc),
        since=datetime.fromtimestamp(first.timestamp, timezone.utc),
    )


class LiveBoard:
    """The live view's rows in the handoff database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def upsert(self, states: Sequence[LiveState]) -> None:
        """Writes each conversation's state, unless its row holds a later message's already."""
        table = live_conversations
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        with self._engine.begin() as connection:
            for start in range(0, len(states), UPSERT_BATCH):
                statement = insert(table).values(
                    [_values(state) for state in states[start : start + UPSERT_BATCH]]
                )
                new = statement.excluded
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[table.c.conversation_id],
                        set_={
                            "first_seen_at": new.first_seen_at,
                            "channel": new.channel,
                            "last_intent": new.last_intent,
                            "confidence": new.confidence,
                            "flags": new.flags,
                            "fallbacks_in_row": new.fallbacks_in_row,
                            "last_user_at": new.last_user_at,
                        },
                        where=table.c.last_user_at <= new.last_user_at,
                    )
                )

    def rows(self, limit: int = MAX_LISTED, now: datetime | None = None) -> list[LiveRow]:
        """The conversations in the view: flagged ones first, then those seen first."""
        table = live_conversations
        query = (
            sa.select(table)
            .where(table.c.last_user_at > (now or utc_now()) - LIVE_FOR)
            .order_by(
                sa.case((table.c.flags == "", 1), else_=0),
                table.c.first_seen_at,
                table.c.conversation_id,
            )
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [_row(row) for row in connection.execute(query).mappings()]

    def count(self, now: datetime | None = None) -> int:
        """How many conversations the view holds."""
        table = live_conversations
        query = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.last_user_at > (now or utc_now()) - LIVE_FOR)
        )
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def get(self, conversation_id: str, now: datetime | None = None) -> LiveRow | None:
        """The conversation's row, if it is in the view."""
        table = live_conversations
        query = sa.select(table).where(
            table.c.conversation_id == conversation_id,
            table.c.last_user_at > (now or utc_now()) - LIVE_FOR,
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _row(row) if row is not None else None

    def prune(self, now: datetime | None = None) -> int:
        """Removes the conversations that left the view; how many."""
        table = live_conversations
        cutoff = (now or utc_now()) - LIVE_FOR
        with self._engine.begin() as connection:
            return int(
                connection.execute(table.delete().where(table.c.last_user_at <= cutoff)).rowcount
            )


class LiveRecorder:
    """This server's latest state of each conversation it served, until it is written."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self._pending: OrderedDict[str, LiveState] = OrderedDict()
        self._max_pending = max_pending
        self._dropped = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, tracker: DialogueStateTracker) -> None:
        """Notes the conversation after a turn (in memory: the turn does not wait for a write)."""
        state = observe(tracker)
        if state is not None:
            self.keep(state)

    def keep(self, state: LiveState) -> None:
        if len(state.conversation_id) > MAX_CONVERSATION_ID:
            return  # no channel makes such ids; the table's key could not hold it
        pending = self._pending
        pending.pop(state.conversation_id, None)
        pending[state.conversation_id] = state
        while len(pending) > self._max_pending:
            pending.popitem(last=False)
            self._dropped += 1

    async def flush(self, board: LiveBoard) -> int:
        """Writes what was noted since the last write; how many conversations. When the write
        fails the states are kept for the next one (unless a newer state came meanwhile)."""
        if self._dropped:
            logger.warning(
                "live view: %d conversation states dropped (memory bound)", self._dropped
            )
            self._dropped = 0
        if not self._pending:
            return 0
        states = list(self._pending.values())
        self._pending = OrderedDict()
        try:
            await asyncio.to_thread(board.upsert, states)
        except sa.exc.SQLAlchemyError:
            for state in reversed(states):
                if state.conversation_id not in self._pending:
                    self._pending[state.conversation_id] = state
                    self._pending.move_to_end(state.conversation_id, last=False)
            while len(self._pending) > self._max_pending:
                self._pending.popitem(last=False)
                self._dropped += 1
            raise
        return len(states)

    async def run(self, board: LiveBoard, every: float = FLUSH_SECONDS) -> None:
        """Writes every ``every`` seconds and prunes now and then, until the server stops; a
        failed round is logged and tried again."""
        prune = Every(PRUNE_EVERY_SECONDS)
        while True:
            await asyncio.sleep(every)
            try:
                await self.flush(board)
                if prune.due():
                    await asyncio.to_thread(board.prune)
            except Exception:
                logger.exception("live view not written; trying again next round")


def live_recorder(app: Sanic) -> LiveRecorder | None:
    """The server's recorder, once the console started it (None in a server without one)."""
    recorder = getattr(app.ctx, CONTEXT_NAME, None)
    return recorder if isinstance(recorder, LiveRecorder) else None


def _values(state: LiveState) -> dict[str, Any]:
    return {
        "conversation_id": state.conversation_id,
        "channel": state.channel[:64],
        "last_intent": state.last_intent[:64] if state.last_intent else None,
        "confidence": state.confidence,
        "flags": ",".join(flag.value for flag in state.flags),
        "fallbacks_in_row": state.fallbacks_in_row,
        "first_seen_at": state.since,
        "last_user_at": state.at,
    }


def _row(row: Any) -> LiveRow:
    known = {flag.value: flag for flag in Flag}
    return LiveRow(
        conversation_id=row["conversation_id"],
        channel=row["channel"],
        last_intent=row["last_intent"],
        confidence=row["confidence"],
        flags=tuple(known[name] for name in str(row["flags"]).split(",") if name in known),
        fallbacks_in_row=int(row["fallbacks_in_row"]),
        first_seen_at=row["first_seen_at"],
        last_user_at=row["last_user_at"],
    )
