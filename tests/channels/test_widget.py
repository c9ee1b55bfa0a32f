"""The in-app widget over socket.io and in headless chromium: its JWT policy, origins, limits per
client address and account, the owner's bound platform users, and the owner's notice on a bind.

On a served stack of the module's own, with the shared stack's settings (it trusts
X-Forwarded-For from loopback): each socket.io test speaks from an address of its own, limited
as that address; the browser speaks from loopback, which is exempt. Telegram is on (against the
fake Bot API), to bind a platform user end to end. Its own, because these tests chat as
demo-alice and list her bound users, which other modules' tests change on the shared stack.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import jwt
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from bot.channels.binding import BindingStore
from bot.channels.widget import conversation_of
from bot.channels.widget_auth import mint
from bot.wallet import demo_data
from scripts.local_stack import WIDGET_AUDIENCE, WIDGET_SECRET, widget_token
from tests.browser import SCREENSHOTS, chromium
from tests.support.fakes import FakePlatforms
from tests.support.http import RestUser, WidgetUser, fresh_address
from tests.support.platform_users import TelegramUser
from tests.support.stack import APP_ORIGIN, SERVED, ServedStack, running_stack

WAIT_MS = 15_000
CODE = re.compile(r"绑定码是 ([0-9A-Z]{4}-[0-9A-Z]{4})")
TOO_OFTEN = "获取绑定码有点频繁"
SLOW_DOWN = "您发得有点快"
T = TypeVar("T")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, model_path: Path, platforms: FakePlatforms
) -> Iterator[ServedStack]:
    """Demo-alice's widget conversation and bindings as only this module leaves them."""
    with running_stack(
        tmp_path_factory.mktemp("widget"), settings={**SERVED, **platforms.env()}
    ) as stack:
        # A first turn, as on the warm shared stack: the floods count answers within 5 s.
        assert RestUser(stack.http).say("你好")
        yield stack


def bindings(served: ServedStack) -> BindingStore:
    return BindingStore.from_url(served.env()["BINDING_DB_URL"])


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Runs a socket.io scenario (Playwright's sync API holds an event loop in this thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scenario).result(timeout=180)


def claims_token(**changes: Any) -> str:
    """A LocalStack widget token for Alice with ``changes`` (None removes a claim)."""
    now = int(time.time())
    claims = {"sub": demo_data.ALICE, "iat": now, "exp": now + 600, "aud": WIDGET_AUDIENCE}
    claims.update(changes)
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, WIDGET_SECRET, algorithm="HS256"
    )


def connect_once(served: ServedStack, token: str, origin: str | None = None) -> str | None:
    """None when the widget connects, else the reason it was refused."""

    async def scenario() -> str | None:
        widget = WidgetUser(served.base_url, fresh_address(), origin)
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
    served: ServedStack, make_token: Callable[[int], str]
) -> None:
    assert connect_once(served, make_token(int(time.time()))) == "invalid token"


def test_a_token_within_the_policy_connects(served: ServedStack) -> None:
    assert connect_once(served, claims_token(exp=int(time.time()) + 2 * 3600)) is None
    assert connect_once(served, widget_token(demo_data.ALICE, minutes=120)) is None


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
    served: ServedStack, origin: str | None, accepted: bool
) -> None:
    own = served.base_url if origin == "own" else origin
    refusal = connect_once(served, widget_token(demo_data.ALICE), origin=own)
    assert (refusal is None) == accepted, refusal


def test_handshakes_are_limited_per_client_address(served: ServedStack) -> None:
    flooder = fresh_address()

    async def scenario() -> tuple[int, float, str | None, bool]:
        started = time.monotonic()
        token = widget_token(demo_data.BOB)
        admitted = 0
        while admitted < 60:
            widget = WidgetUser(served.base_url, flooder)
            opened = await widget.open(token)
            await widget.close()
            if not opened:
                break
            admitted += 1
        elapsed = time.monotonic() - started
        other = WidgetUser(served.base_url, fresh_address())
        other_opened = await other.open(token)
        await other.close()
        return admitted, elapsed, widget.refusal, other_opened

    admitted, elapsed, refusal, other_opened = run(scenario())
    # A burst of 20, then 30 a minute.
    assert 20 <= admitted <= 20 + elapsed / 2 + 1, (admitted, elapsed)
    assert refusal == "too many connections"
    assert other_opened, "another address is not affected"


def test_binding_codes_are_limited_per_client_address_and_per_account(served: ServedStack) -> None:
    async def codes(account: str, where: str, count: int) -> list[str]:
        widget = WidgetUser(served.base_url, where)
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
        texts = await codes(account, fresh_address(), 6)
        assert all(CODE.search(text) for text in texts[:5]), texts
        assert TOO_OFTEN in texts[5]
        # From a new address the account is still over its limit.
        assert TOO_OFTEN in (await codes(account, fresh_address(), 1))[0]
        # Many accounts from one address: five codes, then the address is over its limit.
        shared = fresh_address()
        texts = [(await codes(f"widget-codes-{i}", shared, 1))[0] for i in range(6)]
        assert all(CODE.search(text) for text in texts[:5]), texts
        assert TOO_OFTEN in texts[5]

    run(scenario())


def test_widget_messages_count_against_their_client_address(served: ServedStack) -> None:
    """60 turns per address at once: more accounts or sockets from one address do not help."""
    shared = fresh_address()

    async def scenario() -> list[str]:
        # 8 accounts × 9 messages: each within its own rate, 72 from one address.
        widgets = [WidgetUser(served.base_url, shared) for _ in range(8)]
        for index, widget in enumerate(widgets):
            assert await widget.open(widget_token(f"widget-turns-{index}"))
        try:

            async def flood(widget: WidgetUser) -> list[str]:
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


