"""The transfer watcher tells a user once, on their channel, what became of a transfer they
watch: after a change in the wallet backend, through a backend outage, a failed delivery, a
restart and two servers polling at once; with a note and a close offer on an open ticket; and
once when the watch expires. One server polls at a time with Redis (a lease)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.shared.core.events import BotUttered

from bot.care.watcher import (
    CLOSE_OFFER,
    EXPIRED,
    NOTES,
    UPDATE,
    Poll,
    RedisOwnership,
    TransferWatcher,
)
from bot.care.watches import WatchSettings, WatchState, WatchStore
from bot.channels.binding import BindingStore
from bot.dialogue.transfer_check import TransferCheckSettings
from bot.handoff.delivery import Delivery
from bot.handoff.records import Reason, Summary
from bot.handoff.store import HandoffStore
from bot.privacy import mask_hash
from bot.wallet import demo_data
from bot.wallet.demo_data import ALICE, TX_PENDING_FRESH, TX_PENDING_LONG
from bot.wallet.errors import WalletUnavailable
from bot.wallet.records import TxStatus
from bot.wallet.sql import SqlWalletService, transactions
from scripts.production_stack import Redis
from tests.support.channel_server import domain_agent
from tests.support.stack import running_stack

SETTINGS = WatchSettings(poll_seconds=0.2)
TRANSFER_CHECK = TransferCheckSettings(timedelta(minutes=60))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def settle(wallet: SqlWalletService, tx_hash: str, status: TxStatus) -> None:
    """The backend sees the transfer leave PENDING, now."""
    with wallet.engine.begin() as connection:
        connection.execute(
            transactions.update()
            .where(transactions.c.tx_hash == tx_hash)
            .values(status=status.value, confirmations=1, updated_at=utc_now())
        )


class Outage:
    """The wallet backend, unreachable while ``down``."""

    def __init__(self, backend: SqlWalletService) -> None:
        self.backend = backend
        self.down = False

    def __getattr__(self, name: str) -> Any:
        if self.down:
            raise WalletUnavailable("the backend does not answer")
        return getattr(self.backend, name)


@dataclass
class Desk:
    """One server's parts on the stores of a test: the wallet, handoff and watch stores."""

    wallet: SqlWalletService
    handoff: HandoffStore
    watches: WatchStore
    agent: Agent
    handed_over: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def watcher(self, wallet: Any = None) -> TransferWatcher:
        return TransferWatcher(
            self.watches, wallet or self.wallet, self.handoff, SETTINGS, TRANSFER_CHECK
        )

    @property
    def delivery(self) -> Delivery:
        return Delivery(self.agent, [], self.handoff.outbox)

    def watch(self, conversation: str, tx_hash: str = TX_PENDING_FRESH, at: Any = None) -> int:
        """The user of ``conversation`` (REST) asks to be told about their transfer."""
        return self.watches.start(
            conversation_id=conversation,
            channel="rest",
            account_id=ALICE,
            tx_hash=tx_hash,
            chain="TRON",
            status=TxStatus.PENDING,
            now=at or utc_now(),
        ).watch_id

    def responses(self, conversation: str, run: Callable[..., Any]) -> list[str]:
        """The responses the conversation received (its tracker)."""
        tracker = run(self.agent.tracker_store.retrieve(conversation))
        if tracker is None:
            return []
        return [e.metadata.get("utter_action") for e in tracker.events if isinstance(e, BotUttered)]


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    wallet = SqlWalletService.from_url(f"sqlite:///{tmp_path / 'wallet.db'}")
    demo_data.seed(wallet, utc_now())
    handoff_url = f"sqlite:///{tmp_path / 'handoff.db'}"
    return Desk(
        wallet,
        HandoffStore.from_url(handoff_url),
        WatchStore.from_url(handoff_url, SETTINGS),
        domain_agent(),
    )


def told(desk: Desk, conversation: str, run: Callable[..., Any]) -> list[str]:
    """The responses the user was told; every one on the REST outbox, the update once."""
    tracker = run(desk.agent.tracker_store.retrieve(conversation))
    said = [e for e in tracker.events if isinstance(e, BotUttered)] if tracker else []
    handed_over = desk.handed_over.setdefault(conversation, [])
    handed_over += desk.handoff.outbox.collect(conversation)
    texts = [message.get("text") for message in handed_over]
    assert all(event.text in texts for event in said)
    updates = [e.text for e in said if e.metadata.get("utter_action") == UPDATE]
    assert all(texts.count(text) == 1 for text in updates), texts
    return [e.metadata.get("utter_action") for e in said]


