"""The live view's record: the flags and state a turn leaves, the in-memory buffer written in the
background, and the rows on SQLite and PostgreSQL (two servers, pruning)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.handoff.live import (
    LIVE_FOR,
    Flag,
    LiveBoard,
    LiveRecorder,
    LiveState,
    observe,
)
from bot.handoff.store import HandoffStore
from scripts.production_stack import Postgres

START = time.time() - 3600  # within the view
_clock = iter(range(1, 1_000_000))


def at() -> float:
    """Timestamps in the order the events are made."""
    return START + next(_clock)


def user(intent: str, confidence: float = 0.9, channel: str = "rest") -> UserUttered:
    return UserUttered(
        f"一句{intent}",
        intent={"name": intent, "confidence": confidence},
        input_channel=channel,
        timestamp=at(),
    )


def bot(response: str) -> BotUttered:
    return BotUttered("…", metadata={"utter_action": response}, timestamp=at())


def action(name: str) -> ActionExecuted:
    return ActionExecuted(name, timestamp=at())


def clarified(intent: str = "nlu_fallback") -> list[Event]:
    """A turn the bot did not understand: it offered the likely topics."""
    return [user(intent, 0.3), action("action_help_center"), bot("utter_clarify")]


def answered(intent: str = "supported_coins") -> list[Event]:
    return [user(intent), action(f"utter_{intent}"), bot(f"utter_{intent}")]


def tracker_of(*turns: list[Event], sender: str = "live-1") -> DialogueStateTracker:
    events = [event for turn in turns for event in turn]
    return DialogueStateTracker.from_events(sender, events)


def state(
    conversation_id: str,
    minutes_ago: float = 0,
    flags: tuple[Flag, ...] = (),
    intent: str = "supported_coins",
    now: datetime | None = None,
    started_minutes_ago: float | None = None,
) -> LiveState:
    now = now or datetime.now(timezone.utc)
    when = now - timedelta(minutes=minutes_ago)
    since = now - timedelta(minutes=started_minutes_ago or minutes_ago)
    return LiveState(conversation_id, "rest", intent, 0.9, flags, 0, when, since)


# What a turn leaves


def test_a_theft_report_flags_the_conversation_for_the_rest_of_its_session() -> None:
    reported = tracker_of(
        [user("account_compromised"), action("action_offer_freeze")], answered("greet")
    )
    seen = observe(reported)
    assert seen is not None and seen.flags == (Flag.THEFT,)
    assert seen.last_intent == "greet"  # what the user said last, not the flag's cause


def test_a_freeze_flags_a_theft_whatever_the_user_said() -> None:
    froze = tracker_of([user("affirm"), action("action_freeze_account"), action("action_handoff")])
    seen = observe(froze)
    assert seen is not None and Flag.THEFT in seen.flags


def test_a_hidden_secret_flags_the_conversation() -> None:
    by_intent = observe(tracker_of([user("share_secret")], answered()))
    by_warning = observe(tracker_of([user("greet"), bot("utter_secret_shared")], answered()))
    assert by_intent is not None and by_intent.flags == (Flag.SECRET_SHARED,)
    assert by_warning is not None and by_warning.flags == (Flag.SECRET_SHARED,)


def test_two_turns_in_a_row_the_bot_did_not_understand_flag_fallbacks() -> None:
    once = observe(tracker_of(answered(), clarified()))
    assert once is not None and once.fallbacks_in_row == 1 and once.flags == ()
    # The second: a plain yes to the topics, answered with the ask to pick one.
    twice = observe(
        tracker_of(answered(), clarified(), [user("affirm"), bot("utter_clarify_pick")])
    )
    assert twice is not None and twice.fallbacks_in_row == 2
    assert twice.flags == (Flag.FALLBACKS,)
    looping = observe(
        tracker_of(
            [user("account_compromised"), action("action_offer_freeze")],
            clarified(),
            [user("affirm"), bot("utter_clarify_pick")],
            clarified(),
        )
    )
    assert looping is not None and looping.fallbacks_in_row == 3
    assert looping.flags == (Flag.THEFT, Flag.FALLBACKS)


def test_an_understood_turn_ends_the_run_of_fallbacks() -> None:
    recovered = observe(tracker_of(clarified(), clarified(), answered()))
    assert recovered is not None and recovered.fallbacks_in_row == 0 and recovered.flags == ()
    again = observe(tracker_of(clarified(), clarified(), answered(), clarified()))
    assert again is not None and again.fallbacks_in_row == 1


def test_messages_to_a_human_are_no_fallbacks_of_the_bot() -> None:
    handed_off = tracker_of(
        clarified(),
        [user("nlu_fallback", 0.2), action("action_handoff"), ConversationPaused()],
        [user("nlu_fallback", 0.1)],
        [user("nlu_fallback", 0.1)],
    )
    seen = observe(handed_off)
    assert seen is not None and seen.fallbacks_in_row == 0 and Flag.FALLBACKS not in seen.flags
    # Back with the bot, the turns before the handoff still count as the bot's.
    resumed = tracker_of(
        clarified(),
        [user("nlu_fallback", 0.2), action("action_handoff"), ConversationPaused()],
        [user("nlu_fallback", 0.1)],
        [ConversationResumed(), bot("utter_ask_rating")],
        clarified(),
    )
    seen = observe(resumed)
    assert seen is not None and seen.fallbacks_in_row == 1


def test_a_new_session_starts_without_the_old_flags() -> None:
    later = tracker_of(
        [user("account_compromised"), action("action_offer_freeze")],
        clarified(),
        clarified(),
        [action("action_session_start"), SessionStarted(), action("action_listen")],
        answered("greet"),
    )
    seen = observe(later)
    assert seen is not None and seen.flags == () and seen.fallbacks_in_row == 0


def test_the_state_names_the_last_message_its_channel_intent_and_confidence() -> None:
    opening = answered()
    last = user("network_fee", 0.87, channel="widget")
    seen = observe(tracker_of(opening, [last], sender="widget:abc"))
    assert seen is not None
    assert (seen.conversation_id, seen.channel) == ("widget:abc", "widget")
    assert (seen.last_intent, seen.confidence) == ("network_fee", pytest.approx(0.87))
    assert seen.at == datetime.fromtimestamp(last.timestamp, timezone.utc)
    assert seen.since == datetime.fromtimestamp(opening[0].timestamp, timezone.utc)
    assert observe(tracker_of([action("action_listen")])) is None  # nothing said yet


def test_observing_a_long_conversation_costs_the_turn_next_to_nothing() -> None:
    long_talk = tracker_of(*[answered() if i % 3 else clarified() for i in range(100)])
    assert len(long_talk.events) >= 300
    started = time.perf_counter()
    for _ in range(100):
        observe(long_talk)
    assert (time.perf_counter() - started) / 100 < 0.002  # well under a turn's milliseconds


# The rows


@pytest.fixture
def board(store: HandoffStore) -> LiveBoard:
    return LiveBoard(store.engine)


def test_a_state_is_written_once_per_conversation_seen_since_its_first_message(
    board: LiveBoard,
) -> None:
    now = datetime.now(timezone.utc)
    first = state("c-1", minutes_ago=30, now=now)
    board.upsert([first])
    latest = state("c-1", 1, (Flag.THEFT,), "greet", now, started_minutes_ago=30)
    board.upsert([latest])
    [row] = board.rows()
    assert row.first_seen_at == first.at and row.last_user_at == latest.at
    assert row.flags == (Flag.THEFT,) and row.last_intent == "greet"
    assert board.get("c-1") == row and board.get("c-2") is None


def test_an_earlier_state_never_replaces_a_later_one(board: LiveBoard) -> None:
    """Two servers: the one that served the earlier message writes last."""
    later = state("c-1", minutes_ago=1, flags=(Flag.FALLBACKS,))
    board.upsert([later])
    board.upsert([state("c-1", minutes_ago=2)])
    row = board.get("c-1")
    assert row is not None and row.flags == (Flag.FALLBACKS,) and row.last_user_at == later.at


def test_flagged_conversations_come_first_then_those_seen_first(board: LiveBoard) -> None:
    board.upsert(
        [
            state("plain-old", minutes_ago=50),
            state("flagged-new", minutes_ago=1, flags=(Flag.SECRET_SHARED,)),
            state("plain-new", minutes_ago=2),
            state("flagged-old", minutes_ago=40, flags=(Flag.THEFT, Flag.FALLBACKS)),
        ]
    )
    assert [row.conversation_id for row in board.rows()] == [
        "flagged-old",
        "flagged-new",
        "plain-old",
        "plain-new",
    ]
    assert [row.conversation_id for row in board.rows(limit=1)] == ["flagged-old"]


def test_silent_conversations_leave_the_view_and_are_pruned(board: LiveBoard) -> None:
    now = datetime.now(timezone.utc)
    hours = LIVE_FOR.total_seconds() / 60
    board.upsert([state("gone", minutes_ago=hours + 1, now=now), state("here", now=now)])
    assert [row.conversation_id for row in board.rows(now=now)] == ["here"]
    assert board.count(now) == 1 and board.get("gone", now) is None
    assert board.prune(now) == 1
    assert board.prune(now) == 0
    # Back before the row was pruned, in a new session: seen since its new start.
    board.upsert([state("back", minutes_ago=hours + 5, now=now)])
    board.upsert([state("back", now=now)])
    back = board.get("back", now)
    assert back is not None and back.first_seen_at == back.last_user_at


def test_many_conversations_are_written_in_one_go(board: LiveBoard) -> None:
    board.upsert([state(f"many-{i}", minutes_ago=i / 100) for i in range(250)])
    assert board.count() == 250
    assert len(board.rows(limit=200)) == 200


# The recorder


def test_a_turn_writes_nothing_until_the_flush(run: Any, board: LiveBoard) -> None:
    recorder = LiveRecorder()
    recorder.record(tracker_of(answered(), sender="c-1"))
    recorder.record(tracker_of(answered(), clarified(), clarified(), sender="c-1"))
    recorder.record(tracker_of(answered(), sender="c-2"))
    assert board.count() == 0 and recorder.pending == 2
    assert run(recorder.flush(board)) == 2
    assert recorder.pending == 0
    row = board.get("c-1")
    assert row is not None and row.flags == (Flag.FALLBACKS,)  # the latest state of c-1
    assert run(recorder.flush(board)) == 0


def test_the_recorder_keeps_at_most_its_bound_newest_first(run: Any, board: LiveBoard) -> None:
    recorder = LiveRecorder(max_pending=3)
    for number in range(5):
        recorder.keep(state(f"c-{number}"))
    recorder.keep(state("c-2", flags=(Flag.THEFT,)))  # noted again: the newest
    assert recorder.pending == 3
    run(recorder.flush(board))
    assert {row.conversation_id for row in board.rows()} == {"c-2", "c-3", "c-4"}


def test_a_failed_write_keeps_the_states_for_the_next(
    run: Any, tmp_path: Path, board: LiveBoard
) -> None:
    recorder = LiveRecorder()
    broken = LiveBoard(sa.create_engine(f"sqlite:///{tmp_path / 'no-tables.db'}"))
    recorder.keep(state("c-1", minutes_ago=2))
    recorder.keep(state("c-2", minutes_ago=2))
    with pytest.raises(sa.exc.OperationalError):
        run(recorder.flush(broken))
    recorder.keep(state("c-1", flags=(Flag.THEFT,)))  # a newer state while it failed
    assert run(recorder.flush(board)) == 2
    c1 = board.get("c-1")
    assert c1 is not None and c1.flags == (Flag.THEFT,)
    assert board.get("c-2") is not None


def test_the_background_task_writes_every_interval(run: Any, board: LiveBoard) -> None:
    recorder = LiveRecorder()

    async def serve() -> int:
        task = asyncio.ensure_future(recorder.run(board, every=0.05))
        try:
            recorder.keep(state("c-1"))
            for _ in range(100):
                await asyncio.sleep(0.02)
                if await asyncio.to_thread(board.count):
                    break
            recorder.keep(state("c-2"))
            await asyncio.sleep(0.3)
            return await asyncio.to_thread(board.count)
        finally:
            task.cancel()

    assert run(serve()) == 2


# PostgreSQL, two servers


@pytest.fixture
def pg_boards(postgres: Postgres) -> Iterator[tuple[LiveBoard, LiveBoard]]:
    url = postgres.url("tracker")
    yield LiveBoard(HandoffStore.from_url(url).engine), LiveBoard(HandoffStore.from_url(url).engine)


def test_two_servers_write_their_conversations_on_postgresql(
    run: Any, pg_boards: tuple[LiveBoard, LiveBoard]
) -> None:
    one, two = pg_boards
    prefix = f"pg-{time.time_ns()}"
    first, second = LiveRecorder(), LiveRecorder()
    first.keep(state(f"{prefix}-a", minutes_ago=3))
    first.keep(state(f"{prefix}-shared", minutes_ago=2))
    second.keep(state(f"{prefix}-b", minutes_ago=3, flags=(Flag.SECRET_SHARED,)))
    second.keep(state(f"{prefix}-shared", minutes_ago=1, flags=(Flag.THEFT,)))

    async def both() -> None:
        await asyncio.gather(second.flush(two), first.flush(one))

    run(both())
    run(first.flush(one))
    rows = {row.conversation_id: row for row in two.rows(limit=10_000)}
    assert {f"{prefix}-a", f"{prefix}-b", f"{prefix}-shared"} <= set(rows)
    assert rows[f"{prefix}-shared"].flags == (Flag.THEFT,)  # the later message's state
    assert rows[f"{prefix}-b"].flags == (Flag.SECRET_SHARED,)
    # A slow server's stale state of a conversation moves it neither back nor out of the view.
    first.keep(state(f"{prefix}-a", minutes_ago=LIVE_FOR.total_seconds() / 60 + 30))
    run(first.flush(one))
    one.prune()
    kept = two.get(f"{prefix}-a")
    assert kept is not None and kept.last_user_at == rows[f"{prefix}-a"].last_user_at
