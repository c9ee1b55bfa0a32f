"""A known set of conversations and tickets, written to real stores, for the insight tests.

The tracker store is written through Rasa's own SQLTrackerStore (SQLite), the tickets into the
handoff store's table with chosen times, so each expected number in the tests can be counted by
hand from ``CONVERSATIONS`` and ``TICKETS``.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.handoff.records import URGENCY_OF, Reason, State
from bot.handoff.store import HandoffStore
from bot.handoff.tables import tickets
from bot.insight.sources import InsightSources

ZONE = ZoneInfo("Asia/Shanghai")
DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)
MNEMONIC = "abandon ability able about above absent absorb abstract absurd abuse access accident"
ADDRESS = "0x1234567890abcdef1234567890abcdef12345678"


def at(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    """A local time in Asia/Shanghai (UTC+8)."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ZONE)


@dataclass(frozen=True)
class Say:
    """A user message."""

    when: datetime
    text: str
    intent: str
    rating: str | None = None


@dataclass(frozen=True)
class Pause:
    when: datetime


@dataclass(frozen=True)
class Resume:
    when: datetime


@dataclass(frozen=True)
class Conversation:
    sender_id: str
    channel: str | None
    steps: list[Say | Pause | Resume] = field(default_factory=list)


@dataclass(frozen=True)
class TicketRow:
    conversation_id: str
    channel: str
    reason: Reason
    created_at: datetime
    assigned_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled: bool = False


CONVERSATIONS = [
    # A: answered by the bot, rated 5 with the button.
    Conversation(
        "a-faq",
        "rest",
        [
            Say(at(DAY1, 10, 0), "矿工费怎么算", "network_fee"),
            Say(at(DAY1, 10, 1), "再见", "goodbye"),
            Say(at(DAY1, 10, 1, 30), '/rate{"rating":"5"}', "rate", rating="5"),
        ],
    ),
    # B: one unclear turn, then answered; rated 4 in words.
    Conversation(
        "b-clarified",
        "socketio",
        [
            Say(at(DAY1, 11, 0), "怎么回事", "nlu_fallback"),
            Say(at(DAY1, 11, 1), "转账没到账", "transfer_pending"),
            Say(at(DAY1, 11, 5), "再见", "goodbye"),
            Say(at(DAY1, 11, 6), "给4分吧", "rate"),
        ],
    ),
    # C: two unclear turns hand off; talks to the agent; rates 2 after the agent closed.
    Conversation(
        "c-fallback-handoff",
        "rest",
        [
            Say(at(DAY1, 14, 0), "怎么回事", "nlu_fallback"),
            Say(at(DAY1, 14, 0, 20), "什么意思", "nlu_fallback"),
            Pause(at(DAY1, 14, 0, 21)),
            Say(at(DAY1, 14, 5), "在吗", "nlu_fallback"),
            Say(at(DAY1, 14, 6), "好的", "affirm"),
            Resume(at(DAY1, 14, 12, 21)),
            Say(at(DAY1, 14, 13), '/rate{"rating":"2"}', "rate", rating="2"),
        ],
    ),
    # D: asks for a human just before local midnight, served after it; rates 3 in words.
    Conversation(
        "d-requested-over-midnight",
        "socketio",
        [
            Say(at(DAY1, 23, 50), "我要人工客服", "request_human"),
            Pause(at(DAY1, 23, 50, 1)),
            Say(at(DAY2, 0, 10), "你好", "greet"),
            Resume(at(DAY2, 0, 15, 1)),
            Say(at(DAY2, 0, 16), "3分", "rate"),
        ],
    ),
    # E: asks for a human, then cancels while queued: contained.
    Conversation(
        "e-cancelled",
        "rest",
        [
            Say(at(DAY2, 9, 0), "转人工", "request_human"),
            Pause(at(DAY2, 9, 0, 1)),
            Say(at(DAY2, 9, 0, 30), "不用了", "deny"),
            Resume(at(DAY2, 9, 0, 31)),
            Say(at(DAY2, 9, 2), "怎么回事", "nlu_fallback"),
        ],
    ),
    # F: a complaint nobody has picked up yet.
    Conversation(
        "f-complaint-waiting",
        "wechat",
        [Say(at(DAY2, 10, 0), "我要投诉", "complaint"), Pause(at(DAY2, 10, 0, 1))],
    ),
    # G: rates the bot 4, later stolen funds (urgent) and a second handoff.
    Conversation(
        "g-twice",
        "rest",
        [
            Say(at(DAY2, 11, 0), "再见", "goodbye"),
            Say(at(DAY2, 11, 0, 10), '/rate{"rating":"4"}', "rate", rating="4"),
            Say(at(DAY2, 11, 10), "账户被盗了", "account_compromised"),
            Pause(at(DAY2, 11, 10, 1)),
            Resume(at(DAY2, 11, 31, 1)),
            Say(at(DAY2, 11, 32), "谢谢", "thank"),
            Say(at(DAY2, 11, 33), "转人工", "request_human"),
            Pause(at(DAY2, 11, 33, 1)),
        ],
    ),
    # H: no channel recorded; pastes a mnemonic and an address; a rating without a number.
    Conversation(
        "h-secrets",
        None,
        [
            Say(at(DAY2, 15, 0), MNEMONIC, "nlu_fallback"),
            Say(at(DAY2, 15, 1), f"我的地址 {ADDRESS}", "nlu_fallback"),
            Say(at(DAY2, 15, 2), "怎么回事  ", "nlu_fallback"),
            Say(at(DAY2, 15, 3), "还行吧", "rate"),
        ],
    ),
]

