"""Typing indicators both ways on the in-app widget, on the shared served stack: the agent's
typing (the console's typing call) reaches every tab of that conversation's widget and no other,
the user's typing shows in the console's ticket until the message is sent or it expires, bad
``user_typing`` payloads leave the socket working, and in chromium the page shows 客服正在输入…
and sends the user's typing as they write.

Each test chats as an account of its own (a widget conversation needs no wallet account), hands
over to the agent li and closes the ticket when done.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import jwt
import pytest
from playwright.sync_api import ConsoleMessage, expect

from bot.channels.widget import conversation_of
from bot.channels.widget.channel import TypingGate
from scripts.local_stack import WIDGET_AUDIENCE, WIDGET_SECRET, widget_token
from tests.browser import SCREENSHOTS, chromium
from tests.support.http import AGENT, AgentConsole, WidgetUser, fresh_address
from tests.support.stack import ServedStack

T = TypeVar("T")
WAIT_MS = 15_000
HANDED_OVER = "转接人工客服"
TYPING = "客服正在输入…"
_accounts = itertools.count(1)


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Runs a socket.io scenario (Playwright's sync API holds an event loop in this thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scenario).result(timeout=180)


def new_account() -> str:
    return f"widget-typing-{time.time_ns()}-{next(_accounts)}"


def conversation(served: ServedStack, account: str) -> str:
    return conversation_of(account, served.identity_secret.encode())


def hold(console: AgentConsole, conversation_id: str) -> int:
    """The conversation's open ticket, claimed by li (or already assigned to li)."""
    ticket = console.ticket_of(conversation_id)
    status, _ = console.post(f"/tickets/{ticket['ticket_id']}/claim")
    if status != 200:  # the dispatcher may have assigned it to li, if li is online
        held = console.get(f"/tickets/{ticket['ticket_id']}")["ticket"]
        assert (held["agent"], held["state"]) == (AGENT.username, "assigned"), held
    return int(ticket["ticket_id"])


def user_typing(console: AgentConsole, ticket_id: int) -> bool:
    """What the console shows of the user's typing on the ticket."""
    return bool(console.get(f"/tickets/{ticket_id}")["ticket"]["user_typing"])


def close(console: AgentConsole, ticket_id: int) -> None:
    status, _ = console.post(f"/tickets/{ticket_id}/close", {"note": "typing test"})
    assert status == 200


async def handed_over(served: ServedStack, widget: WidgetUser, account: str) -> tuple[Any, int]:
    """The widget's user asks for a human; li holds the ticket. The console and the ticket."""
    await widget.client.emit("user_uttered", {"message": "帮我转人工"})
    await widget.text_with(HANDED_OVER, timeout=15)
    console = await asyncio.to_thread(AgentConsole, served.http)
    ticket_id = await asyncio.to_thread(hold, console, conversation(served, account))
    return console, ticket_id


async def typed(widget: WidgetUser, payload: Any) -> None:
    """Sends ``user_typing`` and waits for the server's ack: it has handled the event."""
    await widget.client.call("user_typing", payload, timeout=10)


def agent_typing_events(widget: WidgetUser) -> asyncio.Queue[Any]:
    events: asyncio.Queue[Any] = asyncio.Queue()
    widget.client.on("agent_typing", events.put_nowait)
    return events


# --- socket.io ------------------------------------------------------------------------------


def test_the_agents_typing_reaches_every_tab_of_its_conversation_and_no_other(
    served: ServedStack,
) -> None:
    account, other_account = new_account(), new_account()

    async def scenario() -> None:
        user = WidgetUser(served.base_url, fresh_address())
        second_tab = WidgetUser(served.base_url, fresh_address())
        other = WidgetUser(served.base_url, fresh_address())
        shown = [agent_typing_events(w) for w in (user, second_tab, other)]
        assert await user.open(widget_token(account))
        assert await second_tab.open(widget_token(account))
        assert await other.open(widget_token(other_account))
        console, ticket_id = await handed_over(served, user, account)
        try:
            for typing in (True, False):
                status, _ = await asyncio.to_thread(
                    console.post, f"/tickets/{ticket_id}/typing", {"typing": typing}
                )
                assert status == 200
                for tab in shown[:2]:  # both tabs of the conversation
                    assert await asyncio.wait_for(tab.get(), 5) == {"typing": typing}
            await asyncio.sleep(1)
            assert shown[2].empty(), "another conversation's widget saw the agent typing"
        finally:
            await asyncio.to_thread(close, console, ticket_id)
            for widget in (user, second_tab, other):
                await widget.close()

    run(scenario())


