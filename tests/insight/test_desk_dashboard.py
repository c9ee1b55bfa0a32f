"""The desk's figures through GET /webhooks/agent/api/insight and on the dashboard, on the served
stack the tests share.

The tickets written here are closed (nothing for the dispatcher to assign or take back) and held
by an agent not in the directory (no account for other tests to find): shown by username, which
here is hostile HTML, as is their tag. The figures count every ticket of the shared store, so
only this test's rows are checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from playwright import sync_api

from bot.handoff.records import Role
from bot.handoff.store import HandoffStore
from bot.insight.sources import InsightSources
from tests.browser import SCREENSHOTS, chromium
from tests.insight.desk_stores import DeskTicket, write_desk_store
from tests.support.http import LEAD, AgentConsole
from tests.support.stack import ServedStack

WAIT_MS = 15_000
HOSTILE_AGENT = '<img id="pwned" src=x onerror=alert(1)>'
HOSTILE_TAG = "<b>看板</b>标签"
ROWS = [
    DeskTicket("security", HOSTILE_AGENT, 0, 10, 20, 300, rating=5, tags=(HOSTILE_TAG,)),
    DeskTicket("security", HOSTILE_AGENT, 60, 30, 40, 500, rating=3, tags=(HOSTILE_TAG,)),
]
MINE = {
    "key": HOSTILE_AGENT,
    "name": HOSTILE_AGENT,
    "handled": 2,
    "answered": 2,
    "first_response_median": 30.0,
    "unanswered": 0,
    "handling_median": 400.0,
    "satisfaction": {"counts": [0, 0, 1, 0, 1], "count": 2, "average": 4.0, "satisfied_share": 0.5},
}

expect = sync_api.expect


@pytest.fixture(scope="module")
def desk(served: ServedStack) -> ServedStack:
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    write_desk_store(served.handoff_url, start, ROWS, names={})
    HandoffStore.from_url(served.handoff_url).agents.add(
        LEAD.username, LEAD.name, LEAD.password, Role.SUPERVISOR
    )
    return served


def test_the_api_gives_the_desk_figures_of_the_store(desk: ServedStack) -> None:
    data = AgentConsole(desk.http, LEAD).get("/insight")["desk"]

    mine = [group for group in data["agents"] if group["key"] == HOSTILE_AGENT]
    assert mine == [MINE]
    assert [team["key"] for team in data["teams"]] == ["general", "security"]
    assert data["teams"][1]["handled"] >= 2
    assert {"tag": HOSTILE_TAG, "tickets": 2} in data["tags"]
    assert (data["teams_recorded"], data["first_responses_recorded"], data["tags_recorded"]) == (
        True,
        True,
        True,
    )
    # The same figures the report reads from the store.
    stored = InsightSources(f"sqlite:///{desk.workdir / 'tracker.db'}", desk.handoff_url)
    assert data == json.loads(json.dumps(stored.figures().as_dict()))["desk"]


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium(1100, 900) as browser:
        tab = browser.new_page()
        tab.set_default_timeout(WAIT_MS)
        errors: list[str] = []

        def on_dialog(dialog: Any) -> None:
            errors.append(f"dialog: {dialog.message}")
            dialog.dismiss()

        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.on("dialog", on_dialog)
        yield tab
        assert errors == [], "the page's script failed or alerted"


def test_the_dashboard_shows_teams_agents_waits_and_tags_as_text(
    page: Any, desk: ServedStack
) -> None:
    page.goto(f"{desk.base_url}/webhooks/agent/dashboard")
    page.get_by_test_id("login-username").fill(LEAD.username)
    page.get_by_test_id("login-password").fill(LEAD.password)
    page.get_by_test_id("login-submit").click()

    expect(page.get_by_test_id("desk")).to_be_visible()
    teams = page.get_by_test_id("desk-team-row")
    expect(teams).to_have_count(2)
    assert [teams.nth(i).inner_text().split("\t")[0] for i in range(2)] == ["综合", "安全组"]
    waits = page.get_by_test_id("desk-wait-row")
    assert [waits.nth(i).inner_text().split("\t")[0] for i in range(2)] == ["综合", "安全组"]
    mine = page.get_by_test_id("desk-agent-row").filter(has_text="pwned")
    expect(mine).to_have_count(1)
    assert mine.inner_text().split("\t") == [
        HOSTILE_AGENT,
        "2",
        "30 秒（2 个工单）",
        "0",
        "6 分 40 秒",
        "4.00",
        "50.0%（2 次评分）",
    ]
    tag = page.get_by_test_id("desk-tag-row").filter(has_text="看板")
    assert tag.inner_text().split("\t")[:2] == [HOSTILE_TAG, "2"]
    expect(page.get_by_test_id("desk-no-teams")).to_be_hidden()
    expect(page.get_by_test_id("desk-no-replies")).to_be_hidden()
    assert page.locator("#pwned").count() == 0
    assert page.locator("#desk b").count() == 0
    page.get_by_test_id("desk").screenshot(path=str(SCREENSHOTS / "agent_dashboard_desk.png"))
