"""The transfer watcher: a background task of the Rasa server that tells a user when a transfer
they watch (``bot.care.watches``) is confirmed, fails or is dropped, or that the watch ended.

Every TRANSFER_WATCH_POLL_SECONDS the watcher reads the wallet port's change feed from the stored
cursor, notes the new status on the watches of the transfers that left PENDING (one query per
batch), and only then moves the cursor on. It then claims the watches due (settled, expired, or
left half-told by a server that stopped), a few at a time so that no claim lapses while it is
being told, and tells each user on their own channel through
``Delivery``: ``utter_watch_update``, then the same explanation the user gets when asking
(``transfer_replies``); a note on the conversation's open ticket and, for a confirmed transfer
whose ticket is still queued, ``utter_watch_close_ticket_offer``. An expired watch gets
``utter_watch_expired`` once, unless the transfer settled after all. A Telegram or WeChat chat
no longer bound to the watch's account is told nothing. A backend outage
(``WalletError``) is logged and the poll is tried again next time: nothing is lost.

One server polls at a time: with REDIS_URL a lease in Redis (``SET NX PX``, renewed by its
owner at every poll, released when it stops, taken over by another server when it lapses);
without Redis the one server owns it. The watches' conditional claims are the safety net either
way: two servers never tell a user twice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from sanic import Sanic

from bot.care.watches import Watch, WatchSettings, WatchStore
from bot.channels.binding import BindingStore
from bot.channels.platform import platform_user
from bot.dialogue.transfer_check import TransferCheckSettings, transfer_replies
from bot.handoff.delivery import Delivery
from bot.handoff.records import State
from bot.handoff.store import HandoffStore
from bot.handoff.tables import utc_now
from bot.privacy import mask_hash
from bot.rate_limits import async_redis
from bot.services import services_of
from bot.wallet.errors import TransactionNotFound, WalletError
from bot.wallet.records import Transaction, TxStatus
from bot.wallet.service import WalletService

logger = logging.getLogger(__name__)

UPDATE = "utter_watch_update"
CLOSE_OFFER = "utter_watch_close_ticket_offer"
EXPIRED = "utter_watch_expired"
# The note the conversation's open ticket gets, for the agent (who reads Chinese).
NOTES = {
    TxStatus.CONFIRMED: "用户关注的转账 {tx} 已确认，已通知用户。",
    TxStatus.FAILED: "用户关注的转账 {tx} 失败了，已告知用户原因和处理办法。",
    TxStatus.DROPPED: "用户关注的转账 {tx} 已被网络丢弃，已告知用户。",
}
FEED_BATCH = 500  # changes read at once
MAX_PAGES = 20  # batches read in one poll, so a backlog after an outage drains quickly
CLAIM = timedelta(minutes=1)  # a claim lapses (another poll tells the user) if its server stops
CLAIM_BATCH = 5  # watches claimed at once: told within seconds, well inside CLAIM
CLAIM_BATCHES = 40  # batches in one poll (200 users); the rest wait for the next poll
LEASE_KEY = "im:care:watcher"
# Channels whose chats reach an account through a binding (the widget and REST prove the owner
# with every message, and their conversation ids are their own).
BOUND_PLATFORMS = frozenset({"telegram", "wechat"})
MIN_LEASE_SECONDS = 10.0
APP_CONTEXT = "transfer_watcher"

# KEYS[1]: the lease. ARGV: this server's token, lifetime in ms. 1: this server owns it now.
_ACQUIRE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
# KEYS[1]: the lease. ARGV: this server's token. Frees the lease if this server holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Ownership(Protocol):
    """Whether this server is the one that polls now."""

    async def acquire(self) -> bool:
        """Takes or renews the right to poll; True while this server holds it."""

    async def release(self) -> None:
        """Gives it up (the server stops), so another server takes over at once."""


class SoleOwnership:
    """One server (the embedded default): it always polls."""

    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class RedisOwnership:
    """A lease in Redis shared by every server (REDIS_URL): one holder, renewed at each poll."""

    def __init__(self, client: Any, lease_seconds: float, key: str = LEASE_KEY) -> None:
        self._client = client
        self._key = key
        self._lease_ms = int(lease_seconds * 1000)
        self._token = secrets.token_hex(16)
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, lease_seconds: float) -> RedisOwnership:
        return cls(async_redis(url), lease_seconds)

    async def acquire(self) -> bool:
        try:
            return bool(await self._acquire(keys=[self._key], args=[self._token, self._lease_ms]))
        except Exception as error:  # redis errors and timeouts alike
            # Polling anyway delays nothing; the watches' claims still tell each user once.
            logger.warning("transfer watcher lease not checked, Redis failed: %s", error)
            return True

    async def release(self) -> None:
        try:
            await self._release(keys=[self._key], args=[self._token])
        except Exception as error:
            logger.warning("transfer watcher lease not released, Redis failed: %s", error)


def ownership(redis_url: str | None, settings: WatchSettings) -> Ownership:
    """A Redis lease with REDIS_URL (several servers), else this server alone."""
    if not redis_url:
        return SoleOwnership()
    return RedisOwnership.from_url(redis_url, max(MIN_LEASE_SECONDS, 5 * settings.poll_seconds))


class Outcome(Enum):
    """How a claimed watch ended its turn."""

    TOLD = "told"  # the user heard the transfer's new status
    EXPIRED = "expired"  # the user heard the watch ended
    PUT_BACK = "put_back"  # tried again at a later poll
    UNBOUND = "unbound"  # the chat no longer belongs to the account: ended, nothing sent


@dataclass(frozen=True)
class Poll:
    """What one poll did: changes read, users told of a new status, watches ended."""

    changes: int = 0
    told: int = 0
    expired: int = 0


class TransferWatcher:
    """Polls the change feed and tells users; ``run`` is the server's task, ``poll`` one round."""

    def __init__(
        self,
        watches: WatchStore,
        wallet: WalletService,
        handoff: HandoffStore,
        settings: WatchSettings,
        transfer_check: TransferCheckSettings,
        owner: Ownership | None = None,
        bindings: BindingStore | None = None,
    ) -> None:
        self._watches = watches
        self._bindings = bindings
        self._wallet = wallet
        self._handoff = handoff
        self._settings = settings
        self._transfer_check = transfer_check
        self._owner = owner or SoleOwnership()
        self._task: asyncio.Task[None] | None = None

    async def run(self, app: Sanic) -> None:
        """Polls until the server stops; a failed poll is logged and tried again next time."""
        while True:
            await asyncio.sleep(self._settings.poll_seconds)
            agent = getattr(app.ctx, "agent", None)
            if agent is None or not await self._owner.acquire():
                continue
            try:
                await self.poll(Delivery(agent, app.ctx.input_channels, self._handoff.outbox))
            except Exception:
                logger.exception("transfer watcher poll failed; trying again next poll")

    async def poll(self, delivery: Delivery) -> Poll:
        """One round: read the feed, then tell the users whose watches are due."""
        started = time.perf_counter()
        try:
            changes = await self._read_feed()
        except WalletError as error:
            logger.warning("transfer watcher: wallet backend unavailable (%s); next poll", error)
            return Poll()
        told = expired = 0
        # Small batches, each claimed just before it is told: a claim never lapses while its
        # users are being told (a burst after an outage), so no other server tells them again.
        for _ in range(CLAIM_BATCHES):
            now = utc_now()
            batch = await asyncio.to_thread(self._watches.claim_due, now, CLAIM, CLAIM_BATCH)
            for watch in batch:
                outcome = await self._tell(delivery, watch, now)
                told += outcome is Outcome.TOLD
                expired += outcome is Outcome.EXPIRED
            if len(batch) < CLAIM_BATCH:
                break
        if changes or told or expired:
            logger.info(
                "transfer watcher: %d changes, %d told, %d expired in %.0f ms",
                changes,
                told,
                expired,
                (time.perf_counter() - started) * 1000,
            )
        return Poll(changes, told, expired)

    def start(self, app: Sanic) -> None:
        self._task = app.add_task(self.run(app))

    async def stop(self) -> None:
        """No more polls; the lease is free for another server."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self._owner.release()

    async def _read_feed(self) -> int:
        """Reads the changes since the cursor, page after page, each recorded on the watches
        before the cursor moves past it; the number of changes read."""
        read = 0
        for _ in range(MAX_PAGES):
            since = await asyncio.to_thread(self._watches.cursor, utc_now())
            batch = await self._changes(since)
            if not batch:
                break
            read += len(batch)
            await asyncio.to_thread(self._watches.record, batch)
            await asyncio.to_thread(self._watches.advance, since, batch[-1].updated_at)
            if len(batch) < FEED_BATCH:
                break
        return read

    async def _changes(self, since: datetime) -> list[Transaction]:
        """A batch of the feed that moves the cursor: the feed repeats changes at ``since``, so a
        full batch of one instant is read again larger."""
        limit = FEED_BATCH
        while True:
            batch = await asyncio.to_thread(self._wallet.changes, since, limit)
            if len(batch) < limit or batch[-1].updated_at > since:
                return batch
            limit *= 2

    async def _tell(self, delivery: Delivery, watch: Watch, now: datetime) -> Outcome:
        """Tells the user of a claimed watch what became of it, or puts it back."""
        if not await asyncio.to_thread(self._still_owned, watch):
            # Unbound since (a hijacked Telegram taken away, say): its account's transfer is no
            # longer that chat's business.
            logger.warning("watch %d ended unsent: its chat left the account", watch.watch_id)
            await asyncio.to_thread(self._watches.finish, watch, None, now)
            return Outcome.UNBOUND
        try:
            tx: Transaction | None = await asyncio.to_thread(
                self._wallet.transaction, watch.account_id, watch.tx_hash
            )
        except TransactionNotFound:
            tx = None
        except WalletError as error:
            logger.warning("watch %d: wallet backend unavailable (%s)", watch.watch_id, error)
            await asyncio.to_thread(self._watches.release, watch)
            return Outcome.PUT_BACK
        if tx is not None and tx.status is TxStatus.PENDING and watch.settled:
            # Pending again (a reorganisation, or the backend took it back): wait for the next.
            await asyncio.to_thread(self._watches.release, watch, settled=False)
            return Outcome.PUT_BACK
        try:
            if tx is None or tx.status is TxStatus.PENDING:
                await delivery.send_response(
                    watch.conversation_id,
                    EXPIRED,
                    channel=watch.channel,
                    tx=mask_hash(watch.tx_hash),
                    hours=f"{self._settings.hours:g}",
                )
                outcome = Outcome.EXPIRED
            else:
                await self._tell_status(delivery, watch, tx, now)
                outcome = Outcome.TOLD
        except Exception:
            # Tried again at the next poll: a channel that failed, a response missing.
            logger.exception("watch %d: the user could not be told", watch.watch_id)
            await asyncio.to_thread(self._watches.release, watch)
            return Outcome.PUT_BACK
        status = tx.status if tx is not None and outcome is Outcome.TOLD else None
        await asyncio.to_thread(self._watches.finish, watch, status, utc_now())
        logger.info(
            "watch %d of conversation %s: %s", watch.watch_id, watch.conversation_id, outcome.value
        )
        return outcome

    async def _tell_status(
        self, delivery: Delivery, watch: Watch, tx: Transaction, now: datetime
    ) -> None:
        masked = mask_hash(tx.tx_hash)
        send = delivery.send_response
        await send(watch.conversation_id, UPDATE, channel=watch.channel, tx=masked)
        for reply in transfer_replies(tx, None, now, self._transfer_check):
            await send(watch.conversation_id, reply.response, channel=watch.channel, **reply.values)
        ticket = await asyncio.to_thread(self._handoff.tickets.open_for, watch.conversation_id)
        if ticket is None:
            return
        note = NOTES[tx.status].format(tx=masked)
        await asyncio.to_thread(self._handoff.notes.add, ticket.ticket_id, "system", note)
        if tx.status is TxStatus.CONFIRMED and ticket.state is State.QUEUED:
            await send(watch.conversation_id, CLOSE_OFFER, channel=watch.channel, tx=masked)

    def _still_owned(self, watch: Watch) -> bool:
        """Whether a platform chat (Telegram, WeChat) is still bound to the watch's account;
        other channels prove the owner at every message and keep their conversation."""
        user = platform_user(watch.conversation_id)
        if user is None or user.platform not in BOUND_PLATFORMS or self._bindings is None:
            return True
        return self._bindings.account_for(user.platform, user.user) == watch.account_id


async def start_watcher(app: Sanic, _: Any = None) -> None:
    """The ``after_server_start`` listener: the server's watcher polls from now on."""
    services = services_of(app)
    settings = services.settings
    watcher = TransferWatcher(
        services.watches,
        services.wallet,
        services.handoff,
        settings.watches,
        settings.transfer_check,
        ownership(settings.stores.redis, settings.watches),
        services.bindings,
    )
    setattr(app.ctx, APP_CONTEXT, watcher)
    watcher.start(app)
    logger.info("transfer watcher polls every %s s", settings.watches.poll_seconds)


async def stop_watcher(app: Sanic, _: Any = None) -> None:
    """The ``before_server_stop`` listener: polling stops and the lease is released."""
    watcher: TransferWatcher | None = getattr(app.ctx, APP_CONTEXT, None)
    if watcher is not None:
        await watcher.stop()