def test_a_confirmed_transfer_is_told_once(desk: Desk, run: Any) -> None:
    desk.watch("c-confirmed")
    watcher = desk.watcher()
    assert run(watcher.poll(desk.delivery)) == Poll(), "still pending: nothing to say"
    settle(desk.wallet, TX_PENDING_FRESH, TxStatus.CONFIRMED)
    assert run(watcher.poll(desk.delivery)).told == 1
    responses = told(desk, "c-confirmed", run)
    assert responses[:2] == [UPDATE, "utter_transfer_confirmed_out"], responses
    assert responses.count(UPDATE) == 1
    assert run(watcher.poll(desk.delivery)).told == 0
    assert told(desk, "c-confirmed", run) == responses, "nothing more on later polls"
    assert desk.watches.active_count() == 0


def test_a_failed_transfer_notes_the_open_ticket(desk: Desk, run: Any) -> None:
    ticket = desk.handoff.tickets.open("c-failed", "rest", Reason.PENDING_TRANSFER, Summary())
    desk.watch("c-failed")
    settle(desk.wallet, TX_PENDING_FRESH, TxStatus.FAILED)
    run(desk.watcher().poll(desk.delivery))
    responses = told(desk, "c-failed", run)
    assert responses[0] == UPDATE and "utter_transfer_failed" in responses
    assert CLOSE_OFFER not in responses, "a failed transfer is no reason to close the ticket"
    [note] = desk.handoff.notes.notes(ticket.ticket_id)
    assert note.author == "system"
    assert note.text == NOTES[TxStatus.FAILED].format(tx=mask_hash(TX_PENDING_FRESH))


def test_a_confirmed_transfer_offers_to_close_a_queued_ticket(desk: Desk, run: Any) -> None:
    ticket = desk.handoff.tickets.open("c-ticket", "rest", Reason.PENDING_TRANSFER, Summary())
    desk.watch("c-ticket")
    settle(desk.wallet, TX_PENDING_FRESH, TxStatus.CONFIRMED)
    run(desk.watcher().poll(desk.delivery))
    responses = told(desk, "c-ticket", run)
    assert responses[0] == UPDATE and responses[-1] == CLOSE_OFFER
    assert len(desk.handoff.notes.notes(ticket.ticket_id)) == 1


def test_a_backend_outage_delays_the_message_and_loses_none(desk: Desk, run: Any) -> None:
    backend = Outage(desk.wallet)
    watcher = desk.watcher(backend)
    desk.watch("c-outage")
    run(watcher.poll(desk.delivery))
    cursor = desk.watches.cursor(utc_now())
    backend.down = True
    settle(desk.wallet, TX_PENDING_FRESH, TxStatus.DROPPED)
    for _ in range(3):
        assert run(watcher.poll(desk.delivery)) == Poll()
    assert desk.watches.cursor(utc_now()) == cursor, "the feed is read again after the outage"
    assert desk.responses("c-outage", run) == []
    backend.down = False
    assert run(watcher.poll(desk.delivery)).told == 1
    assert told(desk, "c-outage", run)[:2] == [UPDATE, "utter_transfer_dropped"]


def test_an_outage_between_the_feed_and_the_message_is_retried(desk: Desk, run: Any) -> None:
    backend = Outage(desk.wallet)
    desk.watch("c-late")
    settle(desk.wallet, TX_PENDING_FRESH, TxStatus.CONFIRMED)
    original = backend.backend.transaction
    calls = []

    def transaction(account_id: str, tx_hash: str) -> Any:
        calls.append(tx_hash)
        if len(calls) == 1:
            raise WalletUnavailable("timed out")
        return original(account_id, tx_hash)

    backend.transaction = transaction
    watcher = desk.watcher(backend)
    assert run(watcher.poll(desk.delivery)).told == 0
    assert desk.responses("c-late", run) == []
    assert run(watcher.poll(desk.delivery)).told == 1, "the feed moved on; the watch remembers"
    assert told(desk, "c-late", run).count(UPDATE) == 1


class FailingOnce(Delivery):
    """A channel that fails the first message it is given."""

    failed = False

    async def send_response(self, conversation_id: str, response: str, **values: Any) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("the channel did not take it")
        await super().send_response(conversation_id, response, **values)


