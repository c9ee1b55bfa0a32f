"""Per-conversation locks, so that one message of a conversation is processed at a time.

Rasa serialises the messages of a conversation with a lock store. One server keeps its locks in
memory; several servers behind a load balancer must share them, so with ``REDIS_URL`` set the
locks live in Redis (Rasa's ``RedisLockStore``) and two servers never process the same
conversation at once. A lock left by a server that died expires after ``TICKET_LOCK_LIFETIME``
seconds (Rasa's setting, default 60).

Rasa's ``RedisLockStore`` issues a ticket by reading the lock, adding the ticket and writing it
back: two servers receiving a message of the same conversation at the same moment both read
"nobody waiting", both write ticket 0 and both process. ``AtomicRedisLockStore`` makes every
change of a lock one Lua script, which Redis runs atomically: a turn takes three round trips
(issue a ticket, see whose turn it is, give the ticket back) where Rasa's store takes seven.
Expiry is judged by Redis's clock, the same for every server, and the key itself expires with
its last ticket, so a server that died leaves nothing behind. The lock keeps Rasa's JSON form
(``TicketLock.dumps``: each ticket a JSON string in the lock's list).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from typing import Any
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

# Shared by the scripts: the lock's live tickets (expired ones dropped) and writing them back.
_TICKETS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tickets = {}
local raw = redis.call('GET', KEYS[1])
if raw then
  for _, entry in ipairs(cjson.decode(raw).tickets) do
    local ticket = cjson.decode(entry)
    if ticket.expires >= now then table.insert(tickets, ticket) end
  end
end
local function store()
  if #tickets == 0 then
    redis.call('DEL', KEYS[1])
    return nil
  end
  local last, entries = now, {}
  for _, ticket in ipairs(tickets) do
    last = math.max(last, ticket.expires)
    table.insert(entries, cjson.encode(ticket))
  end
  local lock = cjson.encode({conversation_id = ARGV[1], tickets = entries})
  redis.call('SET', KEYS[1], lock, 'PX', math.ceil((last - now) * 1000) + 1000)
  return lock
end
"""
# ARGV: conversation id, lifetime in seconds. Returns the new ticket's number.
ISSUE = (
    _TICKETS
    + """
local number = 0
if #tickets > 0 then number = tickets[#tickets].number + 1 end
table.insert(tickets, {number = number, expires = now + tonumber(ARGV[2])})
store()
return number
"""
)
# ARGV: conversation id. Drops expired tickets; returns the lock, or nil when none is left.
LIVE = _TICKETS + "return store()\n"
# ARGV: conversation id, ticket number. Gives the ticket back; the lock goes with the last one.
FINISH = (
    _TICKETS
    + """
for index, ticket in ipairs(tickets) do
  if ticket.number == tonumber(ARGV[2]) then table.remove(tickets, index) break end
end
store()
"""
)


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store, with each change of a lock made atomically by a script."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._issue = self.red.register_script(ISSUE)
        self._live = self.red.register_script(LIVE)
        self._finish = self.red.register_script(FINISH)

    def _key(self, conversation_id: str) -> list[str]:
        return [self.key_prefix + conversation_id]

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._issue(self._key(conversation_id), [conversation_id, lock_lifetime]))
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock: {error}") from error

    def live_lock(self, conversation_id: str) -> TicketLock | None:
        """The lock with its expired tickets dropped (and saved so), None when none is left."""
        raw = self._live(self._key(conversation_id), [conversation_id])
        return TicketLock.from_dict(json.loads(raw)) if raw else None

    async def _acquire_lock(
        self, conversation_id: str, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        while True:
            lock = self.live_lock(conversation_id)
            if lock is None or all(held.number != ticket for held in lock.tickets):
                # The ticket expired while earlier messages of the conversation were processed.
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait_time_in_seconds)

    def update_lock(self, conversation_id: str) -> None:
        self.live_lock(conversation_id)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self._finish(self._key(conversation_id), [conversation_id, ticket_number])


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

    async def _acquire_lock(
        self, conversation_id: str, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        return await self._store._acquire_lock(conversation_id, ticket, wait_time_in_seconds)

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
