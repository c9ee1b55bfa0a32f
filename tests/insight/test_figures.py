"""Every figure of the insight report against a known set of conversations and tickets.

The tracker store is written through Rasa's own SQLTrackerStore (SQLite), the tickets into the
handoff store's table with chosen times, so each expected number below can be counted by hand
from ``CONVERSATIONS`` and ``TICKETS``.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
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
from bot.handoff.store import HandoffStore, tickets
from bot.insight.figures import (
    ChannelActivity,
    DayActivity,
    Figures,
    InsightError,
    InsightSources,
    IntentCount,
    RatingGroup,
    ReasonCount,
    TextCount,
    compute_figures,
    percentile,
    redact,
)

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


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> InsightSources:
    return known_sources(tmp_path_factory.mktemp("insight"))


@pytest.fixture(scope="module")
def figures(sources: InsightSources) -> Figures:
    return sources.figures(zone=ZONE)


def test_period_and_totals(figures: Figures) -> None:
    assert figures.timezone == "Asia/Shanghai"
    assert (figures.first_day, figures.last_day) == (DAY1, DAY2)
    assert figures.conversations == 8
    assert figures.user_messages == 28


def test_conversations_and_messages_per_local_day_and_channel(figures: Figures) -> None:
    # D wrote at 23:50 and 00:10 local time (both on 1 March in UTC): it counts on both days.
    assert figures.days == (
        DayActivity(
            DAY1,
            conversations=4,
            user_messages=13,
            channels=(ChannelActivity("rest", 2, 8), ChannelActivity("socketio", 2, 5)),
        ),
        DayActivity(
            DAY2,
            conversations=5,
            user_messages=15,
            channels=(
                ChannelActivity("rest", 2, 8),
                ChannelActivity("unknown", 1, 4),
                ChannelActivity("socketio", 1, 2),
                ChannelActivity("wechat", 1, 1),
            ),
        ),
    )
    assert figures.channels == (
        ChannelActivity("rest", 4, 16),
        ChannelActivity("socketio", 2, 7),
        ChannelActivity("unknown", 1, 4),
        ChannelActivity("wechat", 1, 1),
    )


def test_intents_and_fallback_share_count_only_messages_to_the_bot(figures: Figures) -> None:
    # 28 messages, 4 of them written while an agent owned the conversation (C: 在吗 and 好的,
    # D: 你好, E: 不用了).
    understanding = figures.understanding
    assert understanding.messages == 24
    assert understanding.fallbacks == 7
    assert understanding.fallback_share == 7 / 24
    assert understanding.intents == (
        IntentCount("nlu_fallback", 7),
        IntentCount("rate", 6),
        IntentCount("goodbye", 3),
        IntentCount("request_human", 3),
        IntentCount("account_compromised", 1),
        IntentCount("complaint", 1),
        IntentCount("network_fee", 1),
        IntentCount("thank", 1),
        IntentCount("transfer_pending", 1),
    )


def test_containment_and_reasons(figures: Figures) -> None:
    # E's only ticket was cancelled; G counts once, under its first ticket's reason.
    containment = figures.containment
    assert (containment.conversations, containment.contained, containment.handed_off) == (8, 4, 4)
    assert containment.rate == 0.5
    assert containment.by_reason == (
        ReasonCount(Reason.REQUESTED, 1),
        ReasonCount(Reason.FALLBACK, 1),
        ReasonCount(Reason.COMPROMISED, 1),
        ReasonCount(Reason.COMPLAINT, 1),
    )


def test_waiting_and_handling_times(figures: Figures) -> None:
    times = figures.handoff_times
    assert (times.tickets, times.cancelled, times.claimed, times.closed) == (5, 1, 4, 3)
    assert times.wait_median == 90.0  # waits 30, 60, 120, 300
    assert times.wait_p90 == 300.0
    assert times.handling_median == 1200.0  # 600, 1200, 1200


def test_ratings(figures: Figures) -> None:
    # A 5 (button), B 4 (words), C 2 after its handoff, D 3 after its handoff, G 4 before its
    # handoff; H's "还行吧" holds no number.
    ratings = figures.ratings
    assert ratings.overall == RatingGroup("all", (0, 1, 1, 2, 1))
    assert ratings.overall.count == 5
    assert ratings.overall.average == 18 / 5
    assert ratings.by_channel == (
        RatingGroup("rest", (0, 1, 0, 1, 1)),
        RatingGroup("socketio", (0, 0, 1, 1, 0)),
    )
    assert ratings.by_channel[0].average == 11 / 3
    assert ratings.by_channel[1].average == 3.5
    assert ratings.handoff == RatingGroup("handoff", (0, 1, 1, 0, 0))
    assert ratings.handoff.average == 2.5
    assert ratings.bot_only == RatingGroup("bot_only", (0, 0, 0, 2, 1))
    assert ratings.bot_only.average == 13 / 3


def test_low_confidence_messages_are_grouped_and_masked(figures: Figures) -> None:
    # C's "在吗" fell back while the agent owned the conversation: not a candidate.
    assert figures.low_confidence == (
        TextCount("怎么回事", 4),
        TextCount("[已隐藏]", 1),
        TextCount("什么意思", 1),
        TextCount("我的地址 0x1234…5678", 1),
    )


def test_figures_as_json(figures: Figures) -> None:
    data = json.loads(json.dumps(figures.as_dict(), ensure_ascii=False))
    assert data["conversations"] == 8
    assert data["days"][0]["day"] == "2026-03-01"
    assert data["understanding"]["fallback_share"] == 7 / 24
    assert data["containment"]["rate"] == 0.5
    assert data["containment"]["by_reason"][0] == {"reason": "requested", "conversations": 1}
    assert data["handoff_times"]["wait_p90"] == 300.0
    assert data["ratings"]["overall"] == {
        "name": "all",
        "counts": [0, 1, 1, 2, 1],
        "count": 5,
        "average": 3.6,
    }
    assert data["low_confidence"][0] == {"text": "怎么回事", "count": 4}


def test_a_window_keeps_who_owned_the_conversation(sources: InsightSources) -> None:
    # D's pause happened before the window: its "你好" on day 2 still went to the agent.
    windowed = sources.figures(since=at(DAY2, 0, 0), zone=ZONE)
    assert (windowed.first_day, windowed.last_day) == (DAY2, DAY2)
    assert windowed.user_messages == 15
    assert windowed.understanding.messages == 13
    times = windowed.handoff_times
    assert (times.tickets, times.cancelled, times.claimed, times.closed) == (3, 1, 2, 1)


def test_empty_stores_give_empty_figures(tmp_path: Path) -> None:
    empty = InsightSources(
        write_tracker_store(tmp_path / "tracker.db", []),
        write_handoff_store(tmp_path / "handoff.db", []),
    ).figures(zone=ZONE)
    assert empty == compute_figures([], [], ZONE)
    assert (empty.conversations, empty.user_messages, empty.first_day) == (0, 0, None)
    assert empty.understanding.fallback_share is None
    assert empty.containment.rate is None
    assert empty.handoff_times.wait_median is None
    assert empty.ratings.overall.average is None
    json.dumps(empty.as_dict())


def test_a_missing_sqlite_file_is_an_error_not_an_empty_database(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    sources = InsightSources(f"sqlite:///{missing}", f"sqlite:///{tmp_path / 'handoff.db'}")
    with pytest.raises(InsightError, match="no SQLite database"):
        sources.figures(zone=ZONE)
    assert not missing.exists()


def test_sources_default_to_the_servers_settings(tmp_path: Path) -> None:
    env = {"TRACKER_DB_URL": "postgresql://support@db/rasa"}
    env["HANDOFF_DB_URL"] = "postgresql://support@db/handoff"
    sources = InsightSources.from_env(env)
    assert sources.tracker_url == "postgresql://support@db/rasa"
    assert sources.handoff_url == "postgresql://support@db/handoff"
    assert InsightSources.from_env({}).tracker_url.endswith("/var/tracker.db")


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], None), ([5.0], 5.0), ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 9), ([30, 60, 120, 300], 300)],
)
def test_p90_is_the_nearest_rank(values: list[float], expected: float | None) -> None:
    assert percentile(values, 90) == expected


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("  转账   没到账 ", "转账 没到账"),
        (f"hash 0x{'ab' * 32} 呢", "hash 0xabab…abab 呢"),
        ("TRx地址 TJRyWwFs9wTFGZg3JbrVriFbNfCug5tDeC", "TRx地址 TJRyWw…tDeC"),
        ("邮箱 alice.w@example.com", "邮箱 a***@example.com"),
        ("手机13812345678", "手机138****5678"),
        ("验证码 123456", "验证码 ******"),
        (f"助记词 {MNEMONIC}", "助记词 [已隐藏]"),
        ("助记词 " + " ".join("的一是在不了有和人这中大"), "助记词 [已隐藏]"),
    ],
)
def test_redact_masks_identifiers_and_secrets(text: str, shown: str) -> None:
    assert redact(text) == shown
