"""Transfer watches end to end on the channels that push: demo-alice asks about her pending
transfer on the in-app widget or on Telegram (a bound user), presses 「到账了通知我」, and once the
wallet backend confirms the transfer she is told exactly once, within the target, on that
channel: on the embedded default (one Rasa server on SQLite, with the stand-in Telegram API),
and on the widget and Telegram of the production stack, whichever of its two servers polls.

A module stack of its own: these tests watch demo-alice's widget conversation and change her
demo transfer, which the shared stack's tests read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.care.watches import WatchSettings
from bot.privacy import mask_hash
from bot.wallet.demo_chain import set_fresh_transfer
from bot.wallet.demo_data import ALICE, TX_PENDING_FRESH
from bot.wallet.records import TxStatus
from scripts.local_stack import widget_token
from scripts.production_stack import ProductionStack
from tests.support.fakes import FakePlatforms
from tests.support.http import Http, WidgetUser, fresh_address
from tests.support.platform_users import TelegramUser, private_message, update
from tests.support.stack import SERVED, ServedStack, running_stack

TARGET_SECONDS = 10
# Quiet for this long after the update: later polls (of either server) repeated nothing.
AFTERWARDS = 3 * WatchSettings().poll_seconds
ASK = f"{TX_PENDING_FRESH} 这笔怎么还没到"
OFFER = "到账了通知我"
STARTED = "好的，我会关注这笔转账（" + mask_hash(TX_PENDING_FRESH)
UPDATE = "您关注的转账（" + mask_hash(TX_PENDING_FRESH)
CONFIRMED = "已经成功上链"  # utter_transfer_confirmed_out, as when the user asks


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, model_path: Path, platforms: FakePlatforms
) -> Iterator[ServedStack]:
    """The embedded default, served, with the widget and Telegram on the stand-in API."""
    with running_stack(
        tmp_path_factory.mktemp("watch-channels"), settings={**SERVED, **platforms.env()}
    ) as stack:
        yield stack


@dataclass(frozen=True)
class Told:
    """What a user was told after the backend's change, and when the update came (None: not
    within the target)."""

    delay: float | None
    texts: list[str]


def assert_told_once(told: Told) -> None:
    """The update first and once, within the target, followed by the confirmed explanation."""
    assert told.delay is not None, f"no update within {TARGET_SECONDS} s: {told.texts}"
    updates = [n for n, text in enumerate(told.texts) if text.startswith(UPDATE)]
    assert updates == [0], told.texts
    assert len(told.texts) > 1 and CONFIRMED in told.texts[1], told.texts


# --- the widget -----------------------------------------------------------------------------


def widget_offer(messages: list[dict[str, Any]]) -> str:
    """The payload of the 「到账了通知我」 button the bot's messages offered."""
    payloads = [
        button["payload"]
        for message in messages
        for button in message.get("buttons") or []
        if button.get("title") == OFFER
    ]
    assert payloads, [message.get("text") for message in messages]
    return str(payloads[-1])


async def told_on_widget(tab: WidgetUser, changed: float) -> Told:
    """The texts a widget tab receives from the change until quiet for ``AFTERWARDS``."""
    texts: list[str] = []
    delay = None
    try:
        while delay is None:
            left = changed + TARGET_SECONDS - time.monotonic()
            texts.append(await asyncio.wait_for(tab.texts.get(), max(left, 0)))
            if texts[-1].startswith(UPDATE):
                delay = time.monotonic() - changed
    except asyncio.TimeoutError:
        pass
    return Told(delay, texts + await tab.quiet(AFTERWARDS))


async def watched_on_widget(wallet_url: str, asking_at: str, *listening_at: str) -> list[Told]:
    """Demo-alice asks on a widget tab of ``asking_at`` and presses the offer, with more tabs
    open on ``listening_at``; the backend confirms her transfer: what each tab was told."""
    asking = WidgetUser(asking_at, fresh_address())
    tabs = [asking, *(WidgetUser(url, fresh_address()) for url in listening_at)]
    try:
        for tab in tabs:
            assert await tab.open(widget_token(ALICE), timeout=30)
        await asking.say(ASK)
        answer = await asking.say(widget_offer(asking.messages))
        assert any(text.startswith(STARTED) for text in answer), answer
        for tab in tabs:  # the turns' replies reached every tab; only what follows counts
            while not tab.texts.empty():
                tab.texts.get_nowait()
        await asyncio.to_thread(set_fresh_transfer, wallet_url, TxStatus.CONFIRMED)
        changed = time.monotonic()
        try:
            return list(await asyncio.gather(*(told_on_widget(tab, changed) for tab in tabs)))
        finally:
            await asyncio.to_thread(set_fresh_transfer, wallet_url, TxStatus.PENDING)
    finally:
        for tab in tabs:
            await tab.close()


