from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from bot.handoff.directory import LOGIN_POLICY
from bot.handoff.passwords import needs_rehash
from bot.handoff.records import Reason, Role, Summary
from bot.handoff.store import HandoffStore


def stored_hash(store: HandoffStore) -> str:
    with store.engine.connect() as connection:
        return str(connection.exec_driver_sql("select password_hash from handoff_agents").scalar())


def test_agent_login_sessions(store: HandoffStore) -> None:
    store.agents.add("li", "小李", "correct horse battery")
    assert store.agents.login("li", "wrong", timedelta(hours=1)) is None
    assert store.agents.login("nobody", "correct horse battery", timedelta(hours=1)) is None
    token = store.agents.login("li", "correct horse battery", timedelta(hours=1))
    assert token and store.agents.agent_for(token) == "li"
    assert store.agents.agent_for(token + "x") is None
    expired = store.agents.login("li", "correct horse battery", timedelta(seconds=-1))
    assert expired and store.agents.agent_for(expired) is None
    store.agents.logout(token)
    assert store.agents.agent_for(token) is None


def test_a_new_password_or_a_disable_ends_every_session_of_the_agent(store: HandoffStore) -> None:
    store.agents.add("li", "小李", "correct horse battery")
    store.agents.add("wang", "小王", "another long password")
    hour = timedelta(hours=1)
    first, second = (store.agents.login("li", "correct horse battery", hour) for _ in range(2))
    other = store.agents.login("wang", "another long password", hour)
    store.agents.add("li", "小李", "a brand new password")
    assert (
        store.agents.agent_for(first or "") is None and store.agents.agent_for(second or "") is None
    )
    assert store.agents.agent_for(other or "") == "wang"
    assert store.agents.login("li", "correct horse battery", hour) is None

    token = store.agents.login("li", "a brand new password", hour)
    assert token and store.agents.disable("li")
    assert store.agents.agent_for(token) is None
    assert store.agents.login("li", "a brand new password", hour) is None
    store.agents.add("li", "小李", "a brand new password")  # a new password enables again
    assert store.agents.login("li", "a brand new password", hour)
    assert not store.agents.disable("nobody")


def test_a_deleted_agent_is_gone_with_their_sessions(store: HandoffStore) -> None:
    store.agents.add("li", "小李", "correct horse battery")
    token = store.agents.login("li", "correct horse battery", timedelta(hours=1))
    ticket = store.tickets.open("c1", "rest", Reason.REQUESTED, Summary())
    store.tickets.claim(ticket.ticket_id, "li")
    assert store.agents.delete("li") and not store.agents.delete("li")
    assert store.agents.agent_for(token or "") is None
    assert store.agents.login("li", "correct horse battery", timedelta(hours=1)) is None
    assert store.tickets.get(ticket.ticket_id).agent == "li"  # type: ignore[union-attr]
    assert store.agents.display_name("li") == "li"


def test_expired_sessions_and_old_failures_are_purged(store: HandoffStore) -> None:
    store.agents.add("li", "小李", "correct horse battery")
    expired = store.agents.login("li", "correct horse battery", timedelta(seconds=-1))
    live = store.agents.login("li", "correct horse battery", timedelta(hours=1))
    store.agents.begin_login("li", "192.0.2.1")
    assert store.agents.purge_expired() == 1  # the expired session; the failures still count
    later = datetime.now(timezone.utc) + LOGIN_POLICY.window + timedelta(seconds=1)
    assert store.agents.purge_expired(now=later) == 2  # the failures of both keys
    assert expired and live and store.agents.agent_for(live) == "li"
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("select count(*) from handoff_agent_sessions").scalar()
    assert rows == 1


def test_logins_stored_at_an_older_scrypt_cost_are_rehashed_on_success(
    store: HandoffStore,
) -> None:
    salt = bytes(16)
    old_digest = hashlib.scrypt(b"correct horse battery", salt=salt, n=2**14, r=8, p=1)
    old = f"scrypt${2**14}$8$1${salt.hex()}${old_digest.hex()}"
    store.agents.add("li", "小李", "placeholder password")
    with store.engine.begin() as connection:
        connection.exec_driver_sql("update handoff_agents set password_hash = ?", (old,))
    assert needs_rehash(old)

    assert store.agents.login("li", "wrong password", timedelta(hours=1)) is None
    assert stored_hash(store) == old  # a failure changes nothing
    assert store.agents.login("li", "correct horse battery", timedelta(hours=1))
    upgraded = stored_hash(store)
    assert upgraded.startswith(f"scrypt${2**17}$8$1$") and not needs_rehash(upgraded)
    assert store.agents.login("li", "correct horse battery", timedelta(hours=1))


