"""Support figures computed from the tracker store and the handoff tickets.

Definitions, so that every number can be checked by hand:

- A conversation is a sender id with at least one user message. It counts on every local day
  (SUPPORT_TIMEZONE) and every channel it had a user message on.
- Messages "to the bot" are user messages sent while no human owned the conversation (between
  a pause and the next resume, session start or restart the user talks to an agent). Intents,
  the fallback share and the low-confidence candidates count only those.
- A conversation is handed off when it has a ticket that was not cancelled; the others are
  contained. A handed-off conversation counts under the reason of its first such ticket.
- Waiting time is claim − open of claimed tickets; handling time is close − claim of tickets
  an agent closed; cancelled tickets count for neither. The p90 is the nearest-rank percentile.
- A rating is a user message with intent ``rate`` holding a 1–5 value (the ``rating`` entity,
  else the text). It counts for the handoff when one of the conversation's tickets had been
  closed by an agent before it was given, else for the bot alone.
"""

from __future__ import annotations

import json
import logging
import os
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime, timezone, tzinfo
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from bot.database import sqlite_in_var
from bot.dialogue.ratings import rating_from
from bot.handoff.records import Reason
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import tickets
from bot.privacy import mask_address, mask_email, mask_hash, mask_phone
from bot.support_hours import SupportHours

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
RATE_INTENT = "rate"
UNKNOWN_CHANNEL = "unknown"
LOW_CONFIDENCE_LIMIT = 20
STARS = (1, 2, 3, 4, 5)

# Rasa's SQLTrackerStore table, read only; Rasa creates it.
events = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)
# Events after which a human owns the conversation, and those that give it back to the bot.
PAUSING = {"pause"}
RESUMING = {"resume", "restart", "session_started"}


class InsightError(RuntimeError):
    """A store the figures are read from is missing or unreadable; the message says which."""


# What was read from the stores


@dataclass(frozen=True)
class UserTurn:
    """One user message as the tracker store keeps it."""

    conversation_id: str
    at: datetime
    channel: str
    intent: str | None
    text: str
    rating_entity: str | None = None
    to_bot: bool = True


@dataclass(frozen=True)
class HandoffRecord:
    """The parts of a handoff ticket the figures use."""

    conversation_id: str
    channel: str
    reason: Reason
    created_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    cancelled: bool


# The figures


@dataclass(frozen=True)
class ChannelActivity:
    """Conversations with a user message on the channel, and those messages."""

    channel: str
    conversations: int
    user_messages: int


@dataclass(frozen=True)
class DayActivity:
    """Conversations with a user message on the local day, and those messages, per channel."""

    day: date
    conversations: int
    user_messages: int
    channels: tuple[ChannelActivity, ...]


@dataclass(frozen=True)
class IntentCount:
    intent: str
    messages: int


@dataclass(frozen=True)
class Understanding:
    """Intents of the messages to the bot, most frequent first, and how many fell back."""

    COMPUTED: ClassVar[tuple[str, ...]] = ("fallback_share",)

    messages: int
    fallbacks: int
    intents: tuple[IntentCount, ...]

    @property
    def fallback_share(self) -> float | None:
        return self.fallbacks / self.messages if self.messages else None


@dataclass(frozen=True)
class ReasonCount:
    reason: Reason
    conversations: int


@dataclass(frozen=True)
class Containment:
    """Conversations the bot handled alone versus those handed to a human, by reason."""

    COMPUTED: ClassVar[tuple[str, ...]] = ("rate",)

    conversations: int
    contained: int
    handed_off: int
    by_reason: tuple[ReasonCount, ...]

    @property
    def rate(self) -> float | None:
        return self.contained / self.conversations if self.conversations else None


@dataclass(frozen=True)
class HandoffTimes:
    """Ticket counts and times in seconds; None where no ticket got that far."""

    tickets: int
    cancelled: int
    claimed: int
    closed: int
    wait_median: float | None
    wait_p90: float | None
    handling_median: float | None


@dataclass(frozen=True)
class RatingGroup:
    """How many ratings of 1, 2, 3, 4 and 5 a group of ratings holds."""

    COMPUTED: ClassVar[tuple[str, ...]] = ("count", "average")

    name: str
    counts: tuple[int, int, int, int, int]

    @property
    def count(self) -> int:
        return sum(self.counts)

    @property
    def average(self) -> float | None:
        total = sum(star * n for star, n in zip(STARS, self.counts, strict=True))
        return total / self.count if self.count else None


