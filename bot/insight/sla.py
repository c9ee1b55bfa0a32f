"""SLA breaches of the period's tickets, counted like the console counts them, without I/O.

Each ticket that was not cancelled is judged against its urgency's targets in business hours
(``bot.handoff.sla.SlaPolicy``):

- First response (opening → the agents' first reply): a ticket answered, or closed without a
  reply (counted up to its close), is measured; one still unanswered is measured once it is past
  its target at ``now``, and pending before. Breached: the business time reached the target.
- Next response: reply times are not kept per message, only the user's last message and the
  agents' last reply. A ticket whose user wrote after the last reply and got no answer (up to its
  close, or ``now``) for longer than the target counts as a next-response breach; earlier
  exchanges of the ticket cannot be judged, so the count is a lower bound.

Without ``now`` (no clock read), tickets still open are neither measured nor judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.handoff.records import Team, Urgency
from bot.handoff.sla import ResponseKind, SlaPolicy, SlaState, awaits_next_response
from bot.insight.records import DeskLog, HandoffRecord, SlaFigures, SlaGroup, SlaTarget

ALL = "all"
# Most urgent first, as the queue orders them.
URGENCIES = sorted(Urgency, key=lambda urgency: -urgency.rank)


def _team(record: HandoffRecord) -> Team:
    known = {team.value: team for team in Team}
    return known.get(record.team or "", Team.GENERAL)


def _first_response(
    record: HandoffRecord, policy: SlaPolicy, now: datetime | None
) -> SlaState | None:
    """The ticket's first-response clock; None for one still open when no clock was read."""
    if record.first_response_at is None and record.closed_at is None and now is None:
        return None
    return policy.first_response(
        record.urgency,
        record.created_at,
        record.first_response_at,
        record.closed_at,
        now or record.created_at,  # read only while neither a reply nor a close settled it
    )


def _group(
    key: str,
    records: Sequence[HandoffRecord],
    policy: SlaPolicy,
    now: datetime | None,
    next_recorded: bool,
) -> SlaGroup:
    measured = breached = pending = next_breached = 0
    for record in records:
        first = _first_response(record, policy, now)
        settled = record.first_response_at is not None or record.closed_at is not None
        if first is not None and (settled or first.breached):
            measured += 1
            breached += first.breached
        elif first is not None:
            pending += 1
        until = record.closed_at or now
        user_at = record.last_user_message_at
        if awaits_next_response(user_at, record.last_agent_reply_at) and until is not None:
            assert user_at is not None
            late = policy.measure(ResponseKind.NEXT, record.urgency, user_at, until)
            next_breached += late.breached
    return SlaGroup(
        key=key,
        measured=measured,
        breached=breached,
        pending=pending,
        next_breached=next_breached if next_recorded else None,
    )


def sla_figures(
    handoffs: Sequence[HandoffRecord], policy: SlaPolicy, now: datetime | None, log: DeskLog
) -> SlaFigures:
    """The breaches of these tickets (cancelled ones left out) under ``policy`` at ``now``."""
    targets = tuple(
        SlaTarget(
            urgency.value,
            policy.target_seconds(ResponseKind.FIRST, urgency),
            policy.target_seconds(ResponseKind.NEXT, urgency),
        )
        for urgency in URGENCIES
    )
    served = [record for record in handoffs if not record.cancelled]
    recorded = log.first_responses_recorded
    next_recorded = recorded and log.last_messages_recorded

    def group(key: str, records: Sequence[HandoffRecord]) -> SlaGroup:
        return _group(key, records if recorded else (), policy, now, next_recorded)

    return SlaFigures(
        targets=targets,
        overall=group(ALL, served),
        urgencies=tuple(
            group(urgency.value, [r for r in served if r.urgency is urgency])
            for urgency in URGENCIES
        ),
        teams=tuple(group(team.value, [r for r in served if _team(r) is team]) for team in Team),
        first_responses_recorded=recorded,
        next_responses_recorded=next_recorded,
    )
