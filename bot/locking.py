"""Per-conversation locks, so that one message of a conversation is processed at a time.

Rasa serialises the messages of a conversation with a lock store. One server keeps its locks in
memory; several servers behind a load balancer must share them, so with ``REDIS_URL`` set the
locks live in Redis (Rasa's ``RedisLockStore``) and two servers never process the same
conversation at once. A lock left by a server that died expires after ``TICKET_LOCK_LIFETIME``
seconds (Rasa's setting, default 60).

Rasa's ``RedisLockStore`` issues a ticket by reading the lock, adding the ticket and writing it
back: two servers receiving a message of the same conversation at the same moment both read
"nobody waiting", both write ticket 0 and both process. ``AtomicRedisLockStore`` makes every
change of a lock one Redis transaction (WATCH/MULTI, retried when another server got there
first).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import (
    LOCK_LIFETIME,
    InMemoryLockStore,
    LockError,
    LockStore,
    RedisLockStore,
)

from bot.settings import ConfigError

logger = logging.getLogger(__name__)

KEY_PREFIX = "im"
T = TypeVar("T")


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store, with each change of a lock made atomically."""

    def _change(
        self, conversation_id: str, change: Callable[[TicketLock, bool], tuple[T, bool]]
    ) -> T:
        """Applies ``change(lock, existed) -> (result, keep)`` in one transaction."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = (
                        TicketLock.from_dict(json.loads(raw))
                        if raw
                        else TicketLock(conversation_id)
                    )
                    result, keep = change(lock, raw is not None)
                    pipe.multi()
                    if keep:
                        pipe.set(key, lock.dumps())
                    else:
                        pipe.delete(key)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another server changed the lock meanwhile: read it again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return self._change(
                conversation_id, lambda lock, _: (lock.issue_ticket(lock_lifetime), True)
            )
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock: {error}") from error

    def update_lock(self, conversation_id: str) -> None:
        def expire(lock: TicketLock, existed: bool) -> tuple[None, bool]:
            lock.remove_expired_tickets()
            return None, existed

        self._change(conversation_id, expire)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: TicketLock, existed: bool) -> tuple[None, bool]:
            lock.remove_ticket_for(ticket_number)
            return None, existed and lock.is_someone_waiting()

        self._change(conversation_id, finish)


def redis_lock_store(url: str) -> AtomicRedisLockStore:
    """Rasa's Redis lock store on ``redis://[:password@]host[:port][/db]`` (``rediss://``: TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigError("REDIS_URL must look like redis://host:6379/0")
    database = parts.path.strip("/") or "0"
    if not database.isdigit():
        raise ConfigError("the database in REDIS_URL must be a number")
    return AtomicRedisLockStore(
        host=parts.hostname,
        port=parts.port or 6379,
        db=int(database),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_ssl=parts.scheme == "rediss",
        key_prefix=KEY_PREFIX,
    )


class SupportLockStore(LockStore):
    """In this process by default; in Redis when REDIS_URL is set (several servers)."""

    def __init__(self, endpoint_config: Any = None, env: Mapping[str, str] = os.environ) -> None:
        url = env.get("REDIS_URL")
        self._store: LockStore = redis_lock_store(url) if url else InMemoryLockStore()
        logger.info("conversation locks in %s", "Redis" if url else "this process")

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._store.issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        self._store.update_lock(conversation_id)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self._store.cleanup(conversation_id, ticket_number)

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        return self._store.get_lock(conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        self._store.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self._store.save_lock(lock)
