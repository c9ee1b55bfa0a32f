from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.handoff.passwords import hash_password, needs_rehash
from bot.handoff.records import Reason, State, Summary, Urgency
from bot.handoff.store import LOGIN_POLICY, HandoffStore


@pytest.fixture
def store(tmp_path) -> HandoffStore:  # type: ignore[no-untyped-def]
    return HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")


def stored_hash(store: HandoffStore) -> str:
    with store._engine.connect() as connection:
        return str(connection.exec_driver_sql("select password_hash from handoff_agents").scalar())


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


def test_a_new_password_or_a_disable_ends_every_session_of_the_agent(store: HandoffStore) -> None:
    store.add_agent("li", "小李", "correct horse battery")
    store.add_agent("wang", "小王", "another long password")
    hour = timedelta(hours=1)
    first, second = (store.login("li", "correct horse battery", hour) for _ in range(2))
    other = store.login("wang", "another long password", hour)
    store.add_agent("li", "小李", "a brand new password")
    assert store.agent_for(first or "") is None and store.agent_for(second or "") is None
    assert store.agent_for(other or "") == "wang"
    assert store.login("li", "correct horse battery", hour) is None

    token = store.login("li", "a brand new password", hour)
    assert token and store.disable_agent("li")
    assert store.agent_for(token) is None
    assert store.login("li", "a brand new password", hour) is None
    store.add_agent("li", "小李", "a brand new password")  # a new password enables again
    assert store.login("li", "a brand new password", hour)
    assert not store.disable_agent("nobody")


def test_a_deleted_agent_is_gone_with_their_sessions(store: HandoffStore) -> None:
    store.add_agent("li", "小李", "correct horse battery")
    token = store.login("li", "correct horse battery", timedelta(hours=1))
    ticket = store.open_ticket("c1", "rest", Reason.REQUESTED, Summary())
    store.claim(ticket.ticket_id, "li")
    assert store.delete_agent("li") and not store.delete_agent("li")
    assert store.agent_for(token or "") is None
    assert store.login("li", "correct horse battery", timedelta(hours=1)) is None
    assert store.ticket(ticket.ticket_id).agent == "li"  # type: ignore[union-attr]
    assert store.display_name("li") == "li"


def test_expired_sessions_and_old_failures_are_purged(store: HandoffStore) -> None:
    store.add_agent("li", "小李", "correct horse battery")
    expired = store.login("li", "correct horse battery", timedelta(seconds=-1))
    live = store.login("li", "correct horse battery", timedelta(hours=1))
    store.begin_login("li", "192.0.2.1")
    assert store.purge_expired() == 1  # the expired session; the failures still count
    later = datetime.now(timezone.utc) + LOGIN_POLICY.window + timedelta(seconds=1)
    assert store.purge_expired(now=later) == 2  # the failures of both keys
    assert expired and live and store.agent_for(live) == "li"
    with store._engine.connect() as connection:
        rows = connection.exec_driver_sql("select count(*) from handoff_agent_sessions").scalar()
    assert rows == 1


def test_logins_stored_at_an_older_scrypt_cost_are_rehashed_on_success(
    store: HandoffStore,
) -> None:
    salt = bytes(16)
    old_digest = hashlib.scrypt(b"correct horse battery", salt=salt, n=2**14, r=8, p=1)
    old = f"scrypt${2**14}$8$1${salt.hex()}${old_digest.hex()}"
    store.add_agent("li", "小李", "placeholder password")
    with store._engine.begin() as connection:
        connection.exec_driver_sql("update handoff_agents set password_hash = ?", (old,))
    assert needs_rehash(old)

    assert store.login("li", "wrong password", timedelta(hours=1)) is None
    assert stored_hash(store) == old  # a failure changes nothing
    assert store.login("li", "correct horse battery", timedelta(hours=1))
    upgraded = stored_hash(store)
    assert upgraded.startswith(f"scrypt${2**17}$8$1$") and not needs_rehash(upgraded)
    assert store.login("li", "correct horse battery", timedelta(hours=1))


def test_a_store_from_before_disabling_gains_the_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "create table handoff_agents (username varchar(64) primary key,"
            " display_name varchar(64) not null, password_hash varchar(255) not null)"
        )
        connection.exec_driver_sql(
            "insert into handoff_agents values ('li', '小李', ?)", (hash_password("old password"),)
        )
    store = HandoffStore.from_url(url)
    assert store.login("li", "old password", timedelta(hours=1))
    assert store.disable_agent("li")
    assert store.login("li", "old password", timedelta(hours=1)) is None
    HandoffStore.from_url(url)  # opening it again finds the column there


# Login throttling: failures counted per username and per address, in the store.


def test_the_fifth_failure_locks_a_username_until_the_lock_ends(store: HandoffStore) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    counted = [store.begin_login("li", None, now=now) for _ in range(5)]
    assert [a.failures for a in counted] == [1, 2, 3, 4, 5] and all(a.admitted for a in counted)
    refused = store.begin_login("li", None, now=now + timedelta(minutes=1))
    assert not refused.admitted and refused.retry_after == 14 * 60
    assert store.begin_login("wang", None, now=now).admitted  # other usernames go on
    reopened = store.begin_login("li", None, now=now + LOGIN_POLICY.lock)
    assert reopened.admitted and reopened.failures == 1


def test_failures_older_than_the_window_are_forgotten(store: HandoffStore) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for _ in range(4):
        store.begin_login("li", None, now=now)
    later = store.begin_login("li", None, now=now + LOGIN_POLICY.window)
    assert later.admitted and later.failures == 1


def test_an_address_is_locked_whatever_usernames_it_tries(store: HandoffStore) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for name in ("a", "b", "c", "d", "e"):
        assert store.begin_login(name, "198.51.100.7", now=now).admitted
    assert not store.begin_login("f", "198.51.100.7", now=now).admitted
    assert store.begin_login("f", "198.51.100.8", now=now).admitted
    # The refused attempt counted nothing for the username.
    assert store.begin_login("f", None, now=now).failures == 2


def test_a_success_clears_the_username_and_gives_the_address_its_attempt_back(
    store: HandoffStore,
) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for _ in range(4):
        store.begin_login("li", "198.51.100.7", now=now)
    assert store.begin_login("li", "198.51.100.7", now=now).failures == 5  # locks both keys
    store.login_succeeded("li", "198.51.100.7")
    assert store.begin_login("li", None, now=now).failures == 1
    address = store.begin_login("someone", "198.51.100.7", now=now)
    assert address.admitted and address.failures == 5


def test_parallel_guesses_cannot_pass_the_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    stores = [HandoffStore.from_url(url) for _ in range(4)]  # as if four servers
    with ThreadPoolExecutor(8) as pool:
        attempts = list(
            pool.map(lambda i: stores[i % 4].begin_login("li", "198.51.100.7"), range(40))
        )
    assert sum(a.admitted for a in attempts) == LOGIN_POLICY.max_failures


def test_the_delay_grows_with_each_failure() -> None:
    delays = [LOGIN_POLICY.delay(n) for n in range(1, 8)]
    assert delays == sorted(delays) and delays[0] > 0 and delays[-1] == LOGIN_POLICY.max_delay


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
