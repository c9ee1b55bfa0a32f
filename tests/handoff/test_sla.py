"""SLA targets in business hours: the time that counts across closed hours, nights and days, each
urgency's targets, the first- and next-response clocks a ticket shows in the console, and the
operator's settings."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.handoff.console_io import ticket_json
from bot.handoff.records import Reason, State, Summary, Ticket, Urgency
from bot.handoff.settings import SlaTargets, UrgencyMinutes
from bot.handoff.sla import (
    ResponseKind,
    SlaPolicy,
    business_deadline,
    business_seconds,
    sla_json,
)
from bot.handoff.store import HandoffStore
from bot.settings import ConfigError, Settings
from bot.support_hours import SupportHours

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 2)
HOURS = SupportHours(time(9), time(21), SHANGHAI)
# What the test stack uses: open all day but the day's last second.
ALWAYS = SupportHours(time(0), time(23, 59, 59), SHANGHAI)
TARGETS = SlaTargets()
POLICY = SlaPolicy(HOURS, TARGETS)


def at(hour: int, minute: int = 0, second: int = 0, days: int = 0) -> datetime:
    """A local time in Asia/Shanghai on DAY (plus ``days``)."""
    day = DAY + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


def ticket(
    urgency: Urgency = Urgency.NORMAL,
    created: datetime | None = None,
    state: State = State.QUEUED,
    first_response: datetime | None = None,
    user_wrote: datetime | None = None,
    agent_replied: datetime | None = None,
    closed: datetime | None = None,
    cancelled: bool = False,
) -> Ticket:
    return Ticket(
        ticket_id=7,
        conversation_id="sla",
        channel="rest",
        reason=Reason.REQUESTED,
        urgency=urgency,
        state=state,
        summary=Summary(),
        created_at=created or at(10),
        assigned_at=None if state is State.QUEUED else created or at(10),
        closed_at=closed,
        agent=None if state is State.QUEUED else "li",
        close_note=None,
        rating=None,
        cancelled=cancelled,
        first_response_at=first_response,
        last_user_message_at=user_wrote,
        last_agent_reply_at=agent_replied or first_response,
    )


# Business time


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        (at(10), at(10, 7), 7),
        # Closing time stops the clock; the next morning starts it again.
        (at(20, 50), at(9, 10, days=1), 20),
        # Opened and read during the night: nothing counts.
        (at(22), at(23, 30), 0),
        (at(21), at(9, days=1), 0),
        # Across two nights: 11 h, a full day of 12 h, then 1 h.
        (at(10), at(10, days=2), 24 * 60),
        # Read before it started (another server's clock): nothing.
        (at(10, 5), at(10), 0),
    ],
)
def test_only_time_within_the_support_hours_counts(
    start: datetime, end: datetime, minutes: int
) -> None:
    assert business_seconds(start, end, HOURS) == minutes * 60


def test_instants_in_any_zone_are_the_same_instants() -> None:
    start = at(20, 50).astimezone(timezone.utc)  # 12:50 UTC
    end = at(9, 10, days=1).astimezone(ZoneInfo("America/New_York"))
    assert business_seconds(start, end, HOURS) == 20 * 60


def test_a_day_the_clocks_go_forward_has_an_hour_less_of_work() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    hours = SupportHours(time(1), time(4), berlin)  # 02:00 becomes 03:00 on 29 March 2026
    change = datetime(2026, 3, 29, tzinfo=berlin)
    assert business_seconds(change, change + timedelta(hours=6), hours) == 2 * 3600
    before = change - timedelta(days=1)
    assert business_seconds(before, before + timedelta(hours=6), hours) == 3 * 3600


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (at(10), 5, at(10, 5)),
        # Five minutes before closing leave ten for the next morning.
        (at(20, 55), 15, at(9, 10, days=1)),
        # Opened at night: due from the opening on.
        (at(23), 5, at(9, 5, days=1)),
        (at(3), 30, at(9, 30)),
        # Longer than a day's hours: over the next day to the one after.
        (at(20), 13 * 60 + 30, at(9, 30, days=2)),
    ],
)
def test_the_due_time_is_when_the_target_is_reached_in_business_hours(
    start: datetime, minutes: int, due: datetime
) -> None:
    assert business_deadline(start, minutes * 60, HOURS) == due
    assert business_seconds(start, due, HOURS) == minutes * 60


def test_always_open_hours_count_wall_clock_time() -> None:
    assert business_seconds(at(12), at(12, 10), ALWAYS) == 600
    assert business_deadline(at(12), 300, ALWAYS) == at(12, 5)


# Each urgency's targets


@pytest.mark.parametrize(
    ("urgency", "first", "next_"),
    [(Urgency.URGENT, 5, 5), (Urgency.HIGH, 15, 10), (Urgency.NORMAL, 30, 15)],
)
def test_each_urgency_is_breached_at_its_own_target(
    urgency: Urgency, first: int, next_: int
) -> None:
    waiting = ticket(urgency, created=at(10))
    just_before = POLICY.state(waiting, at(10, first - 1, 59))
    reached = POLICY.state(waiting, at(10, first))
    assert (just_before.kind, just_before.breached) == (ResponseKind.FIRST, False)
    assert (reached.breached, reached.due_at, reached.target_seconds) == (
        True,
        at(10, first),
        first * 60,
    )

    answered = ticket(
        urgency, at(10), State.ASSIGNED, first_response=at(10, 1), user_wrote=at(10, 2)
    )
    waited = POLICY.state(answered, at(10, 2 + next_))
    assert (waited.kind, waited.breached, waited.due_at) == (
        ResponseKind.NEXT,
        True,
        at(10, 2 + next_),
    )
    assert not POLICY.state(answered, at(10, 1 + next_)).breached


def test_a_clock_is_due_soon_from_four_fifths_of_its_target_until_it_is_breached() -> None:
    urgent = ticket(Urgency.URGENT, created=at(10))  # 5 minutes: due soon from 4
    assert not POLICY.state(urgent, at(10, 3, 59)).due_soon
    soon = POLICY.state(urgent, at(10, 4))
    assert (soon.due_soon, soon.breached, soon.elapsed_seconds) == (True, False, 240)
    late = POLICY.state(urgent, at(10, 5))
    assert (late.due_soon, late.breached) == (False, True)


def test_a_ticket_opened_at_night_waits_for_the_morning_before_its_clock_runs() -> None:
    night = ticket(Urgency.URGENT, created=at(22))
    early = POLICY.state(night, at(8, 59, days=1))
    assert (early.elapsed_seconds, early.breached, early.due_at) == (0, False, at(9, 5, days=1))
    assert POLICY.state(night, at(9, 5, days=1)).breached


def test_the_next_response_clock_runs_from_the_users_message_after_the_last_reply() -> None:
    answered = ticket(
        Urgency.NORMAL, at(10), State.ASSIGNED, first_response=at(10, 2), user_wrote=at(10, 3)
    )
    state = POLICY.state(answered, at(10, 10))
    assert (state.kind, state.elapsed_seconds, state.target_seconds) == (
        ResponseKind.NEXT,
        420,
        900,
    )
    assert (state.due_at, state.breached, state.due_soon) == (at(10, 18), False, False)
    # The user wrote at closing time: the clock resumes the next morning.
    evening = ticket(
        Urgency.NORMAL, at(20), State.ASSIGNED, first_response=at(20, 1), user_wrote=at(20, 55)
    )
    assert POLICY.state(evening, at(9, 9, days=1)).due_at == at(9, 10, days=1)


def test_no_clock_runs_while_the_user_has_the_last_word_answered() -> None:
    replied = ticket(
        Urgency.URGENT,
        at(10),
        State.ASSIGNED,
        first_response=at(10, 1),
        user_wrote=at(10, 2),
        agent_replied=at(10, 3),
    )
    state = POLICY.state(replied, at(12))
    assert (state.kind, state.due_at, state.breached, state.due_soon) == (None, None, False, False)
    # A user message before the first reply is answered by it.
    early = ticket(Urgency.URGENT, at(10), State.ASSIGNED, at(10, 4), user_wrote=at(10, 1))
    assert POLICY.state(early, at(12)).kind is None


def test_a_closed_ticket_reports_its_first_response() -> None:
    late = ticket(Urgency.URGENT, at(10), State.CLOSED, first_response=at(10, 6), closed=at(11))
    state = POLICY.state(late, at(15))
    assert (state.kind, state.elapsed_seconds, state.breached, state.due_soon) == (
        ResponseKind.FIRST,
        360,
        True,
        False,
    )
    on_time = ticket(Urgency.URGENT, at(10), State.CLOSED, first_response=at(10, 4), closed=at(11))
    assert not POLICY.state(on_time, at(15)).breached
    # Closed without a reply: measured up to the close.
    quick = ticket(Urgency.URGENT, at(10), State.CLOSED, closed=at(10, 2))
    assert POLICY.state(quick, at(15)).elapsed_seconds == 120
    assert not POLICY.state(quick, at(15)).breached
    unanswered = ticket(Urgency.URGENT, at(10), State.CLOSED, closed=at(10, 30))
    assert POLICY.state(unanswered, at(15)).breached


def test_a_cancelled_ticket_has_no_clock() -> None:
    cancelled = ticket(Urgency.URGENT, at(10), State.CLOSED, closed=at(10, 30), cancelled=True)
    assert POLICY.state(cancelled, at(15)).as_dict() == {
        "kind": None,
        "due_at": None,
        "elapsed_seconds": None,
        "target_seconds": None,
        "breached": False,
        "due_soon": False,
    }


def test_other_targets_are_used_when_configured() -> None:
    strict = SlaTargets(first=UrgencyMinutes(urgent=1, high=2, normal=3))
    waiting = ticket(Urgency.HIGH, created=at(10))
    assert SlaPolicy(HOURS, strict).state(waiting, at(10, 2)).breached
    assert not POLICY.state(waiting, at(10, 2)).breached


# In the console's JSON


def test_the_console_json_carries_the_clock(store: HandoffStore) -> None:
    opened = store.tickets.open("sla-json", "rest", Reason.COMPROMISED, Summary())
    settings = Settings.from_env({"SUPPORT_HOURS": "00:00-23:59:59"})
    now = opened.created_at + timedelta(minutes=6)

    data = json.loads(json.dumps(ticket_json(opened, now, sla=sla_json(opened, now, settings))))

    due = opened.created_at + timedelta(minutes=5)
    assert data["sla"] == {
        "kind": "first",
        "due_at": due.astimezone(timezone.utc).isoformat(),
        "elapsed_seconds": 360,
        "target_seconds": 300,
        "breached": True,
        "due_soon": False,
    }
    assert ticket_json(opened, now)["sla"] is None


def test_the_console_json_follows_the_stored_replies(store: HandoffStore) -> None:
    opened = store.tickets.open("sla-replies", "rest", Reason.REQUESTED, Summary())
    claimed = store.tickets.claim(opened.ticket_id, "li")
    assert claimed is not None
    replied = store.tickets.replied(opened.ticket_id, "li", "")
    assert replied is not None
    settings = Settings.from_env({"SUPPORT_HOURS": "00:00-23:59:59"})
    now = datetime.now(timezone.utc)
    assert sla_json(replied, now, settings)["kind"] is None

    store.tickets.user_wrote("sla-replies")
    waiting = store.tickets.get(opened.ticket_id)
    assert waiting is not None
    later = now + timedelta(minutes=16)
    assert sla_json(waiting, later, settings) | {"due_at": None} == {
        "kind": "next",
        "due_at": None,
        "elapsed_seconds": pytest.approx(16 * 60, abs=2),
        "target_seconds": 900,
        "breached": True,
        "due_soon": False,
    }


# Settings


def test_targets_default_and_can_be_set_per_urgency() -> None:
    assert Settings.from_env({}).handoff.sla == SlaTargets(
        first=UrgencyMinutes(urgent=5, high=15, normal=30),
        next=UrgencyMinutes(urgent=5, high=10, normal=15),
    )
    targets = SlaTargets.from_env(
        {
            "SLA_FIRST_RESPONSE_MINUTES": " urgent = 2 , normal=60",
            "SLA_NEXT_RESPONSE_MINUTES": "urgent=1.5,high=3,normal=4",
        }
    )
    # Urgencies left out keep their default.
    assert targets.first == UrgencyMinutes(urgent=2, high=15, normal=60)
    assert targets.next == UrgencyMinutes(urgent=1.5, high=3, normal=4)
    policy = SlaPolicy.from_env({"SLA_NEXT_RESPONSE_MINUTES": "urgent=1.5"})
    assert policy.target_seconds(ResponseKind.NEXT, Urgency.URGENT) == 90


@pytest.mark.parametrize(
    "value",
    [
        "urgent=0",
        "urgent=-1",
        "urgent=abc",
        "urgent=nan",
        "urgent=inf",
        "urgent=",
        "urgent",
        "critical=5",
        "urgent=5,urgent=6",
        "urgent=5;high=6",
        "5,15,30",
    ],
)
@pytest.mark.parametrize("name", ["SLA_FIRST_RESPONSE_MINUTES", "SLA_NEXT_RESPONSE_MINUTES"])
def test_a_malformed_target_stops_the_server_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
