"""The in-app widget over socket.io and in headless chromium: its JWT policy, origins, limits per
client address and account, the owner's bound platform users, and the owner's notice on a bind.

The server trusts X-Forwarded-For from loopback here (TRUSTED_PROXIES) and exempts no address
(RATE_LIMIT_EXEMPT empty), so each socket.io test speaks from an address of its own; the browser
speaks from loopback. Telegram is on, with its Bot API unreachable (replies are dropped, binds
still happen), to bind a platform user end to end.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import jwt
import pytest
import socketio
from playwright.sync_api import ConsoleMessage, Page, expect

from bot.channels.binding import BindingStore
from bot.channels.widget import conversation_of
from bot.channels.widget_auth import mint
from bot.wallet import demo_data
from scripts.local_stack import (
    WIDGET_AUDIENCE,
    WIDGET_SECRET,
    LocalStack,
    free_port,
    widget_token,
)
from tests.browser import SCREENSHOTS, chromium

WAIT_MS = 15_000
APP_ORIGIN = "https://app.example.com"
TELEGRAM_SECRET = "widget-test-telegram-secret"
CODE = re.compile(r"绑定码是 ([0-9A-Z]{4}-[0-9A-Z]{4})")
TOO_OFTEN = "获取绑定码有点频繁"
SLOW_DOWN = "您发得有点快"
T = TypeVar("T")
_addresses = (f"198.51.100.{i}" for i in itertools.count(1))
_telegram_users = itertools.count(8_200_000_001)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(
        tmp_path_factory.mktemp("widget"),
        settings={
            "RATE_LIMIT_EXEMPT": "",
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "WIDGET_ALLOWED_ORIGINS": APP_ORIGIN,
            "TELEGRAM_TOKEN": "123456:widget-test",
            "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
            "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}",
        },
    )
    local.seed()
    local.start_actions()
    local.start_rasa()
    try:
        yield local
    finally:
        local.stop_all()


def address() -> str:
    """A client address no other test uses (sent as X-Forwarded-For)."""
    return next(_addresses)


def bindings(stack: LocalStack) -> BindingStore:
    return BindingStore.from_url(stack.env()["BINDING_DB_URL"])


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Runs a socket.io scenario (Playwright's sync API holds an event loop in this thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scenario).result(timeout=180)


@dataclass
class Widget:
    """A widget socket.io client over long polling."""

    stack: LocalStack
    address: str | None = None
    origin: str | None = None
    refusal: str | None = None
    texts: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    listed: asyncio.Queue[list[dict[str, Any]]] = field(default_factory=asyncio.Queue)
    history: list[dict[str, Any]] = field(default_factory=list)
    greeted: asyncio.Event = field(default_factory=asyncio.Event)
    client: socketio.AsyncClient = field(
        default_factory=lambda: socketio.AsyncClient(reconnection=False)
    )

    def __post_init__(self) -> None:
        self.client.on("bot_uttered", lambda message: self.texts.put_nowait(message.get("text")))
        self.client.on("bindings", self.listed.put_nowait)
        self.client.on("history", self._history)
        self.client.on("connect_error", self._refused)

    def _history(self, lines: list[dict[str, Any]]) -> None:
        self.history.extend(lines)
        self.greeted.set()

    def _refused(self, data: Any = None) -> None:
        self.refusal = data.get("message") if isinstance(data, dict) else str(data)

    async def open(self, token: str) -> bool:
        """Whether the server accepted the connection; ``refusal`` says why not."""
        headers = {}
        if self.address:
            headers["X-Forwarded-For"] = self.address
        if self.origin:
            headers["Origin"] = self.origin
        try:
            await self.client.connect(
                self.stack.base_url,
                socketio_path="/socket.io",
                transports=["polling"],
                auth={"token": token},
                headers=headers,
                wait_timeout=15,
            )
        except socketio.exceptions.ConnectionError:
            return False
        await asyncio.wait_for(self.greeted.wait(), 15)  # the server's connect handler is done
        return True

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()

    async def text(self, timeout: float = 30) -> str:
        return await asyncio.wait_for(self.texts.get(), timeout)

    async def quiet(self, seconds: float = 1.5) -> list[str]:
        """The texts that arrive until none has for ``seconds``."""
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(self.texts.get(), seconds))
            except asyncio.TimeoutError:
                return received

    async def bound(self) -> list[dict[str, Any]]:
        await self.client.emit("bindings_request", {})
        return await asyncio.wait_for(self.listed.get(), 15)


def claims_token(**changes: Any) -> str:
    """A LocalStack widget token for Alice with ``changes`` (None removes a claim)."""
    now = int(time.time())
    claims = {"sub": demo_data.ALICE, "iat": now, "exp": now + 600, "aud": WIDGET_AUDIENCE}
    claims.update(changes)
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, WIDGET_SECRET, algorithm="HS256"
    )


def connect_once(stack: LocalStack, token: str, origin: str | None = None) -> str | None:
    """None when the widget connects, else the reason it was refused."""

    async def scenario() -> str | None:
        widget = Widget(stack, address(), origin)
        try:
            opened = await widget.open(token)
        finally:
            await widget.close()
        return None if opened else widget.refusal or "refused"

    return run(scenario())


# --- socket.io ------------------------------------------------------------------------------


YEAR = 365 * 86400


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda now: claims_token(exp=now + 100 * YEAR), id="100-years"),
        pytest.param(lambda now: claims_token(exp=now + 3 * 3600), id="3-hours"),
        pytest.param(lambda now: claims_token(iat=None), id="no-iat"),
        pytest.param(lambda now: claims_token(exp=str(now + 600)), id="string-exp"),
        pytest.param(lambda now: claims_token(iat=str(now)), id="string-iat"),
        pytest.param(lambda now: claims_token(exp=now + 600.0), id="float-exp"),
        pytest.param(lambda now: claims_token(aud=None), id="no-audience"),
        pytest.param(lambda now: claims_token(aud="another-service"), id="other-audience"),
        pytest.param(lambda now: mint(WIDGET_SECRET, demo_data.ALICE, 10), id="minted-no-aud"),
    ],
)
def test_tokens_outside_the_policy_are_refused_at_connect(
    stack: LocalStack, make_token: Callable[[int], str]
) -> None:
    assert connect_once(stack, make_token(int(time.time()))) == "invalid token"


def test_a_token_within_the_policy_connects(stack: LocalStack) -> None:
    assert connect_once(stack, claims_token(exp=int(time.time()) + 2 * 3600)) is None
    assert connect_once(stack, widget_token(demo_data.ALICE, minutes=120)) is None


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        pytest.param(None, True, id="no-origin"),
        pytest.param("own", True, id="own-origin"),
        pytest.param(APP_ORIGIN, True, id="allowed-origin"),
        pytest.param("https://evil.example", False, id="other-origin"),
        pytest.param("null", False, id="null-origin"),
        pytest.param(APP_ORIGIN + ".evil.example", False, id="allowed-as-prefix"),
    ],
)
def test_only_the_own_and_allowed_origins_may_connect(
    stack: LocalStack, origin: str | None, accepted: bool
) -> None:
    own = stack.base_url if origin == "own" else origin
    refusal = connect_once(stack, widget_token(demo_data.ALICE), origin=own)
    assert (refusal is None) == accepted, refusal


def test_handshakes_are_limited_per_client_address(stack: LocalStack) -> None:
    flooder = address()

    async def scenario() -> tuple[int, float, str | None, bool]:
        started = time.monotonic()
        token = widget_token(demo_data.BOB)
        admitted = 0
        while admitted < 60:
            widget = Widget(stack, flooder)
            opened = await widget.open(token)
            await widget.close()
            if not opened:
                break
            admitted += 1
        elapsed = time.monotonic() - started
        other = Widget(stack, address())
        other_opened = await other.open(token)
        await other.close()
        return admitted, elapsed, widget.refusal, other_opened

    admitted, elapsed, refusal, other_opened = run(scenario())
    # A burst of 20, then 30 a minute.
    assert 20 <= admitted <= 20 + elapsed / 2 + 1, (admitted, elapsed)
    assert refusal == "too many connections"
    assert other_opened, "another address is not affected"


def test_binding_codes_are_limited_per_client_address_and_per_account(stack: LocalStack) -> None:
    async def codes(account: str, where: str, count: int) -> list[str]:
        widget = Widget(stack, where)
        assert await widget.open(widget_token(account))
        try:
            texts = []
            for _ in range(count):
                await widget.client.emit("binding_code_request", {})
                texts.append(await widget.text())
            return texts
        finally:
            await widget.close()

    async def scenario() -> None:
        # One account from one address: five codes, then one polite refusal.
        account = "widget-codes-account"
        texts = await codes(account, address(), 6)
        assert all(CODE.search(text) for text in texts[:5]), texts
        assert TOO_OFTEN in texts[5]
        # From a new address the account is still over its limit.
        assert TOO_OFTEN in (await codes(account, address(), 1))[0]
        # Many accounts from one address: five codes, then the address is over its limit.
        shared = address()
        texts = [(await codes(f"widget-codes-{i}", shared, 1))[0] for i in range(6)]
        assert all(CODE.search(text) for text in texts[:5]), texts
        assert TOO_OFTEN in texts[5]

    run(scenario())


def test_widget_messages_count_against_their_client_address(stack: LocalStack) -> None:
    """60 turns per address at once: more accounts or sockets from one address do not help."""
    shared = address()

    async def scenario() -> list[str]:
        # 8 accounts × 9 messages: each within its own rate, 72 from one address.
        widgets = [Widget(stack, shared) for _ in range(8)]
        for index, widget in enumerate(widgets):
            assert await widget.open(widget_token(f"widget-turns-{index}"))
        try:

            async def flood(widget: Widget) -> list[str]:
                for _ in range(9):
                    await widget.client.emit("user_uttered", {"message": "你好"})
                return await widget.quiet(seconds=5)

            answers = await asyncio.gather(*(flood(widget) for widget in widgets))
        finally:
            for widget in widgets:
                await widget.close()
        return [text for texts in answers for text in texts]

    texts = run(scenario())
    # One polite refusal for the address, then silence; about 60 answered turns.
    assert sum(SLOW_DOWN in text for text in texts) == 1, texts
    assert 60 <= len(texts) - 1 < 72, len(texts)


def telegram_says(stack: LocalStack, user_id: int, text: str) -> int:
    """POSTs a private Telegram message to the webhook, as Telegram does; the HTTP status."""
    body = {
        "update_id": user_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Mallory"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Mallory"},
            "text": text,
        },
    }
    request = urllib.request.Request(
        f"{stack.base_url}/webhooks/telegram/webhook",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return int(answer.status)


def test_the_owner_is_told_of_a_bind_sees_it_and_can_unbind_it(stack: LocalStack) -> None:
    telegram_user = next(_telegram_users)
    store = bindings(stack)

    async def scenario() -> None:
        owner = Widget(stack, address())
        assert await owner.open(widget_token(demo_data.ALICE))
        try:
            await owner.client.emit("binding_code_request", {})
            match = CODE.search(await owner.text())
            assert match
            status = await asyncio.to_thread(
                telegram_says, stack, telegram_user, f"绑定 {match[1]}"
            )
            assert status == 200
            notice = await owner.text()
            assert "您的账户刚刚绑定了 Telegram 用户" in notice
            listed = await owner.bound()
            assert [(b["platform"], b["user"]) for b in listed] == [
                ("telegram", f"{str(telegram_user)[:2]}…{str(telegram_user)[-2:]}")
            ]
            assert str(telegram_user) not in json.dumps(listed)
        finally:
            await owner.close()
        # The notice stays in the owner's conversation: a tab opened later shows it too.
        later = Widget(stack, address())
        assert await later.open(widget_token(demo_data.ALICE))
        try:
            assert any("刚刚绑定了 Telegram" in line["text"] for line in later.history)
            (binding,) = await later.bound()
            # Another account cannot unbind it, even with its key.
            stranger = Widget(stack, address())
            assert await stranger.open(widget_token(demo_data.BOB))
            try:
                assert await stranger.bound() == []
                await stranger.client.emit("unbind", {"key": binding["key"]})
                assert await asyncio.wait_for(stranger.listed.get(), 15) == []
            finally:
                await stranger.close()
            assert store.account_for("telegram", str(telegram_user)) == demo_data.ALICE
            await later.client.emit("unbind", {"key": binding["key"]})
            assert "已解除绑定" in await later.text()
            assert await asyncio.wait_for(later.listed.get(), 15) == []
        finally:
            await later.close()

    run(scenario())
    assert store.account_for("telegram", str(telegram_user)) is None


def test_a_leaving_long_polling_client_is_let_go_at_once(stack: LocalStack) -> None:
    """python-engineio would hold its last GET for about 30 s, and the client waits for it."""

    async def scenario() -> float:
        widget = Widget(stack, address())
        assert await widget.open(widget_token(demo_data.BOB))
        started = time.monotonic()
        await widget.close()
        return time.monotonic() - started

    assert run(scenario()) < 5
    started = time.monotonic()
    assert connect_once(stack, claims_token(iat=None)) == "invalid token"
    assert time.monotonic() - started < 5, "a refused client waits too"


def test_a_client_cannot_pick_another_users_conversation(stack: LocalStack) -> None:
    """The server ignores any session id a client sends: replies go to the token's own conversation."""
    alices = conversation_of(demo_data.ALICE, stack.identity_secret.encode())

    async def scenario() -> list[str]:
        widget = Widget(stack, address())
        assert await widget.open(widget_token(demo_data.BOB))
        try:
            await widget.client.emit("session_request", {"session_id": alices})
            await widget.client.emit(
                "user_uttered",
                {"message": f"{demo_data.TX_CONFIRMED} 没到账", "session_id": alices},
            )
            return [await widget.text()]
        finally:
            await widget.close()

    received = run(scenario())
    assert "25 个确认" not in " ".join(received)  # Alice's transfer stays Alice's
    assert any("没有找到这笔交易" in text for text in received)  # Bob's own lookup


