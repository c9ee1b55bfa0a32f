"""Response-time targets (SLA) of the desk, counted in business hours.

Two clocks run on a ticket, with targets per urgency (``bot.handoff.settings.SlaTargets``):

- first response: from the ticket's opening to the agents' first reply (``first_response_at``);
- next response: from the user's message after the last agent reply (``last_user_message_at``
  later than ``last_agent_reply_at``) to the agent's next reply.

Only time inside the support hours counts (``bot.support_hours.SupportHours``: the same opening
hours every day in one time zone), so a ticket opened at night starts its clock when the agents
start work, and ``due_at`` is the wall-clock instant its target is reached. A target is breached
once the business time reaches it, and due soon from ``DUE_SOON_SHARE`` of it. A closed ticket
reports its first response (up to its close when it had none); a cancelled one reports nothing.
The report and the dashboard count breaches with the same policy (``bot.insight.sla``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from bot.handoff.records import State, Ticket, Urgency
from bot.handoff.settings import SlaTargets
from bot.settings import Settings
from bot.support_hours import SupportHours

# From this share of its target on, a clock is "due soon" (until it is breached).
DUE_SOON_SHARE = 0.8


class ResponseKind(str, Enum):
    FIRST = "first"
    NEXT = "next"


def _opening_hours(since: datetime, hours: SupportHours) -> Iterator[tuple[datetime, datetime]]:
    """Each local day's opening and closing instants (UTC), from ``since``'s local day on."""
    zone = hours.timezone
    day = since.astimezone(zone).date()
    while True:
        opens = datetime.combine(day, hours.opens, zone).astimezone(timezone.utc)
        closes = datetime.combine(day, hours.closes, zone).astimezone(timezone.utc)
        yield opens, closes
        day += timedelta(days=1)


def business_seconds(start: datetime, end: datetime, hours: SupportHours) -> float:
    """Seconds between the aware instants ``start`` and ``end`` that fall in the support hours
    (0 when ``end`` is not after ``start``)."""
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    total = 0.0
    if end <= start:
        return total
    for opens, closes in _opening_hours(start, hours):
        if opens >= end:
            break
        overlap = (min(closes, end) - max(opens, start)).total_seconds()
        total += max(overlap, 0.0)
    return total


def business_deadline(start: datetime, seconds: float, hours: SupportHours) -> datetime:
    """The instant (UTC) at which ``seconds`` of support hours have passed since ``start``."""
    remaining = max(seconds, 0.0)
    start = start.astimezone(timezone.utc)
    for opens, closes in _opening_hours(start, hours):
        begin = max(opens, start)
        if closes <= begin:
            continue
        span = (closes - begin).total_seconds()
        if remaining <= span:
            return begin + timedelta(seconds=remaining)
        remaining -= span
    raise AssertionError("support hours open every day")  # pragma: no cover


def awaits_next_response(
    last_user_message_at: datetime | None, last_agent_reply_at: datetime | None
) -> bool:
    """Whether the user wrote after the agents' last reply (and there was one)."""
    return (
        last_user_message_at is not None
        and last_agent_reply_at is not None
        and last_user_message_at > last_agent_reply_at
    )


@dataclass(frozen=True)
class SlaState:
    """Where a ticket stands against its running (or, once closed, its first-response) target;
    ``kind`` None: no clock runs (answered, waiting for the user; or cancelled)."""

    kind: ResponseKind | None
    due_at: datetime | None
    elapsed_seconds: float | None
    target_seconds: float | None
    breached: bool
    due_soon: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value if self.kind else None,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "elapsed_seconds": None if self.elapsed_seconds is None else int(self.elapsed_seconds),
            "target_seconds": None if self.target_seconds is None else round(self.target_seconds),
            "breached": self.breached,
            "due_soon": self.due_soon,
        }


NO_CLOCK = SlaState(None, None, None, None, breached=False, due_soon=False)


@dataclass(frozen=True)
class SlaPolicy:
    """The targets and the support hours they are counted in."""

    hours: SupportHours
    targets: SlaTargets

    @classmethod
    def of(cls, settings: Settings) -> SlaPolicy:
        return cls(settings.hours, settings.handoff.sla)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SlaPolicy:
        """SUPPORT_HOURS, SUPPORT_TIMEZONE and the SLA targets (for tools run outside a server)."""
        return cls(SupportHours.from_env(env), SlaTargets.from_env(env))

    def target_seconds(self, kind: ResponseKind, urgency: Urgency) -> float:
        minutes = self.targets.first if kind is ResponseKind.FIRST else self.targets.next
        return minutes.of(urgency) * 60

    def measure(
        self, kind: ResponseKind, urgency: Urgency, since: datetime, until: datetime
    ) -> SlaState:
        """The clock ``kind`` started at ``since`` and read at ``until``."""
        target = self.target_seconds(kind, urgency)
        elapsed = business_seconds(since, until, self.hours)
        breached = elapsed >= target
        return SlaState(
            kind=kind,
            due_at=business_deadline(since, target, self.hours),
            elapsed_seconds=elapsed,
            target_seconds=target,
            breached=breached,
            due_soon=not breached and elapsed >= DUE_SOON_SHARE * target,
        )

    def first_response(
        self,
        urgency: Urgency,
        opened_at: datetime,
        answered_at: datetime | None,
        closed_at: datetime | None,
        now: datetime,
    ) -> SlaState:
        """The first-response clock: stopped by the first reply, else by the close (neither is
        due soon any more), else still running at ``now``."""
        settled = answered_at or closed_at
        state = self.measure(ResponseKind.FIRST, urgency, opened_at, settled or now)
        return replace(state, due_soon=False) if settled else state

    def next_response(
        self, urgency: Urgency, user_at: datetime, closed_at: datetime | None, now: datetime
    ) -> SlaState:
        """The next-response clock of a user's message still unanswered (up to the close)."""
        state = self.measure(ResponseKind.NEXT, urgency, user_at, closed_at or now)
        return replace(state, due_soon=False) if closed_at else state

    def state(self, ticket: Ticket, now: datetime) -> SlaState:
        """The ticket's clock at ``now``."""
        if ticket.cancelled:
            return NO_CLOCK
        if ticket.state is State.CLOSED:
            return self.first_response(
                ticket.urgency,
                ticket.created_at,
                ticket.first_response_at,
                ticket.closed_at or now,
                now,
            )
        if ticket.first_response_at is None:
            return self.first_response(ticket.urgency, ticket.created_at, None, None, now)
        if awaits_next_response(ticket.last_user_message_at, ticket.last_agent_reply_at):
            assert ticket.last_user_message_at is not None
            return self.next_response(ticket.urgency, ticket.last_user_message_at, None, now)
        return NO_CLOCK


def sla_json(ticket: Ticket, now: datetime, settings: Settings) -> dict[str, Any]:
    """The ticket's "sla" for the console's JSON (``console_io.ticket_json``)."""
    return SlaPolicy.of(settings).state(ticket, now).as_dict()
