"""Conversation locks across servers: two servers on one Redis process a conversation's messages
one at a time and in order, a ticket left by a server that died stops blocking after its
lifetime, and nothing is left in Redis afterwards."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
from rasa.core.lock_store import LockError

from bot.locking import AtomicRedisLockStore, redis_lock_store
from scripts.production_stack import Redis


def servers(redis_server: Redis, count: int = 2) -> list[AtomicRedisLockStore]:
    return [redis_lock_store(redis_server.url) for _ in range(count)]


def test_two_servers_take_a_conversations_messages_one_at_a_time_in_order(
    redis_server: Redis,
) -> None:
    first, second = servers(redis_server)
    log: list[str] = []

    async def message(store: AtomicRedisLockStore, name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with store.lock("in-order", wait_time_in_seconds=0.01):
            log.append(f"{name} starts")
            await asyncio.sleep(0.1)
            log.append(f"{name} ends")

    async def scenario() -> None:
        await asyncio.gather(
            message(first, "a", 0), message(second, "b", 0.02), message(first, "c", 0.04)
        )

    asyncio.run(scenario())
    assert log == ["a starts", "a ends", "b starts", "b ends", "c starts", "c ends"]
    assert redis.Redis.from_url(redis_server.url).exists(first.key_prefix + "in-order") == 0


def test_tickets_issued_at_once_by_many_servers_are_all_different(redis_server: Redis) -> None:
    stores = servers(redis_server, 4)
    tickets: list[int] = []
    start = threading.Barrier(20)

    def issue(number: int) -> None:
        start.wait()
        tickets.append(stores[number % 4].issue_ticket("crowded", 30))

    threads = [threading.Thread(target=issue, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(tickets) == list(range(20))
    # Rasa reads the same lock: the first ticket is served, everyone else waits.
    lock = stores[0].get_lock("crowded")
    assert lock is not None and lock.now_serving == 0 and len(lock.tickets) == 20


def test_a_ticket_left_by_a_dead_server_stops_blocking_after_its_lifetime(
    redis_server: Redis,
) -> None:
    dead, alive = servers(redis_server)
    dead.issue_ticket("orphaned", 0.3)  # a server took the lock and died before giving it back

    async def take() -> float:
        started = time.monotonic()
        async with alive.lock("orphaned", lock_lifetime=10, wait_time_in_seconds=0.05):
            return time.monotonic() - started

    waited = asyncio.run(take())
    assert 0.2 < waited < 1.5
    # A lock nobody gives back disappears from Redis with its last ticket.
    dead.issue_ticket("forgotten", 0.2)
    client = redis.Redis.from_url(redis_server.url)
    # The ticket's 0.2 s (rounded up to the millisecond) and one more second.
    assert 0 < client.pttl(dead.key_prefix + "forgotten") <= 1201
    time.sleep(1.4)
    assert client.exists(dead.key_prefix + "forgotten") == 0


def test_a_message_whose_ticket_expired_while_waiting_is_refused(redis_server: Redis) -> None:
    store = servers(redis_server, 1)[0]
    store.issue_ticket("slow", 30)  # a long turn in progress
    waiting = store.issue_ticket("slow", 0.2)

    async def acquire() -> None:
        await store._acquire_lock("slow", waiting, 0.05)

    with pytest.raises(LockError):
        asyncio.run(acquire())


def test_redis_down_is_a_lock_error(redis_server: Redis) -> None:
    store = redis_lock_store(redis_server.url.replace(str(redis_server.port), "1"))
    with pytest.raises(LockError):
        store.issue_ticket("nowhere")