def test_a_socket_whose_token_expires_is_cut_off(stack: LocalStack) -> None:
    """The token is checked at every message, not only at connect."""

    async def scenario() -> list[str]:
        events: list[str] = []
        widget = Widget(stack, address())
        widget.client.on("refused", lambda reason: events.append(f"refused:{reason}"))
        widget.client.on("bot_uttered", lambda message: events.append("bot"))
        assert await widget.open(claims_token(exp=int(time.time()) + 3))
        await asyncio.sleep(4)
        await widget.client.emit("user_uttered", {"message": "你好"})
        for _ in range(30):
            if events:
                break
            await asyncio.sleep(0.2)
        await widget.close()
        return events

    assert run(scenario()) == ["refused:token expired"]


# --- the page in chromium -------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(390, 844) as launched:  # a phone
        yield launched


def open_widget(browser: Any, stack: LocalStack, token: str) -> tuple[Page, list[str]]:
    """The page, and the console errors it logs (a CSP violation among them)."""
    page = browser.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.goto(f"{stack.base_url}/webhooks/widget/chat#token={token}")
    return page, errors


def test_the_page_has_no_inline_script_or_style(stack: LocalStack) -> None:
    with urllib.request.urlopen(f"{stack.base_url}/webhooks/widget/chat", timeout=10) as page:
        html = page.read().decode()
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script src="socket.io.min.js">',
        '<script src="widget.js">',
    ]
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
    for name, kind in (("widget.js", "javascript"), ("widget.css", "text/css")):
        with urllib.request.urlopen(f"{stack.base_url}/webhooks/widget/{name}") as answer:
            assert kind in answer.headers["Content-Type"]


