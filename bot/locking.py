"""Per-conversation locks, so that one message of a conversation is processed at a time.

Rasa serialises the messages of a conversation with a lock store. One server keeps its locks in
memory; several servers behind a load balancer must share them, so with ``REDIS_URL`` set the
locks live in Redis (Rasa's ``RedisLockStore``) and two servers never process the same
conversation at once. A lock left by a server that died expires after ``TICKET_LOCK_LIFETIME``
seconds (Rasa's setting, default 60).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from rasa.core.lock import TicketLock
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore

from bot.support_hours import ConfigError

logger = logging.getLogger(__name__)

KEY_PREFIX = "im"


def redis_lock_store(url: str) -> RedisLockStore:
    """Rasa's Redis lock store on ``redis://[:password@]host[:port][/db]`` (``rediss://``: TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigError("REDIS_URL must look like redis://host:6379/0")
    database = parts.path.strip("/") or "0"
    if not database.isdigit():
        raise ConfigError("the database in REDIS_URL must be a number")
    return RedisLockStore(
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

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        return self._store.get_lock(conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        self._store.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self._store.save_lock(lock)
