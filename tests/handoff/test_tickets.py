from __future__ import annotations

from datetime import timedelta

from bot.handoff.records import Reason, State, Summary, Urgency
from bot.handoff.store import HandoffStore


def test_queue_is_ordered_by_urgency_then_waiting_time(store: HandoffStore) -> None:
    first = store.tickets.open("c1", "rest", Reason.REQUESTED, Summary())
    second = store.tickets.open("c2", "rest", Reason.FALLBACK, Summary())
    urgent = store.tickets.open("c3", "socketio", Reason.COMPROMISED, Summary())
    assert urgent.urgency is Urgency.URGENT
    assert [t.conversation_id for t in store.tickets.queue()] == ["c3", "c1", "c2"]
    assert [store.tickets.position(t) for t in (urgent, first, second)] == [1, 2, 3]


def test_a_conversation_has_at_most_one_open_ticket(store: HandoffStore) -> None:
    first = store.tickets.open("c1", "rest", Reason.REQUESTED, Summary(intents=["greet"]))
    again = store.tickets.open("c1", "rest", Reason.COMPLAINT, Summary())
    assert again.ticket_id == first.ticket_id
    assert again.summary.intents == ["greet"]


def test_only_one_agent_can_claim_a_ticket(store: HandoffStore) -> None:
    ticket = store.tickets.open("c1", "rest", Reason.REQUESTED, Summary())
    assert store.tickets.claim(ticket.ticket_id, "li") is not None
    assert store.tickets.claim(ticket.ticket_id, "wang") is None
    assert store.tickets.get(ticket.ticket_id).agent == "li"  # type: ignore[union-attr]
    assert store.tickets.position(store.tickets.get(ticket.ticket_id)) == 0  # type: ignore[arg-type]


def test_only_the_assigned_agent_can_close(store: HandoffStore) -> None:
    ticket = store.tickets.open("c1", "rest", Reason.REQUESTED, Summary())
    store.tickets.claim(ticket.ticket_id, "li")
    assert store.tickets.close(ticket.ticket_id, "wang", "x", "") is None
    closed = store.tickets.close(ticket.ticket_id, "li", "已解决", "")
    assert closed is not None and closed.state is State.CLOSED and closed.close_note == "已解决"
    assert store.tickets.open_for("c1") is None


def test_users_can_cancel_only_while_queued(store: HandoffStore) -> None:
    store.tickets.open("c1", "rest", Reason.REQUESTED, Summary())
    cancelled = store.tickets.cancel("c1")
    assert cancelled is not None and cancelled.cancelled
    ticket = store.tickets.open("c2", "rest", Reason.REQUESTED, Summary())
    store.tickets.claim(ticket.ticket_id, "li")
    assert store.tickets.cancel("c2") is None


def test_rating_goes_to_the_last_closed_ticket_and_must_be_1_to_5(store: HandoffStore) -> None:
    ticket = store.tickets.open("c1", "rest", Reason.REQUESTED, Summary())
    assert store.tickets.rate("c1", 5) is None  # not closed yet
    store.tickets.claim(ticket.ticket_id, "li")
    store.tickets.close(ticket.ticket_id, "li", "", "")
    assert store.tickets.rate("c1", 9) is None
    assert store.tickets.rate("c1", 4).rating == 4  # type: ignore[union-attr]


def test_pickup_timeouts_are_reported_once(store: HandoffStore) -> None:
    store.tickets.open("c1", "rest", Reason.REQUESTED, Summary())
    assert store.tickets.claim_timeouts(timedelta(minutes=5)) == []
    late = store.tickets.claim_timeouts(timedelta(0))
    assert [t.conversation_id for t in late] == ["c1"]
    assert store.tickets.claim_timeouts(timedelta(0)) == []
