"""The review page in headless Chromium against the served stack: a lead logs in, finds the
message the assistant missed, labels it with the keyboard, sees it leave the inbox for the
labelled list, and undoes it; an agent is told the page is for leads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright import sync_api

from tests.browser import SCREENSHOTS, chromium
from tests.support.http import AGENT, Login, RestUser
from tests.support.stack import ServedStack

expect = sync_api.expect
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(1280, 900) as context:
        yield context


@pytest.fixture
def page(browser: Any, served: ServedStack) -> Iterator[Any]:
    """A fresh, logged-out tab on the review page that fails its test on a script error or a
    Content-Security-Policy violation."""
    tab = browser.new_page()
    tab.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    tab.goto(f"{served.base_url}/webhooks/agent/review")
    try:
        yield tab
    finally:
        tab.close()
    assert problems == []


def log_in(page: Any, login: Login) -> None:
    page.get_by_test_id("login-username").fill(login.username)
    page.get_by_test_id("login-password").fill(login.password)
    page.get_by_test_id("login-submit").click()


def test_a_lead_labels_a_missed_message_with_the_keyboard_and_undoes_it(
    page: Any, served: ServedStack, lead_login: Login
) -> None:
    user = RestUser(served.http, "review-browser-1")
    assert "您是想问" in " ".join(user.say("这个咋整啊"))
    log_in(page, lead_login)
    row = page.get_by_test_id("inbox-row").filter(has_text="这个咋整啊")
    expect(row).to_be_visible()
    row.click()
    expect(page.get_by_test_id("detail-text")).to_have_text("这个咋整啊")
    expect(page.get_by_test_id("detail-context")).to_contain_text("您是想问")
    page.keyboard.press("/")
    page.keyboard.type("矿工费")
    expect(page.get_by_test_id("intent-network_fee")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("notice")).to_contain_text("已标注")
    expect(row).to_have_count(0)
    labelled = page.get_by_test_id("label-row").filter(has_text="这个咋整啊")
    expect(labelled).to_contain_text("network_fee")
    expect(page.get_by_test_id("audit-row").first).to_contain_text("标注")
    page.screenshot(path=str(SCREENSHOTS / "review_labelled.png"))
    page.keyboard.press("u")
    expect(page.get_by_test_id("notice")).to_contain_text("已撤销")
    expect(labelled).to_have_count(0)
    expect(page.get_by_test_id("inbox-row").filter(has_text="这个咋整啊")).to_be_visible()


def test_an_agent_is_told_the_review_is_for_leads(page: Any) -> None:
    log_in(page, AGENT)
    expect(page.get_by_test_id("notice")).to_contain_text("只有主管")