def test_the_users_typing_shows_in_the_console_until_sent_or_expired(served: ServedStack) -> None:
    account = new_account()

    async def scenario() -> float:
        user = WidgetUser(served.base_url, fresh_address())
        assert await user.open(widget_token(account))
        console, ticket_id = await handed_over(served, user, account)

        async def shown() -> bool:
            return await asyncio.to_thread(user_typing, console, ticket_id)

        try:
            assert not await shown()
            await typed(user, {"typing": True})
            assert await shown()
            # Sending the message ends it (the ack comes when the turn is over).
            await user.call({"message": "我还在等"})
            assert not await shown()
            # Typing that is not refreshed runs out.
            await typed(user, {"typing": True})
            started = time.monotonic()
            assert await shown()
            while await shown() and time.monotonic() - started < 15:
                await asyncio.sleep(0.25)
            expired_after = time.monotonic() - started
            # The user clears the box: it ends at once.
            await typed(user, {"typing": True})
            assert await shown()
            await typed(user, {"typing": False})
            assert not await shown()
            return expired_after
        finally:
            await asyncio.to_thread(close, console, ticket_id)
            await user.close()

    expired_after = run(scenario())
    assert 4 <= expired_after <= 9, expired_after


BAD_PAYLOADS = [
    None,
    "typing",
    1,
    True,
    [],
    [True],
    {},
    {"typing": "true"},
    {"typing": 1},
    {"typing": None},
    {"typing": [True]},
    {"typing": {"$ne": None}},
    {"typing": "x" * 100_000},
    (True, True, True),  # three arguments
]


def test_bad_typing_payloads_are_ignored_and_the_socket_goes_on(served: ServedStack) -> None:
    account = new_account()

    async def scenario() -> None:
        user = WidgetUser(served.base_url, fresh_address())
        stranger = WidgetUser(served.base_url, fresh_address())
        assert await user.open(widget_token(account))
        assert await stranger.open(widget_token(new_account()))
        console, ticket_id = await handed_over(served, user, account)
        try:
            for payload in BAD_PAYLOADS:
                await typed(user, payload)  # answered: the handler did not fail
            assert user.client.connected
            assert not await asyncio.to_thread(user_typing, console, ticket_id)
            # Another account cannot type into this conversation by naming it.
            target = conversation(served, account)
            await typed(stranger, {"typing": True, "conversation_id": target, "sender": target})
            assert not await asyncio.to_thread(user_typing, console, ticket_id)
            # The socket still types and chats.
            await typed(user, {"typing": True})
            assert await asyncio.to_thread(user_typing, console, ticket_id)
            await asyncio.to_thread(
                console.post, f"/tickets/{ticket_id}/reply", {"text": "收到，请稍等"}
            )
            assert await user.text_with("收到，请稍等", timeout=10)
        finally:
            await asyncio.to_thread(close, console, ticket_id)
            await user.close()
            await stranger.close()

    run(scenario())


def test_typing_on_a_socket_whose_token_expired_cuts_it_off(served: ServedStack) -> None:
    now = int(time.time())
    claims = {"sub": new_account(), "iat": now, "exp": now + 3, "aud": WIDGET_AUDIENCE}
    token = jwt.encode(claims, WIDGET_SECRET, algorithm="HS256")

    async def scenario() -> list[str]:
        refused: list[str] = []
        widget = WidgetUser(served.base_url, fresh_address())
        widget.client.on("refused", refused.append)
        assert await widget.open(token)
        await asyncio.sleep(4)
        await widget.client.emit("user_typing", {"typing": True})
        for _ in range(30):
            if refused:
                break
            await asyncio.sleep(0.2)
        await widget.close()
        return refused

    assert run(scenario()) == ["token expired"]