def test_a_failed_delivery_is_sent_at_the_next_poll(desk: Desk, run: Any) -> None:
    desk.watch("c-channel")
    settle(desk.wallet, TX_PENDING_FRESH, TxStatus.CONFIRMED)
    flaky = FailingOnce(desk.agent, [], desk.handoff.outbox)
    watcher = desk.watcher()
    assert run(watcher.poll(flaky)).told == 0
    assert run(watcher.poll(flaky)).told == 1
    assert told(desk, "c-channel", run).count(UPDATE) == 1


def test_a_restarted_server_tells_what_the_stopped_one_had_seen(
    desk: Desk, tmp_path: Path, run: Any
) -> None:
    desk.watch("c-restart")
    settle(desk.wallet, TX_PENDING_FRESH, TxStatus.CONFIRMED)
    before = desk.watcher(Outage(desk.wallet))
    # The server records the change and stops before telling the user (its delivery fails).
    run(before.poll(FailingOnce(desk.agent, [], desk.handoff.outbox)))
    restarted = Desk(
        SqlWalletService.from_url(f"sqlite:///{tmp_path / 'wallet.db'}"),
        HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}"),
        WatchStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}", SETTINGS),
        desk.agent,
    )
    assert run(restarted.watcher().poll(restarted.delivery)).told == 1
    assert told(desk, "c-restart", run).count(UPDATE) == 1


def test_two_servers_polling_at_once_tell_the_user_once(
    desk: Desk, tmp_path: Path, run: Any
) -> None:
    other = WatchStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}", SETTINGS)
    second = TransferWatcher(other, desk.wallet, desk.handoff, SETTINGS, TRANSFER_CHECK)
    conversations = [f"c-two-{n}" for n in range(10)]
    for conversation in conversations:
        desk.watch(conversation)
    settle(desk.wallet, TX_PENDING_FRESH, TxStatus.CONFIRMED)

    async def both() -> list[Poll]:
        return list(
            await asyncio.gather(desk.watcher().poll(desk.delivery), second.poll(desk.delivery))
        )

    polls = run(both())
    assert sum(poll.told for poll in polls) == len(conversations)
    for conversation in conversations:
        assert told(desk, conversation, run).count(UPDATE) == 1


def test_an_expired_watch_says_goodbye_once(desk: Desk, run: Any) -> None:
    desk.watch("c-expired", TX_PENDING_LONG, at=utc_now() - timedelta(hours=24, seconds=1))
    desk.watch("c-young", TX_PENDING_LONG, at=utc_now() - timedelta(hours=23))
    watcher = desk.watcher()
    assert run(watcher.poll(desk.delivery)).expired == 1
    assert run(watcher.poll(desk.delivery)).expired == 0
    assert told(desk, "c-expired", run) == [EXPIRED]
    assert desk.responses("c-young", run) == []


def test_an_expired_watch_of_a_settled_transfer_tells_the_status(desk: Desk, run: Any) -> None:
    """The safety net: a change the feed never showed is found when the watch expires."""
    watch_id = desk.watch("c-missed", at=utc_now() - timedelta(hours=25))
    with desk.wallet.engine.begin() as connection:  # changed without a new updated_at
        connection.execute(
            transactions.update()
            .where(transactions.c.tx_hash == TX_PENDING_FRESH)
            .values(status=TxStatus.CONFIRMED.value)
        )
    assert run(desk.watcher().poll(desk.delivery)).told == 1
    assert told(desk, "c-missed", run)[0] == UPDATE
    watch = desk.watches.get(watch_id)
    assert watch is not None and watch.state is WatchState.DONE
    assert watch.new_status is TxStatus.CONFIRMED


def test_the_watcher_task_tells_the_user_within_the_target(desk: Desk, run: Any) -> None:
    """The background task with the default poll: a change reaches the outbox within 10 s."""
    watcher = TransferWatcher(
        desk.watches, desk.wallet, desk.handoff, WatchSettings(), TRANSFER_CHECK
    )
    app = SimpleNamespace(ctx=SimpleNamespace(agent=desk.agent, input_channels=[]))
    desk.watch("c-task")

    async def scenario() -> tuple[float, list[dict[str, Any]]]:
        task = asyncio.ensure_future(watcher.run(app))  # type: ignore[arg-type]
        try:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(settle, desk.wallet, TX_PENDING_FRESH, TxStatus.CONFIRMED)
            changed = time.monotonic()
            while time.monotonic() - changed < 10:
                messages = desk.handoff.outbox.collect("c-task")
                if messages:
                    return time.monotonic() - changed, messages
                await asyncio.sleep(0.05)
            return time.monotonic() - changed, []
        finally:
            task.cancel()

    delay, messages = run(scenario())
    assert messages, "no message within 10 s"
    assert delay <= 10
    assert messages[0]["text"].startswith("您关注的转账（" + mask_hash(TX_PENDING_FRESH))


