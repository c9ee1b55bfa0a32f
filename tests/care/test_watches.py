"""Transfer watches in the handoff database: one open watch per conversation and transfer, each
due watch claimed by one server only (SQLite and PostgreSQL), nothing lost when a delivery
fails or a server stops, and the change feed's cursor kept across restarts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.care.watches import (
    START_OVERLAP,
    Watch,
    WatchSettings,
    WatchState,
    WatchStore,
    cursors,
    watches,
)
from bot.settings import ConfigError
from bot.wallet.records import TxStatus

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
CLAIM = timedelta(minutes=1)


def start(store: WatchStore, conversation: str, tx_hash: str, now: datetime = NOW) -> Watch:
    return store.start(
        conversation_id=conversation,
        channel="rest",
        account_id="acct-1",
        tx_hash=tx_hash,
        chain="TRON",
        status=TxStatus.PENDING,
        now=now,
    )


class Change:
    """A transaction of the change feed, as far as the store reads it."""

    def __init__(self, tx_hash: str, status: TxStatus, account_id: str = "acct-1") -> None:
        self.tx_hash, self.status, self.account_id = tx_hash, status, account_id


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'handoff.db'}"


@pytest.fixture
def store(url: str) -> WatchStore:
    return WatchStore.from_url(url, WatchSettings())


def test_a_second_start_returns_the_open_watch(store: WatchStore) -> None:
    first = start(store, "c1", "0xABCDEF01")
    again = start(store, "c1", "0xabcdef01", NOW + timedelta(minutes=5))
    assert again == first, "the same transfer, its hash in another case"
    assert first.state is WatchState.ACTIVE and first.status is TxStatus.PENDING
    assert first.expires_at == NOW + timedelta(hours=24)
    other = start(store, "c2", "0xABCDEF01")
    assert other.watch_id != first.watch_id, "another conversation watches on its own"
    assert store.active_count() == 2


def test_a_transfer_is_watched_again_once_its_watch_ended(store: WatchStore) -> None:
    first = start(store, "c1", "0xAB01")
    store.record([Change("0xAB01", TxStatus.FAILED)])
    [claimed] = store.claim_due(NOW, CLAIM)
    store.finish(claimed, TxStatus.FAILED, NOW)
    ended = store.get(first.watch_id)
    assert ended is not None and ended.state is WatchState.DONE
    assert ended.new_status is TxStatus.FAILED and ended.notified_at == NOW
    assert start(store, "c1", "0xAB01").watch_id != first.watch_id


def test_starts_at_the_same_moment_store_one_watch(url: str) -> None:
    servers = [WatchStore.from_url(url, WatchSettings()) for _ in range(4)]
    started: list[int] = []
    barrier = threading.Barrier(len(servers))

    def begin(server: WatchStore) -> None:
        barrier.wait()
        started.append(start(server, "c-race", "0xRACE").watch_id)

    threads = [threading.Thread(target=begin, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(started)) == 1 and servers[0].active_count() == 1


def test_a_settled_transfer_makes_its_watches_due_once(store: WatchStore) -> None:
    watched = start(store, "c1", "0xAAAA")
    start(store, "c2", "0xBBBB")
    feed = [
        Change("0xaaaa", TxStatus.CONFIRMED),
        Change("0xBBBB", TxStatus.PENDING),  # more confirmations, still pending
        Change("0xCCCC", TxStatus.CONFIRMED),  # nobody watches it
        Change("0xBBBB", TxStatus.CONFIRMED, account_id="someone-else"),
    ]
    assert store.record(feed) == [watched.watch_id]
    assert store.record(feed) == [], "the feed repeating a change makes nothing due again"
    [claimed] = store.claim_due(NOW, CLAIM)
    assert claimed.watch_id == watched.watch_id and claimed.new_status is TxStatus.CONFIRMED
    assert claimed.state is WatchState.NOTIFYING


@pytest.fixture(params=["sqlite", "postgresql"])
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[WatchStore]]:
    """Two servers' watch stores on one database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'handoff.db'}"
    else:
        url = request.getfixturevalue("postgres").url("tracker")
    yield [WatchStore.from_url(url, WatchSettings()) for _ in range(2)]
    # The PostgreSQL database is the module's: the next test starts without these watches.
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(watches.delete())
        connection.execute(cursors.delete())
    engine.dispose()


def test_two_servers_claiming_at_once_tell_each_user_once(servers: list[WatchStore]) -> None:
    hashes = [f"0x{n:04x}" for n in range(60)]
    for number, tx_hash in enumerate(hashes):
        start(servers[0], f"c{number}", tx_hash)
    servers[0].record([Change(tx_hash, TxStatus.CONFIRMED) for tx_hash in hashes])
    claimed: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def claim(number: int) -> None:
        barrier.wait()
        for _ in range(10):
            batch = servers[number].claim_due(NOW, CLAIM, limit=7)
            claimed[number] += [watch.watch_id for watch in batch]

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    both = claimed[0] + claimed[1]
    assert len(both) == len(set(both)) == len(hashes), "every watch claimed, none twice"