@dataclass(frozen=True)
class Ratings:
    overall: RatingGroup
    by_channel: tuple[RatingGroup, ...]
    handoff: RatingGroup
    bot_only: RatingGroup


@dataclass(frozen=True)
class TextCount:
    text: str
    count: int


@dataclass(frozen=True)
class Figures:
    """Everything the report, the dashboard and the summary show."""

    timezone: str
    first_day: date | None
    last_day: date | None
    conversations: int
    user_messages: int
    days: tuple[DayActivity, ...]
    channels: tuple[ChannelActivity, ...]
    understanding: Understanding
    containment: Containment
    handoff_times: HandoffTimes
    ratings: Ratings
    low_confidence: tuple[TextCount, ...]

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values (dates as ISO strings, times in seconds)."""
        plain = _plain(self)
        assert isinstance(plain, dict)
        return plain


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        out = {item.name: _plain(getattr(value, item.name)) for item in fields(value)}
        for name in getattr(value, "COMPUTED", ()):
            out[name] = _plain(getattr(value, name))
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


# Computing


def compute_figures(
    turns: Iterable[UserTurn], handoffs: Iterable[HandoffRecord], zone: tzinfo
) -> Figures:
    """The figures for these user messages and tickets, days taken in ``zone``."""
    turns = sorted(turns, key=lambda turn: turn.at)
    handoffs = sorted(handoffs, key=lambda record: record.created_at)
    days = [turn.at.astimezone(zone).date() for turn in turns]
    conversations = {turn.conversation_id for turn in turns}
    return Figures(
        timezone=str(zone),
        first_day=min(days) if days else None,
        last_day=max(days) if days else None,
        conversations=len(conversations),
        user_messages=len(turns),
        days=_days(turns, days),
        channels=_channels(turns),
        understanding=_understanding(turns),
        containment=_containment(conversations, handoffs),
        handoff_times=_handoff_times(handoffs),
        ratings=_ratings(turns, handoffs),
        low_confidence=_low_confidence(turns),
    )


def _channels(turns: Sequence[UserTurn]) -> tuple[ChannelActivity, ...]:
    """Busiest channel first."""
    senders: dict[str, set[str]] = defaultdict(set)
    messages: Counter[str] = Counter()
    for turn in turns:
        senders[turn.channel].add(turn.conversation_id)
        messages[turn.channel] += 1
    rows = [ChannelActivity(name, len(senders[name]), messages[name]) for name in senders]
    return tuple(sorted(rows, key=lambda row: (-row.user_messages, row.channel)))


def _days(turns: Sequence[UserTurn], days: Sequence[date]) -> tuple[DayActivity, ...]:
    by_day: dict[date, list[UserTurn]] = defaultdict(list)
    for turn, day in zip(turns, days, strict=True):
        by_day[day].append(turn)
    return tuple(
        DayActivity(
            day=day,
            conversations=len({turn.conversation_id for turn in by_day[day]}),
            user_messages=len(by_day[day]),
            channels=_channels(by_day[day]),
        )
        for day in sorted(by_day)
    )


def _understanding(turns: Sequence[UserTurn]) -> Understanding:
    to_bot = [turn for turn in turns if turn.to_bot]
    intents = Counter(turn.intent for turn in to_bot if turn.intent)
    ranked = sorted(intents.items(), key=lambda item: (-item[1], item[0]))
    return Understanding(
        messages=len(to_bot),
        fallbacks=intents[FALLBACK_INTENT],
        intents=tuple(IntentCount(name, count) for name, count in ranked),
    )


def _handed_off(handoffs: Iterable[HandoffRecord]) -> dict[str, HandoffRecord]:
    """Each handed-off conversation's first ticket that was not cancelled."""
    first: dict[str, HandoffRecord] = {}
    for record in handoffs:
        if not record.cancelled:
            first.setdefault(record.conversation_id, record)
    return first


def _containment(conversations: set[str], handoffs: Sequence[HandoffRecord]) -> Containment:
    first = {
        conversation: record
        for conversation, record in _handed_off(handoffs).items()
        if conversation in conversations
    }
    reasons = Counter(record.reason for record in first.values())
    order = list(Reason)
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], order.index(item[0])))
    return Containment(
        conversations=len(conversations),
        contained=len(conversations) - len(first),
        handed_off=len(first),
        by_reason=tuple(ReasonCount(reason, count) for reason, count in ranked),
    )