TICKETS = [
    TicketRow(
        "c-fallback-handoff",
        "rest",
        Reason.FALLBACK,
        at(DAY1, 14, 0, 21),
        assigned_at=at(DAY1, 14, 2, 21),  # waited 120 s
        closed_at=at(DAY1, 14, 12, 21),  # handled 600 s
    ),
    TicketRow(
        "d-requested-over-midnight",
        "socketio",
        Reason.REQUESTED,
        at(DAY1, 23, 50, 1),
        assigned_at=at(DAY1, 23, 55, 1),  # 300 s
        closed_at=at(DAY2, 0, 15, 1),  # 1200 s
    ),
    TicketRow(
        "e-cancelled",
        "rest",
        Reason.REQUESTED,
        at(DAY2, 9, 0, 1),
        closed_at=at(DAY2, 9, 0, 30),
        cancelled=True,
    ),
    TicketRow("f-complaint-waiting", "wechat", Reason.COMPLAINT, at(DAY2, 10, 0, 1)),
    TicketRow(
        "g-twice",
        "rest",
        Reason.COMPROMISED,
        at(DAY2, 11, 10, 1),
        assigned_at=at(DAY2, 11, 11, 1),  # 60 s
        closed_at=at(DAY2, 11, 31, 1),  # 1200 s
    ),
    TicketRow(
        "g-twice",
        "rest",
        Reason.REQUESTED,
        at(DAY2, 11, 33, 1),
        assigned_at=at(DAY2, 11, 33, 31),  # 30 s, still open
    ),
]


def _events(conversation: Conversation) -> list[Event]:
    events: list[Event] = []
    for step in conversation.steps:
        stamp = step.when.timestamp()
        if isinstance(step, Say):
            entities = [{"entity": "rating", "value": step.rating}] if step.rating else []
            events.append(
                UserUttered(
                    step.text,
                    intent={"name": step.intent, "confidence": 0.9},
                    entities=entities,
                    timestamp=stamp,
                    input_channel=conversation.channel,
                )
            )
            events.append(BotUttered("…", timestamp=stamp + 0.5))
            events.append(ActionExecuted("action_listen", timestamp=stamp + 0.6))
        elif isinstance(step, Pause):
            events.append(ConversationPaused(timestamp=stamp))
        else:
            events.append(ConversationResumed(timestamp=stamp))
    return events


def write_tracker_store(path: Path, conversations: list[Conversation]) -> str:
    """Saves the conversations with Rasa's SQLTrackerStore; returns its SQLAlchemy URL."""
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))

    async def save_all() -> None:
        for conversation in conversations:
            tracker = DialogueStateTracker.from_events(
                conversation.sender_id, _events(conversation)
            )
            await store.save(tracker)

    # Its own thread: Playwright's sync API keeps an event loop running in the test's thread.
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(asyncio.run, save_all()).result()
    store.engine.dispose()
    return f"sqlite:///{path}"


def write_handoff_store(path: Path, rows: list[TicketRow]) -> str:
    """Writes the tickets into the handoff store's table; returns its SQLAlchemy URL."""
    url = f"sqlite:///{path}"
    HandoffStore.from_url(url)  # creates the tables
    engine = sa.create_engine(url, future=True)
    with engine.begin() as connection:
        for row in rows:
            urgency = URGENCY_OF[row.reason]
            connection.execute(
                tickets.insert().values(
                    conversation_id=row.conversation_id,
                    channel=row.channel,
                    reason=row.reason.value,
                    urgency=urgency.value,
                    urgency_rank=urgency.rank,
                    state=(
                        State.CLOSED
                        if row.closed_at
                        else State.ASSIGNED
                        if row.assigned_at
                        else State.QUEUED
                    ).value,
                    summary=json.dumps({}),
                    created_at=row.created_at,
                    assigned_at=row.assigned_at,
                    closed_at=row.closed_at,
                    agent="li" if row.assigned_at else None,
                    cancelled=row.cancelled,
                    timeout_notified=False,
                )
            )
    engine.dispose()
    return url


def known_sources(workdir: Path) -> InsightSources:
    """The stores holding CONVERSATIONS and TICKETS."""
    return InsightSources(
        write_tracker_store(workdir / "tracker.db", CONVERSATIONS),
        write_handoff_store(workdir / "handoff.db", TICKETS),
    )