def test_the_owner_is_told_of_a_bind_sees_it_and_can_unbind_it(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    telegram = TelegramUser(served.http, platforms)
    telegram_user = telegram.user_id
    store = bindings(served)

    async def scenario() -> None:
        owner = WidgetUser(served.base_url, fresh_address())
        assert await owner.open(widget_token(demo_data.ALICE))
        try:
            await owner.client.emit("binding_code_request", {})
            match = CODE.search(await owner.text())
            assert match
            await asyncio.to_thread(telegram.say, f"绑定 {match[1]}")  # answered with 200
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
        later = WidgetUser(served.base_url, fresh_address())
        assert await later.open(widget_token(demo_data.ALICE))
        try:
            assert any("刚刚绑定了 Telegram" in line["text"] for line in later.history)
            (binding,) = await later.bound()
            # Another account cannot unbind it, even with its key.
            stranger = WidgetUser(served.base_url, fresh_address())
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


def test_a_leaving_long_polling_client_is_let_go_at_once(served: ServedStack) -> None:
    """python-engineio would hold its last GET for about 30 s, and the client waits for it."""

    async def scenario() -> float:
        widget = WidgetUser(served.base_url, fresh_address())
        assert await widget.open(widget_token(demo_data.BOB))
        started = time.monotonic()
        await widget.close()
        return time.monotonic() - started

    assert run(scenario()) < 5
    started = time.monotonic()
    assert connect_once(served, claims_token(iat=None)) == "invalid token"
    assert time.monotonic() - started < 5, "a refused client waits too"


def test_a_client_cannot_pick_another_users_conversation(served: ServedStack) -> None:
    """The server ignores any session id a client sends: replies go to the token's own conversation."""
    alices = conversation_of(demo_data.ALICE, served.identity_secret.encode())

    async def scenario() -> list[str]:
        widget = WidgetUser(served.base_url, fresh_address())
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


def test_a_socket_whose_token_expires_is_cut_off(served: ServedStack) -> None:
    """The token is checked at every message, not only at connect."""

    async def scenario() -> list[str]:
        events: list[str] = []
        widget = WidgetUser(served.base_url, fresh_address())
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


def open_widget(browser: Any, served: ServedStack, token: str) -> tuple[Page, list[str]]:
    """The page, and the console errors it logs (a CSP violation among them)."""
    page = browser.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.goto(f"{served.base_url}/webhooks/widget/chat#token={token}")
    return page, errors


def test_the_page_has_no_inline_script_or_style(served: ServedStack) -> None:
    html = served.http.get("/webhooks/widget/chat").text
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script src="socket.io.min.js">',
        '<script src="widget.js">',
    ]
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
    for name, kind in (("widget.js", "javascript"), ("widget.css", "text/css")):
        assert kind in served.http.get(f"/webhooks/widget/{name}").content_type


def test_widget_answers_and_buttons_work_for_the_logged_in_user(
    browser: Any, served: ServedStack
) -> None:
    page, errors = open_widget(browser, served, widget_token(demo_data.ALICE))
    expect(page.get_by_test_id("status")).to_have_text("在线", timeout=WAIT_MS)
    page.get_by_test_id("input").fill("我的转账一直没到账")
    page.get_by_test_id("send").click()
    buttons = page.get_by_test_id("reply-button")
    expect(buttons.first).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("bot-message").last).to_contain_text("最近的几笔转出")
    page.screenshot(path=str(SCREENSHOTS / "widget_transfers.png"))
    buttons.nth(1).click()  # 0.5 ETH pending with a low fee
    # The transfer's state ends with the offer to watch it, a button of its own.
    expect(page.get_by_test_id("bot-message").last).to_contain_text("到账了通知我", timeout=WAIT_MS)
    expect(page.get_by_test_id("bot-message").nth(-3)).to_contain_text("0.0008 ETH")
    expect(page.get_by_test_id("bot-message").nth(-2)).to_contain_text("etherscan.io/tx/")
    page.screenshot(path=str(SCREENSHOTS / "widget_state.png"))
    # History survives a reload: the conversation belongs to the token's account.
    page.reload()
    expect(page.get_by_test_id("user-message").first).to_contain_text(
        "我的转账一直没到账", timeout=WAIT_MS
    )
    page.close()
    assert errors == []


def test_the_owner_unbinds_a_platform_user_on_the_page(browser: Any, served: ServedStack) -> None:
    store = bindings(served)
    code = store.issue_code(demo_data.CAROL, timedelta(minutes=10))
    assert store.redeem(code, "wechat", "oWx1Ab2Cd3Ef4Gh5Ij6Kl7Mn8Op9") == demo_data.CAROL
    page, errors = open_widget(browser, served, widget_token(demo_data.CAROL))
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


# Tokens made when the test runs: parameters must be the same in every pytest-xdist worker.
@pytest.mark.parametrize(
    ("make_token", "shown"),
    [
        pytest.param(
            lambda: jwt.encode(
                {"sub": demo_data.ALICE, "exp": int(time.time()) + 600}, "forged", algorithm="HS256"
            ),
            "登录信息无效",
            id="forged",
        ),
        pytest.param(lambda: widget_token(demo_data.ALICE, minutes=-1), "登录已过期", id="expired"),
        pytest.param(lambda: "", "没有登录信息", id="missing"),
    ],
)
def test_bad_tokens_are_refused_clearly(
    browser: Any, served: ServedStack, make_token: Callable[[], str], shown: str
) -> None:
    page, _ = open_widget(browser, served, make_token())
    expect(page.get_by_test_id("notice")).to_contain_text(shown, timeout=WAIT_MS)
    expect(page.get_by_test_id("send")).to_be_disabled()
    page.screenshot(path=str(SCREENSHOTS / "widget_refused.png"))
    page.close()