def percentile(values: Sequence[float], percent: int) -> float | None:
    """Nearest rank: the smallest value with at least ``percent`` % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[rank - 1]


def _handoff_times(handoffs: Sequence[HandoffRecord]) -> HandoffTimes:
    served = [record for record in handoffs if not record.cancelled]
    waits = [
        (record.assigned_at - record.created_at).total_seconds()
        for record in served
        if record.assigned_at is not None
    ]
    handling = [
        (record.closed_at - record.assigned_at).total_seconds()
        for record in served
        if record.assigned_at is not None and record.closed_at is not None
    ]
    return HandoffTimes(
        tickets=len(served),
        cancelled=len(handoffs) - len(served),
        claimed=len(waits),
        closed=len(handling),
        wait_median=statistics.median(waits) if waits else None,
        wait_p90=percentile(waits, 90),
        handling_median=statistics.median(handling) if handling else None,
    )


def turn_rating(turn: UserTurn) -> int | None:
    """The 1–5 rating a user message gives, if it is a rating."""
    if turn.intent != RATE_INTENT:
        return None
    return rating_from(turn.rating_entity if turn.rating_entity is not None else turn.text)


def _group(name: str, ratings: Iterable[int]) -> RatingGroup:
    found = Counter(ratings)
    counts = tuple(found[star] for star in STARS)
    return RatingGroup(name, (counts[0], counts[1], counts[2], counts[3], counts[4]))


def _ratings(turns: Sequence[UserTurn], handoffs: Sequence[HandoffRecord]) -> Ratings:
    closed_by_agent: dict[str, list[datetime]] = defaultdict(list)
    for record in handoffs:
        if not record.cancelled and record.closed_at is not None:
            closed_by_agent[record.conversation_id].append(record.closed_at)
    rated = [(turn, rating) for turn in turns if (rating := turn_rating(turn)) is not None]
    by_channel: dict[str, list[int]] = defaultdict(list)
    after_handoff: list[int] = []
    bot_only: list[int] = []
    for turn, rating in rated:
        by_channel[turn.channel].append(rating)
        closed = closed_by_agent.get(turn.conversation_id, [])
        (after_handoff if any(at <= turn.at for at in closed) else bot_only).append(rating)
    channels = sorted(by_channel, key=lambda name: (-len(by_channel[name]), name))
    return Ratings(
        overall=_group("all", (rating for _, rating in rated)),
        by_channel=tuple(_group(name, by_channel[name]) for name in channels),
        handoff=_group("handoff", after_handoff),
        bot_only=_group("bot_only", bot_only),
    )


def _hidden(_: str) -> str:
    return "[已隐藏]"


_SECRETS: list[tuple[re.Pattern[str], Callable[[str], str]]] = [
    (re.compile(r"(?<![0-9A-Za-z])(?:0x)?[0-9a-fA-F]{64}(?![0-9A-Za-z])"), mask_hash),
    (
        re.compile(
            r"(?<![0-9A-Za-z])(?:0x[0-9a-fA-F]{40}|T[1-9A-HJ-NP-Za-km-z]{33}"
            r"|bc1[02-9ac-hj-np-z]{11,71}|[13][1-9A-HJ-NP-Za-km-z]{25,34})(?![0-9A-Za-z])"
        ),
        mask_address,
    ),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), mask_email),
    # A mnemonic pasted into the chat: twelve or more words, English or single characters.
    (re.compile(r"(?:\b[a-zA-Z]{3,8}\s+){11,}[a-zA-Z]{3,8}\b"), _hidden),
    (
        re.compile(
            r"(?<![\u4e00-\u9fff])(?:[\u4e00-\u9fff]\s+){11,}[\u4e00-\u9fff](?![\u4e00-\u9fff])"
        ),
        _hidden,
    ),
    (re.compile(r"(?<!\d)\d{6,}(?!\d)"), mask_phone),
]


def redact(text: str) -> str:
    """A user message fit to show in a report: whitespace collapsed, identifiers masked."""
    cleaned = " ".join(text.split())
    for pattern, mask in _SECRETS:
        cleaned = pattern.sub(_masking(mask), cleaned)
    return cleaned


def _masking(mask: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    return lambda match: mask(match.group(0))


def _low_confidence(turns: Sequence[UserTurn]) -> tuple[TextCount, ...]:
    """The most frequent messages to the bot that fell back: candidates for training examples."""
    texts = Counter(
        redact(turn.text) for turn in turns if turn.to_bot and turn.intent == FALLBACK_INTENT
    )
    texts.pop("", None)
    ranked = sorted(texts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(TextCount(text, count) for text, count in ranked[:LOW_CONFIDENCE_LIMIT])


# Reading the stores


def _table_exists(engine: Engine, name: str) -> bool:
    return bool(sa.inspect(engine).has_table(name))


def load_turns(engine: Engine, since: datetime | None = None) -> list[UserTurn]:
    """User messages of the tracker store (from ``since`` on), with who they were addressed to."""
    if not _table_exists(engine, events.name):
        return []
    wanted = events.c.type_name.in_(["user", *PAUSING, *RESUMING])
    query = sa.select(
        events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.data
    ).where(wanted)
    if since is not None:
        # State changes before the window still say who owns a conversation inside it.
        query = query.where(
            sa.or_(events.c.type_name != "user", events.c.timestamp >= since.timestamp())
        )
    query = query.order_by(events.c.sender_id, events.c.id)
    turns: list[UserTurn] = []
    paused: dict[str, bool] = {}
    with engine.connect() as connection:
        for sender_id, type_name, stamp, raw in connection.execute(query):
            if type_name in PAUSING or type_name in RESUMING:
                paused[sender_id] = type_name in PAUSING
                continue
            turns.append(_turn(sender_id, stamp, raw, to_bot=not paused.get(sender_id, False)))
    return turns


def _turn(sender_id: str, stamp: float | None, raw: str | None, to_bot: bool) -> UserTurn:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        logger.warning("unreadable user event in conversation %s", sender_id)
        data = {}
    if not isinstance(data, dict):
        data = {}
    parse = data.get("parse_data") or {}
    intent = (parse.get("intent") or {}).get("name")
    rating = next(
        (
            entity.get("value")
            for entity in parse.get("entities") or []
            if isinstance(entity, Mapping) and entity.get("entity") == "rating"
        ),
        None,
    )
    when = stamp if stamp is not None else data.get("timestamp") or 0.0
    return UserTurn(
        conversation_id=sender_id,
        at=datetime.fromtimestamp(float(when), timezone.utc),
        channel=str(data.get("input_channel") or UNKNOWN_CHANNEL),
        intent=str(intent) if intent else None,
        text=str(data.get("text") or ""),
        rating_entity=str(rating) if rating is not None else None,
        to_bot=to_bot,
    )


def load_handoffs(engine: Engine, since: datetime | None = None) -> list[HandoffRecord]:
    """Handoff tickets opened from ``since`` on, oldest first."""
    if not _table_exists(engine, tickets.name):
        return []
    columns = tickets.c
    query = sa.select(
        columns.conversation_id,
        columns.channel,
        columns.reason,
        columns.created_at,
        columns.assigned_at,
        columns.closed_at,
        columns.cancelled,
    ).order_by(columns.created_at, columns.ticket_id)
    if since is not None:
        query = query.where(columns.created_at >= since)
    with engine.connect() as connection:
        return [
            HandoffRecord(
                conversation_id=row.conversation_id,
                channel=row.channel,
                reason=Reason(row.reason),
                created_at=row.created_at,
                assigned_at=row.assigned_at,
                closed_at=row.closed_at,
                cancelled=bool(row.cancelled),
            )
            for row in connection.execute(query)
        ]


def tracker_url_from_env(env: Mapping[str, str] = os.environ) -> str:
    """The tracker store's URL, TRACKER_DB_URL (var/tracker.db by default)."""
    return env.get("TRACKER_DB_URL") or sqlite_in_var("tracker.db")


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database
    on_disk = parsed.get_backend_name() == "sqlite" and database not in (None, "", ":memory:")
    # SQLite would create an empty file for a mistyped path and report nothing.
    if on_disk and not Path(str(database)).exists():
        raise InsightError(
            f"no SQLite database at {database} (check TRACKER_DB_URL or HANDOFF_DB_URL)"
        )
    return sa.create_engine(url, future=True)


@dataclass(frozen=True)
class InsightSources:
    """Where the figures come from: SQLAlchemy URLs of the tracker store and the handoff store."""

    tracker_url: str
    handoff_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> InsightSources:
        """The stores the servers use: TRACKER_DB_URL and HANDOFF_DB_URL."""
        return cls(tracker_url_from_env(env), HandoffSettings.from_env(env).db_url)

    def figures(self, since: datetime | None = None, zone: tzinfo | None = None) -> Figures:
        """The figures from ``since`` on (everything by default), days in SUPPORT_TIMEZONE."""
        try:
            turns = load_turns(_engine(self.tracker_url), since)
            handoffs = load_handoffs(_engine(self.handoff_url), since)
        except sa.exc.SQLAlchemyError as error:
            raise InsightError(f"cannot read the stores: {error.__class__.__name__}") from error
        return compute_figures(turns, handoffs, zone or SupportHours.from_env().timezone)