def test_a_widget_user_is_told_once_within_the_target(served: ServedStack) -> None:
    (told,) = asyncio.run(watched_on_widget(served.wallet_url, served.base_url))
    assert_told_once(told)
    print(f"widget: told {told.delay:.2f} s after the backend's change")


def test_two_servers_tell_widget_tabs_on_both_once(production: ProductionStack) -> None:
    """The conversation on one server, a tab on each: whichever server's watcher tells her,
    every tab shows the update once."""
    first, second = production.base_urls
    told = asyncio.run(watched_on_widget(production.store_urls["WALLET_DB_URL"], first, second))
    for tab in told:
        assert_told_once(tab)
    delays = ", ".join(f"{tab.delay:.2f} s" for tab in told)
    print(f"production widget tabs: told {delays} after the backend's change")


# --- Telegram -------------------------------------------------------------------------------


def telegram_offer(sent: list[dict[str, Any]]) -> str:
    """The callback_data of the 「到账了通知我」 button in the bot's inline keyboards."""
    data = [
        button["callback_data"]
        for message in sent
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for button in row
        if button.get("text") == OFFER
    ]
    assert data, [message.get("text") for message in sent]
    return str(data[-1])


def told_on_telegram(user: TelegramUser, before: int, changed: float) -> Told:
    """The texts sent to the user after their first ``before`` messages: polled until the
    update comes (within the target), then ``AFTERWARDS`` more."""
    delay = None
    while delay is None and time.monotonic() - changed < TARGET_SECONDS:
        if any(m["text"].startswith(UPDATE) for m in user.received()[before:]):
            delay = time.monotonic() - changed
        else:
            time.sleep(0.05)
    time.sleep(AFTERWARDS)
    return Told(delay, [str(m["text"]) for m in user.received()[before:]])


def watched_on_telegram(
    asking: TelegramUser, pressing: TelegramUser, binding_url: str, wallet_url: str
) -> Told:
    """Demo-alice, bound, asks through ``asking``'s server and presses the offer through
    ``pressing``'s (the same chat); the backend confirms her transfer: what she was told."""
    asking.bind(binding_url)
    asked = asking.send(update(message=private_message(asking.user_id, text=ASK)))
    answer = [m["text"] for m in pressing.press(telegram_offer(asked))]
    assert any(text.startswith(STARTED) for text in answer), answer
    before = len(asking.received())
    set_fresh_transfer(wallet_url, TxStatus.CONFIRMED)
    changed = time.monotonic()
    try:
        return told_on_telegram(asking, before, changed)
    finally:
        set_fresh_transfer(wallet_url, TxStatus.PENDING)


def test_a_telegram_user_is_told_once_within_the_target(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(served.http, platforms)
    told = watched_on_telegram(user, user, served.env()["BINDING_DB_URL"], served.wallet_url)
    assert_told_once(told)
    print(f"telegram: told {told.delay:.2f} s after the backend's change")


def test_two_servers_tell_a_telegram_user_once(
    production: ProductionStack, platforms: FakePlatforms
) -> None:
    """Telegram's webhook behind a balancer: the question reaches one server, the press the
    other; whichever server's watcher sees the change, the chat gets the update once."""
    first, second = (Http.to(url) for url in production.base_urls)
    asking = TelegramUser(first, platforms)
    pressing = TelegramUser(second, platforms, asking.user_id)
    urls = production.store_urls
    told = watched_on_telegram(asking, pressing, urls["BINDING_DB_URL"], urls["WALLET_DB_URL"])
    assert_told_once(told)
    print(f"production telegram: told {told.delay:.2f} s after the backend's change")