# Login throttling: failures counted per username and per address, in the store.


def test_the_fifth_failure_locks_a_username_until_the_lock_ends(store: HandoffStore) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    counted = [store.agents.begin_login("li", None, now=now) for _ in range(5)]
    assert [a.failures for a in counted] == [1, 2, 3, 4, 5] and all(a.admitted for a in counted)
    refused = store.agents.begin_login("li", None, now=now + timedelta(minutes=1))
    assert not refused.admitted and refused.retry_after == 14 * 60
    assert store.agents.begin_login("wang", None, now=now).admitted  # other usernames go on
    reopened = store.agents.begin_login("li", None, now=now + LOGIN_POLICY.lock)
    assert reopened.admitted and reopened.failures == 1


def test_failures_older_than_the_window_are_forgotten(store: HandoffStore) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for _ in range(4):
        store.agents.begin_login("li", None, now=now)
    later = store.agents.begin_login("li", None, now=now + LOGIN_POLICY.window)
    assert later.admitted and later.failures == 1


def test_an_address_is_locked_whatever_usernames_it_tries(store: HandoffStore) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for name in ("a", "b", "c", "d", "e"):
        assert store.agents.begin_login(name, "198.51.100.7", now=now).admitted
    assert not store.agents.begin_login("f", "198.51.100.7", now=now).admitted
    assert store.agents.begin_login("f", "198.51.100.8", now=now).admitted
    # The refused attempt counted nothing for the username.
    assert store.agents.begin_login("f", None, now=now).failures == 2


def test_a_success_clears_the_username_and_gives_the_address_its_attempt_back(
    store: HandoffStore,
) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for _ in range(4):
        store.agents.begin_login("li", "198.51.100.7", now=now)
    assert store.agents.begin_login("li", "198.51.100.7", now=now).failures == 5  # locks both keys
    store.agents.login_succeeded("li", "198.51.100.7")
    assert store.agents.begin_login("li", None, now=now).failures == 1
    address = store.agents.begin_login("someone", "198.51.100.7", now=now)
    assert address.admitted and address.failures == 5


def test_parallel_guesses_cannot_pass_the_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    stores = [HandoffStore.from_url(url) for _ in range(4)]  # as if four servers
    with ThreadPoolExecutor(8) as pool:
        attempts = list(
            pool.map(lambda i: stores[i % 4].agents.begin_login("li", "198.51.100.7"), range(40))
        )
    assert sum(a.admitted for a in attempts) == LOGIN_POLICY.max_failures


def test_the_delay_grows_with_each_failure() -> None:
    delays = [LOGIN_POLICY.delay(n) for n in range(1, 8)]
    assert delays == sorted(delays) and delays[0] > 0 and delays[-1] == LOGIN_POLICY.max_delay


def test_passwords_are_stored_hashed(store: HandoffStore) -> None:
    store.agents.add("li", "小李", "correct horse battery")
    with store.engine.connect() as connection:
        stored = connection.exec_driver_sql("select password_hash from handoff_agents").scalar()
    assert "correct horse battery" not in stored and stored.startswith("scrypt$")


def test_a_role_is_made_and_unmade_by_saving_the_account_again(store: HandoffStore) -> None:
    store.agents.add("wang", "王主管", "correct horse battery", role=Role.SUPERVISOR)
    assert store.agents.role("wang") is Role.SUPERVISOR
    store.agents.add("wang", "王主管", "another long password")  # no role given: back to agent
    assert store.agents.role("wang") is Role.AGENT
    assert store.agents.role("nobody") is None
    with pytest.raises(ValueError, match="owner"):
        store.agents.add("zhao", "小赵", "correct horse battery", role="owner")  # type: ignore[arg-type]


def test_a_lead_of_the_first_version_is_a_supervisor(store: HandoffStore) -> None:
    store.agents.add("wang", "王主管", "correct horse battery")
    with store.engine.begin() as connection:
        connection.exec_driver_sql("update handoff_agents set role = 'lead'")
    assert store.agents.role("wang") is Role.SUPERVISOR
