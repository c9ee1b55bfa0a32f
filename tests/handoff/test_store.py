from __future__ import annotations

from datetime import timedelta

import pytest

from bot.handoff.records import Reason, State, Summary, Urgency
from bot.handoff.store import HandoffStore


@pytest.fixture
def store(tmp_path) -> HandoffStore:  # type: ignore[no-untyped-def]
    return HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")


def test_queue_is_ordered_by_urgency_then_waiting_time(store: HandoffStore) -> None:
    first = store.open_ticket("c1", "rest", Reason.REQUESTED, Summary())
    second = store.open_ticket("c2", "rest", Reason.FALLBACK, Summary())
    urgent = store.open_ticket("c3", "socketio", Reason.COMPROMISED, Summary())
    assert urgent.urgency is Urgency.URGENT
    assert [t.conversation_id for t in store.queue()] == ["c3", "c1", "c2"]
    assert [store.position(t) for t in (urgent, first, second)] == [1, 2, 3]


def test_a_conversation_has_at_most_one_open_ticket(store: HandoffStore) -> None:
    first = store.open_ticket("c1", "rest", Reason.REQUESTED, Summary(intents=["greet"]))
    again = store.open_ticket("c1", "rest", Reason.COMPLAINT, Summary())
    assert again.ticket_id == first.ticket_id
    assert again.summary.intents == ["greet"]


def test_only_one_agent_can_claim_a_ticket(store: HandoffStore) -> None:
    ticket = store.open_ticket("c1", "rest", Reason.REQUESTED, Summary())
    assert store.claim(ticket.ticket_id, "li") is not None
    assert store.claim(ticket.ticket_id, "wang") is None
    assert store.ticket(ticket.ticket_id).agent == "li"  # type: ignore[union-attr]
    assert store.position(store.ticket(ticket.ticket_id)) == 0  # type: ignore[arg-type]


def test_only_the_assigned_agent_can_close(store: HandoffStore) -> None:
    ticket = store.open_ticket("c1", "rest", Reason.REQUESTED, Summary())
    store.claim(ticket.ticket_id, "li")
    assert store.close(ticket.ticket_id, "wang", "x") is None
    closed = store.close(ticket.ticket_id, "li", "已解决")
    assert closed is not None and closed.state is State.CLOSED and closed.close_note == "已解决"
    assert store.open_ticket_for("c1") is None


def test_users_can_cancel_only_while_queued(store: HandoffStore) -> None:
    store.open_ticket("c1", "rest", Reason.REQUESTED, Summary())
    cancelled = store.cancel("c1")
    assert cancelled is not None and cancelled.cancelled
    ticket = store.open_ticket("c2", "rest", Reason.REQUESTED, Summary())
    store.claim(ticket.ticket_id, "li")
    assert store.cancel("c2") is None


def test_rating_goes_to_the_last_closed_ticket_and_must_be_1_to_5(store: HandoffStore) -> None:
    ticket = store.open_ticket("c1", "rest", Reason.REQUESTED, Summary())
    assert store.rate("c1", 5) is None  # not closed yet
    store.claim(ticket.ticket_id, "li")
    store.close(ticket.ticket_id, "li", "")
    assert store.rate("c1", 9) is None
    assert store.rate("c1", 4).rating == 4  # type: ignore[union-attr]


def test_pickup_timeouts_are_reported_once(store: HandoffStore) -> None:
    store.open_ticket("c1", "rest", Reason.REQUESTED, Summary())
    assert store.claim_timeouts(timedelta(minutes=5)) == []
    late = store.claim_timeouts(timedelta(0))
    assert [t.conversation_id for t in late] == ["c1"]
    assert store.claim_timeouts(timedelta(0)) == []


def test_agent_login_sessions(store: HandoffStore) -> None:
    store.add_agent("li", "小李", "correct horse battery")
    assert store.login("li", "wrong", timedelta(hours=1)) is None
    assert store.login("nobody", "correct horse battery", timedelta(hours=1)) is None
    token = store.login("li", "correct horse battery", timedelta(hours=1))
    assert token and store.agent_for(token) == "li"
    assert store.agent_for(token + "x") is None
    expired = store.login("li", "correct horse battery", timedelta(seconds=-1))
    assert expired and store.agent_for(expired) is None
    store.logout(token)
    assert store.agent_for(token) is None


def test_passwords_are_stored_hashed(store: HandoffStore) -> None:
    store.add_agent("li", "小李", "correct horse battery")
    with store._engine.connect() as connection:
        stored = connection.exec_driver_sql("select password_hash from handoff_agents").scalar()
    assert "correct horse battery" not in stored and stored.startswith("scrypt$")


def test_outbox_hands_each_message_over_once_in_order(store: HandoffStore) -> None:
    store.post("c1", {"text": "一"})
    store.post("c1", {"text": "二"})
    store.post("c2", {"text": "别人的"})
    assert [m["text"] for m in store.collect("c1")] == ["一", "二"]
    assert store.collect("c1") == []