def test_a_failed_delivery_is_tried_again(store: WatchStore) -> None:
    watch = start(store, "c1", "0xF00D")
    store.record([Change("0xF00D", TxStatus.DROPPED)])
    [claimed] = store.claim_due(NOW, CLAIM)
    assert store.claim_due(NOW, CLAIM) == [], "claimed: not handed out again meanwhile"
    store.release(claimed)
    [again] = store.claim_due(NOW, CLAIM)
    assert again.watch_id == watch.watch_id and again.new_status is TxStatus.DROPPED


def test_a_claim_of_a_server_that_stopped_lapses(store: WatchStore) -> None:
    start(store, "c1", "0xDEAD")
    store.record([Change("0xDEAD", TxStatus.CONFIRMED)])
    [claimed] = store.claim_due(NOW, CLAIM)  # the server dies while telling the user
    assert store.claim_due(NOW + CLAIM / 2, CLAIM) == []
    [taken_over] = store.claim_due(NOW + CLAIM + timedelta(seconds=1), CLAIM)
    assert taken_over.watch_id == claimed.watch_id
    store.finish(claimed, TxStatus.CONFIRMED, NOW)  # the first server's late finish is harmless
    store.finish(taken_over, TxStatus.CONFIRMED, NOW)
    finished = store.get(claimed.watch_id)
    assert finished is not None and finished.state is WatchState.DONE


def test_a_transfer_pending_again_waits_for_its_next_change(store: WatchStore) -> None:
    start(store, "c1", "0xBACC")
    store.record([Change("0xBACC", TxStatus.CONFIRMED)])
    [claimed] = store.claim_due(NOW, CLAIM)
    store.release(claimed, settled=False)
    assert store.claim_due(NOW, CLAIM) == []
    assert store.record([Change("0xBACC", TxStatus.CONFIRMED)]) == [claimed.watch_id]


def test_an_expired_watch_is_due_once(store: WatchStore) -> None:
    watch = start(store, "c1", "0x0123")
    assert store.claim_due(watch.expires_at - timedelta(seconds=1), CLAIM) == []
    [expired] = store.claim_due(watch.expires_at, CLAIM)
    assert not expired.settled
    store.finish(expired, None, watch.expires_at)
    assert store.claim_due(watch.expires_at + timedelta(hours=1), CLAIM) == []
    ended = store.get(watch.watch_id)
    assert ended is not None and ended.state is WatchState.EXPIRED and ended.new_status is None
    assert store.active_count() == 0


def test_the_cursor_survives_a_restart(url: str, store: WatchStore) -> None:
    first = store.cursor(NOW)
    assert first == NOW
    later = NOW + timedelta(minutes=3)
    assert store.advance(first, later)
    assert not store.advance(first, later + timedelta(minutes=1)), "moved since it was read"
    restarted = WatchStore.from_url(url, WatchSettings())
    assert restarted.cursor(NOW + timedelta(hours=1)) == later


def test_a_new_watch_has_the_feed_read_from_just_before_it(store: WatchStore) -> None:
    store.cursor(NOW)
    store.advance(NOW, NOW + timedelta(minutes=10))
    watch = start(store, "c1", "0xFEED", NOW + timedelta(minutes=9))
    assert store.cursor(NOW) == watch.created_at - START_OVERLAP
    start(store, "c2", "0xFEED", NOW + timedelta(minutes=30))
    assert store.cursor(NOW) == watch.created_at - START_OVERLAP, "never moved forward"


def test_a_watch_before_the_first_poll_is_covered(store: WatchStore) -> None:
    watch = start(store, "c1", "0xF1257")
    assert store.cursor(NOW + timedelta(hours=1)) == watch.created_at - START_OVERLAP


def test_settings_come_from_the_environment() -> None:
    assert WatchSettings.from_env({}) == WatchSettings(poll_seconds=2, hours=24)
    given = {"TRANSFER_WATCH_POLL_SECONDS": "0.5", "TRANSFER_WATCH_HOURS": "47"}
    assert WatchSettings.from_env(given) == WatchSettings(poll_seconds=0.5, hours=47)
    assert replace(WatchSettings(), hours=1).lifetime == timedelta(hours=1)
    for name, value in [
        ("TRANSFER_WATCH_POLL_SECONDS", "0"),
        ("TRANSFER_WATCH_POLL_SECONDS", "soon"),
        ("TRANSFER_WATCH_HOURS", "-1"),
        ("TRANSFER_WATCH_HOURS", "inf"),
        ("TRANSFER_WATCH_HOURS", "48"),  # past WeChat's window, a push would be refused
    ]:
        with pytest.raises(ConfigError, match=name):
            WatchSettings.from_env({name: value})
