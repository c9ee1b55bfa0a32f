"""The in-app widget in headless chromium, and its JWT checks over socket.io."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import socketio
from playwright.sync_api import Page, expect

from bot.channels.widget import conversation_of
from bot.channels.widget_auth import mint
from bot.wallet import demo_data
from scripts.local_stack import WIDGET_SECRET, LocalStack
from tests.browser import SCREENSHOTS, chromium

WAIT_MS = 15_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("widget"))
    local.seed()
    local.start_actions()
    local.start_rasa()
    try:
        yield local
    finally:
        local.stop_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(390, 844) as launched:  # a phone
        yield launched


def open_widget(browser: Any, stack: LocalStack, token: str) -> Page:
    page = browser.new_page()
    page.goto(f"{stack.base_url}/webhooks/widget/chat#token={token}")
    return page


def test_widget_answers_and_buttons_work_for_the_logged_in_user(
    browser: Any, stack: LocalStack
) -> None:
    page = open_widget(browser, stack, mint(WIDGET_SECRET, demo_data.ALICE, minutes=10))
    expect(page.get_by_test_id("status")).to_have_text("在线", timeout=WAIT_MS)
    page.get_by_test_id("input").fill("我的转账一直没到账")
    page.get_by_test_id("send").click()
    buttons = page.get_by_test_id("reply-button")
    expect(buttons.first).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("bot-message").last).to_contain_text("最近的几笔转出")
    page.screenshot(path=str(SCREENSHOTS / "widget_transfers.png"))
    buttons.nth(1).click()  # 0.5 ETH pending with a low fee
    expect(page.get_by_test_id("bot-message").last).to_contain_text("0.0008 ETH", timeout=WAIT_MS)
    page.screenshot(path=str(SCREENSHOTS / "widget_state.png"))
    # History survives a reload: the conversation belongs to the token's account.
    page.reload()
    expect(page.get_by_test_id("user-message").first).to_contain_text(
        "我的转账一直没到账", timeout=WAIT_MS
    )
    page.close()


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        (
            jwt.encode(
                {"sub": demo_data.ALICE, "exp": int(time.time()) + 600}, "forged", algorithm="HS256"
            ),
            "登录信息无效",
        ),
        (mint(WIDGET_SECRET, demo_data.ALICE, minutes=-1), "登录已过期"),
        ("", "没有登录信息"),
    ],
)
def test_bad_tokens_are_refused_clearly(
    browser: Any, stack: LocalStack, token: str, shown: str
) -> None:
    page = open_widget(browser, stack, token)
    expect(page.get_by_test_id("notice")).to_contain_text(shown, timeout=WAIT_MS)
    expect(page.get_by_test_id("send")).to_be_disabled()
    page.screenshot(path=str(SCREENSHOTS / "widget_refused.png"))
    page.close()


def test_a_client_cannot_pick_another_users_conversation(stack: LocalStack) -> None:
    """The server ignores any session id a client sends: replies go to the token's own conversation."""
    received: list[str] = []

    async def scenario() -> None:
        client = socketio.AsyncClient()
        client.on("bot_uttered", lambda message: received.append(message.get("text", "")))
        token = mint(WIDGET_SECRET, demo_data.BOB, minutes=10)
        await client.connect(
            stack.base_url,
            socketio_path="/socket.io",
            transports=["polling"],
            auth={"token": token},
        )
        await client.emit(
            "session_request",
            {"session_id": conversation_of(demo_data.ALICE, stack.identity_secret.encode())},
        )
        await client.emit(
            "user_uttered",
            {
                "message": f"{demo_data.TX_CONFIRMED} 没到账",
                "session_id": conversation_of(demo_data.ALICE, stack.identity_secret.encode()),
            },
        )
        for _ in range(50):
            if received:
                break
            await asyncio.sleep(0.2)
        await client.disconnect()

    # Playwright's sync API holds an event loop in this thread; run the client in another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result(timeout=60)
    assert received, "the bot answered"
    assert "25 个确认" not in " ".join(received)  # Alice's transfer stays Alice's
    assert any("没有找到这笔交易" in text for text in received)  # Bob's own lookup


def test_a_socket_whose_token_expires_is_cut_off(stack: LocalStack) -> None:
    """The token is checked at every message, not only at connect."""
    events: list[str] = []

    async def scenario() -> None:
        client = socketio.AsyncClient()
        client.on("refused", lambda reason: events.append(f"refused:{reason}"))
        client.on("bot_uttered", lambda message: events.append("bot"))
        token = jwt.encode(
            {"sub": demo_data.ALICE, "exp": int(time.time()) + 3}, WIDGET_SECRET, algorithm="HS256"
        )
        await client.connect(
            stack.base_url,
            socketio_path="/socket.io",
            transports=["polling"],
            auth={"token": token},
        )
        await asyncio.sleep(4)
        await client.emit("user_uttered", {"message": "你好"})
        for _ in range(30):
            if events:
                break
            await asyncio.sleep(0.2)
        if client.connected:
            await client.disconnect()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result(timeout=60)
    assert events == ["refused:token expired"]