def test_one_server_holds_the_redis_lease(redis_server: Redis, run: Any) -> None:
    async def scenario() -> list[bool]:
        first = RedisOwnership.from_url(redis_server.url, lease_seconds=10)
        second = RedisOwnership.from_url(redis_server.url, lease_seconds=10)
        seen = [await first.acquire(), await second.acquire(), await first.acquire()]
        await first.release()
        seen += [await second.acquire(), await first.acquire()]
        await second.release()
        return seen

    assert run(scenario()) == [True, False, True, True, False]


def test_a_lapsed_lease_is_taken_over(redis_server: Redis, run: Any) -> None:
    async def scenario() -> list[bool]:
        stopped = RedisOwnership.from_url(redis_server.url, lease_seconds=0.2)
        other = RedisOwnership.from_url(redis_server.url, lease_seconds=0.2)
        seen = [await stopped.acquire(), await other.acquire()]
        await asyncio.sleep(0.4)  # the owner died without releasing
        seen.append(await other.acquire())
        await other.release()
        return seen

    assert run(scenario()) == [True, False, True]


def test_a_redis_outage_lets_the_server_poll(redis_server: Redis, run: Any) -> None:
    url = redis_server.url.replace(str(redis_server.port), "1")  # nothing listens on port 1
    assert run(RedisOwnership.from_url(url, lease_seconds=10).acquire())


def test_a_rasa_server_tells_a_rest_user_within_the_target(
    tmp_path_factory: pytest.TempPathFactory, model_path: Path
) -> None:
    """The embedded default, end to end: the Rasa server's own watcher, the default poll, the
    demo wallet confirmed in the SQL backend, one update on the REST outbox within 10 s."""
    with running_stack(
        tmp_path_factory.mktemp("watcher"), in_process=True, actions=False, agent=None
    ) as local:
        watches = WatchStore.from_url(local.handoff_url, WatchSettings())
        watches.start(
            conversation_id="rest-watcher",
            channel="rest",
            account_id=ALICE,
            tx_hash=TX_PENDING_FRESH,
            chain="TRON",
            status=TxStatus.PENDING,
            now=utc_now(),
        )
        outbox = HandoffStore.from_url(local.handoff_url).outbox
        settle(SqlWalletService.from_url(local.wallet_url), TX_PENDING_FRESH, TxStatus.CONFIRMED)
        changed = time.monotonic()
        handed_over: list[dict[str, Any]] = []
        while not handed_over and time.monotonic() - changed < 10:
            handed_over = outbox.collect("rest-watcher")
            time.sleep(0.05)
        delay = time.monotonic() - changed
        assert handed_over, "no message within 10 s"
        time.sleep(3)  # polls after the message add nothing
        handed_over += outbox.collect("rest-watcher")
    update = "您关注的转账（" + mask_hash(TX_PENDING_FRESH)
    texts = [str(message.get("text")) for message in handed_over]
    assert sum(text.startswith(update) for text in texts) == 1, texts
    assert texts[0].startswith(update) and delay <= 10


def test_a_platform_chat_unbound_since_the_watch_started_is_told_nothing(
    desk: Desk, run: Any, tmp_path: Path
) -> None:
    bindings = BindingStore.from_url(f"sqlite:///{tmp_path / 'channels.db'}")
    code = bindings.issue_code(ALICE, timedelta(minutes=10))
    assert bindings.redeem(code, "telegram", "4242") == ALICE
    for chat in ("telegram:4242", "telegram:5151", "widget:5e1f"):  # bound, never bound, widget
        desk.watches.start(
            conversation_id=chat,
            channel=chat.partition(":")[0],
            account_id=ALICE,
            tx_hash=TX_PENDING_FRESH,
            chain="TRON",
            status=TxStatus.PENDING,
            now=utc_now(),
        )
    bindings.unbind(ALICE, "telegram", "4242")  # the owner took the chat away
    watcher = TransferWatcher(
        desk.watches, desk.wallet, desk.handoff, SETTINGS, TRANSFER_CHECK, bindings=bindings
    )
    settle(desk.wallet, TX_PENDING_FRESH, TxStatus.CONFIRMED)
    assert run(watcher.poll(desk.delivery)).told == 1  # the widget's owner only
    assert desk.responses("telegram:4242", run) == []
    assert desk.responses("telegram:5151", run) == []
    assert desk.responses("widget:5e1f", run)[0] == UPDATE
    assert desk.watches.active_count() == 0