def test_widget_answers_and_buttons_work_for_the_logged_in_user(
    browser: Any, stack: LocalStack
) -> None:
    page, errors = open_widget(browser, stack, widget_token(demo_data.ALICE))
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
    assert errors == []


def test_the_owner_unbinds_a_platform_user_on_the_page(browser: Any, stack: LocalStack) -> None:
    store = bindings(stack)
    code = store.issue_code(demo_data.CAROL, timedelta(minutes=10))
    assert store.redeem(code, "wechat", "oWx1Ab2Cd3Ef4Gh5Ij6Kl7Mn8Op9") == demo_data.CAROL
    page, errors = open_widget(browser, stack, widget_token(demo_data.CAROL))
    expect(page.get_by_test_id("status")).to_have_text("在线", timeout=WAIT_MS)
    page.get_by_test_id("bindings-toggle").click()
    binding = page.get_by_test_id("binding")
    expect(binding).to_have_count(1, timeout=WAIT_MS)
    expect(binding).to_contain_text("微信 · oW…p9")
    expect(binding).to_contain_text("绑定于")
    page.screenshot(path=str(SCREENSHOTS / "widget_bindings.png"))
    page.get_by_test_id("unbind").click()
    expect(page.get_by_test_id("unbind")).to_have_text("确认解除")
    assert store.account_for("wechat", "oWx1Ab2Cd3Ef4Gh5Ij6Kl7Mn8Op9") == demo_data.CAROL
    page.get_by_test_id("unbind").click()
    expect(page.get_by_test_id("bindings-empty")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("bot-message").last).to_contain_text("已解除绑定")
    assert store.account_for("wechat", "oWx1Ab2Cd3Ef4Gh5Ij6Kl7Mn8Op9") is None
    page.close()
    assert errors == []


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        (
            jwt.encode(
                {"sub": demo_data.ALICE, "exp": int(time.time()) + 600}, "forged", algorithm="HS256"
            ),
            "登录信息无效",
        ),
        (widget_token(demo_data.ALICE, minutes=-1), "登录已过期"),
        ("", "没有登录信息"),
    ],
)
def test_bad_tokens_are_refused_clearly(
    browser: Any, stack: LocalStack, token: str, shown: str
) -> None:
    page, _ = open_widget(browser, stack, token)
    expect(page.get_by_test_id("notice")).to_contain_text(shown, timeout=WAIT_MS)
    expect(page.get_by_test_id("send")).to_be_disabled()
    page.screenshot(path=str(SCREENSHOTS / "widget_refused.png"))
    page.close()
