"""The improvement loop end to end, in headless Chromium against the production stack (two
servers on one PostgreSQL and one Redis): a lead sees a message the live model gets wrong,
labels it, trains a candidate, sees the gate pass and approves it; within 60 s both servers
answer the message with the labelled intent's response, without a restart; the rollback brings
the old answer back on both."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright import sync_api

from bot.handoff.records import Role
from bot.handoff.store import HandoffStore
from bot.improvement.models import ModelStore
from scripts.production_stack import ProductionStack
from tests.browser import SCREENSHOTS, chromium
from tests.support.http import LEAD, Http, RestUser

expect = sync_api.expect
WAIT_MS = 15_000
TRAINING_MS = 420_000  # a candidate trains in 30 s with Rasa's cache warm, about 150 s cold
SWITCH_SECONDS = 60  # the bound; servers pull every MODEL_PULL_SECONDS (10)
TEXT = "能不能装下我的小猫币"  # out_of_scope for the shipped model: supported coins, labelled
WRONG = "帮不上忙"
RIGHT = "IM钱包支持这些链和资产"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(1280, 1000) as context:
        yield context


def answers(production: ProductionStack) -> list[str]:
    """What each server answers to TEXT, in a new conversation."""
    return [" ".join(RestUser(Http.to(url)).say(TEXT)) for url in production.base_urls]


def until(check: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``check()`` holds, polling; fails after ``seconds``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(1)
    return time.monotonic() - started


def test_a_lead_teaches_every_server_a_message_and_rolls_it_back(
    browser: Any, production: ProductionStack
) -> None:
    HandoffStore.from_url(production.store_urls["HANDOFF_DB_URL"]).agents.add(
        LEAD.username, LEAD.name, LEAD.password, role=Role.SUPERVISOR
    )
    assert all(WRONG in answer for answer in answers(production))
    # A user gets the wrong answer and rates the conversation 1: it reaches the review inbox.
    user = RestUser(Http.to(production.base_urls[0]))
    assert WRONG in " ".join(user.say(TEXT))
    user.say("再见")
    user.say('/rate{"rating":"1"}')

    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{production.base_urls[0]}/webhooks/agent/review")
    page.get_by_test_id("login-username").fill(LEAD.username)
    page.get_by_test_id("login-password").fill(LEAD.password)
    page.get_by_test_id("login-submit").click()
    row = page.get_by_test_id("inbox-row").filter(has_text=TEXT)
    expect(row).to_be_visible()
    row.click()
    page.keyboard.press("/")
    page.keyboard.type("supported_coins")
    page.keyboard.press("Enter")
    expect(row).to_have_count(0)

    page.get_by_test_id("train").click()
    expect(page.get_by_test_id("training-status")).to_contain_text("训练中")
    expect(page.get_by_test_id("verdict-result")).to_contain_text("通过", timeout=TRAINING_MS)
    expect(page.get_by_test_id("verdict-result")).not_to_contain_text("未通过")
    page.screenshot(path=str(SCREENSHOTS / "review_verdict.png"), full_page=True)
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("notice")).to_contain_text("已批准上线")

    switched = until(lambda: all(RIGHT in a for a in answers(production)), SWITCH_SECONDS)
    print(f"approve to all servers switched: {switched:.1f} s")
    live = ModelStore.from_url(production.store_urls["HANDOFF_DB_URL"]).live()
    assert live is not None
    servers = page.get_by_test_id("server-row")

    def every_server_listed_with_it() -> bool:
        """The page, refreshed, lists every server with the approved model."""
        page.get_by_test_id("refresh").click()
        page.wait_for_timeout(500)
        return servers.filter(has_text=live.digest[:12]).count() == len(production.base_urls)

    until(every_server_listed_with_it, 20)

    page.get_by_test_id("rollback").click()
    expect(page.get_by_test_id("notice")).to_contain_text("已回滚")
    until(lambda: all(WRONG in a for a in answers(production)), SWITCH_SECONDS)
    page.close()
    assert problems == []