def test_a_flood_of_typing_signals_makes_few_writes_and_a_change_goes_through_at_once() -> None:
    gate = TypingGate()
    # The page's rhythm: typing, refreshed every 3 s, cleared right after a refresh.
    rhythm = [(True, 0.0), (True, 3.0), (False, 3.1)]
    assert all(gate.admits("c", typing, at) for typing, at in rhythm)
    # A repeat sooner than 2 s is not written again.
    assert gate.admits("c", True, 10) and not gate.admits("c", True, 11)
    # A client alternating a thousand times in a second: a handful of writes, then one a second.
    flood = [gate.admits("d", i % 2 == 0, 20 + i / 1000) for i in range(1000)]
    assert 1 <= sum(flood) <= 5
    assert gate.admits("d", True, 21.5) and not gate.admits("d", False, 21.6)
    # Another conversation is not held back by it.
    assert gate.admits("e", True, 21.6)


# --- the page in chromium -------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(390, 844) as launched:  # a phone
        yield launched


def wait_for(check: Any, seconds: float = 10) -> bool:
    """Whether ``check()`` holds within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_the_page_shows_the_agent_typing_and_sends_the_users(
    browser: Any, served: ServedStack
) -> None:
    account = new_account()
    page = browser.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.goto(f"{served.base_url}/webhooks/widget/chat#token={widget_token(account)}")
    expect(page.get_by_test_id("status")).to_have_text("在线", timeout=WAIT_MS)
    page.get_by_test_id("input").fill("帮我转人工")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("bot-message").last).to_contain_text(HANDED_OVER, timeout=WAIT_MS)
    console = AgentConsole(served.http)
    ticket_id = hold(console, conversation(served, account))
    try:
        expect(page.get_by_test_id("bot-message").last).to_contain_text("已接入", timeout=WAIT_MS)
        indicator = page.get_by_test_id("typing")
        expect(indicator).to_be_hidden()
        # The agent types: shown, and gone after 8 s without a refresh.
        assert console.post(f"/tickets/{ticket_id}/typing", {"typing": True})[0] == 200
        expect(indicator).to_be_visible(timeout=WAIT_MS)
        expect(indicator).to_have_text(TYPING)
        shown_at = time.monotonic()
        page.screenshot(path=str(SCREENSHOTS / "widget_agent_typing.png"))
        expect(indicator).to_be_hidden(timeout=WAIT_MS)
        assert time.monotonic() - shown_at > 6
        # The agent types, then stops.
        assert console.post(f"/tickets/{ticket_id}/typing", {"typing": True})[0] == 200
        expect(indicator).to_be_visible(timeout=WAIT_MS)
        assert console.post(f"/tickets/{ticket_id}/typing", {"typing": False})[0] == 200
        expect(indicator).to_be_hidden(timeout=3000)
        # The agent types, then answers: the answer replaces it.
        assert console.post(f"/tickets/{ticket_id}/typing", {"typing": True})[0] == 200
        expect(indicator).to_be_visible(timeout=WAIT_MS)
        status, _ = console.post(f"/tickets/{ticket_id}/reply", {"text": "您好，我来帮您查一下"})
        assert status == 200
        expect(page.get_by_test_id("bot-message").last).to_have_text(
            "您好，我来帮您查一下", timeout=3000
        )
        expect(indicator).to_be_hidden(timeout=3000)
        # The user writes: the console shows it, until the message is sent.
        page.get_by_test_id("input").fill("转账哈希是")
        assert wait_for(lambda: user_typing(console, ticket_id)), "the console never saw it"
        page.get_by_test_id("send").click()
        assert wait_for(lambda: not user_typing(console, ticket_id), 3), "still typing"
        # With the agent on the conversation the bot says nothing: no indicator is left behind.
        expect(indicator).to_be_hidden(timeout=WAIT_MS)
        # The user writes and clears the box.
        page.get_by_test_id("input").fill("还有")
        assert wait_for(lambda: user_typing(console, ticket_id))
        page.get_by_test_id("input").fill("")
        assert wait_for(lambda: not user_typing(console, ticket_id), 3), "still typing"
    finally:
        close(console, ticket_id)
        page.close()
    assert errors == []
