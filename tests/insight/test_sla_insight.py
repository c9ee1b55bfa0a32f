"""SLA breaches in the report and the dashboard: counted from a filled handoff store per urgency
and per team in business hours, the same JSON through GET /webhooks/agent/api/insight, and the
dashboard's SLA tables in Chromium (screenshot agent_dashboard_sla.png)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright import sync_api

from bot.handoff.records import URGENCY_OF, Reason, Role, State
from bot.handoff.settings import SlaTargets
from bot.handoff.sla import SlaPolicy
from bot.handoff.store import HandoffStore
from bot.handoff.tables import tickets
from bot.insight.compute import compute_figures
from bot.insight.records import DeskLog, HandoffRecord
from bot.insight.render import render_html, summary_text
from bot.insight.report import main
from bot.insight.sources import InsightSources
from bot.support_hours import SupportHours
from tests.browser import SCREENSHOTS, chromium
from tests.insight.desk_stores import DESK_TICKETS, write_pre_desk_store
from tests.support.http import AgentConsole, Login
from tests.support.stack import ServedStack

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 2)
HOURS = SupportHours(time(9), time(21), SHANGHAI)
ALWAYS = SupportHours(time(0), time(23, 59, 59), SHANGHAI)
POLICY = SlaPolicy(HOURS, SlaTargets())
WAIT_MS = 15_000


def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    day = DAY + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Row:
    """A ticket with the times the desk records (the reason sets the urgency)."""

    reason: Reason
    team: str
    created: datetime
    answered: datetime | None = None
    closed: datetime | None = None
    user_wrote: datetime | None = None
    cancelled: bool = False
    agent: str = "li"


# Targets (first / next): urgent 5 / 5 min, high 15 / 10, normal 30 / 15; hours 09:00–21:00.
ROWS = [
    # Urgent, security: one answered in 3 minutes, one in 7 (breached).
    Row(Reason.COMPROMISED, "security", at(10), answered=at(10, 3), closed=at(10, 20)),
    Row(Reason.COMPROMISED, "security", at(10), answered=at(10, 7), closed=at(10, 30)),
    # High: opened 5 minutes before closing, answered 5 minutes after opening the next day: 10
    # business minutes of a 15-minute target, though twelve hours passed.
    Row(Reason.COMPLAINT, "general", at(20, 55), answered=at(9, 5, days=1)),
    # High: the user's "thanks" after the last reply, closed 5 minutes later (next target 10).
    Row(
        Reason.PENDING_TRANSFER,
        "general",
        at(11),
        answered=at(11, 1),
        user_wrote=at(11, 2),
        closed=at(11, 7),
    ),
    # Normal: closed after 40 minutes without a reply (breached).
    Row(Reason.REQUESTED, "general", at(11), closed=at(11, 40)),
    # Normal: still unanswered, 20 minutes at "now" (pending) and 80 minutes (breached).
    Row(Reason.REQUESTED, "general", at(11)),
    Row(Reason.FALLBACK, "general", at(10)),
    # Normal: answered in a minute; the user wrote again at 10:05 and waits at "now" (75
    # minutes of a 15-minute next target).
    Row(Reason.REQUESTED, "general", at(10), answered=at(10, 1), user_wrote=at(10, 5)),
    # Cancelled while waiting: never counted.
    Row(Reason.REQUESTED, "general", at(10), closed=at(10, 50), cancelled=True, agent=""),
]
NOW = at(11, 20)


def write_rows(url: str, rows: list[Row]) -> None:
    """The tickets into the handoff store's table as the desk leaves them."""
    store = HandoffStore.from_url(url)
    with store.engine.begin() as connection:
        for number, row in enumerate(rows):
            urgency = URGENCY_OF[row.reason]
            assigned = None if row.cancelled else row.created
            state = State.CLOSED if row.closed else State.ASSIGNED if assigned else State.QUEUED
            connection.execute(
                tickets.insert().values(
                    conversation_id=f"sla-{number}-{row.created.timestamp()}",
                    channel="rest",
                    reason=row.reason.value,
                    urgency=urgency.value,
                    urgency_rank=urgency.rank,
                    state=state.value,
                    summary=json.dumps({}),
                    created_at=row.created,
                    assigned_at=assigned,
                    closed_at=row.closed,
                    agent=row.agent or None,
                    cancelled=row.cancelled,
                    timeout_notified=False,
                    team=row.team,
                    first_response_at=row.answered,
                    last_agent_reply_at=row.answered,
                    last_user_message_at=row.user_wrote,
                )
            )
    store.engine.dispose()


def sources(workdir: Path, rows: list[Row]) -> InsightSources:
    tracker = workdir / "tracker.db"
    sqlite3.connect(tracker).close()  # an empty tracker store: no conversations
    handoff = f"sqlite:///{workdir / 'handoff.db'}"
    write_rows(handoff, rows)
    return InsightSources(f"sqlite:///{tracker}", handoff)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> InsightSources:
    return sources(tmp_path_factory.mktemp("sla"), ROWS)


def counts(group: Any) -> tuple[int, int, int, int | None]:
    return (group.measured, group.breached, group.pending, group.next_breached)


def test_breaches_are_counted_per_urgency_and_team_in_business_hours(
    filled: InsightSources,
) -> None:
    sla = filled.figures(zone=SHANGHAI, sla=POLICY, now=NOW).sla
    assert sla is not None and sla.first_responses_recorded and sla.next_responses_recorded

    # Measured: the answered, the closed and the unanswered past their target; 3 breached.
    assert counts(sla.overall) == (7, 3, 1, 1)
    assert sla.overall.breach_share == pytest.approx(3 / 7)
    by_urgency = {group.key: counts(group) for group in sla.urgencies}
    assert list(by_urgency) == ["urgent", "high", "normal"]
    assert by_urgency == {
        "urgent": (2, 1, 0, 0),
        "high": (2, 0, 0, 0),
        "normal": (3, 2, 1, 1),
    }
    by_team = {group.key: counts(group) for group in sla.teams}
    assert by_team == {"general": (5, 2, 1, 1), "security": (2, 1, 0, 0)}
    assert [(t.urgency, t.first_seconds, t.next_seconds) for t in sla.targets] == [
        ("urgent", 300, 300),
        ("high", 900, 600),
        ("normal", 1800, 900),
    ]


def test_always_open_hours_count_the_night_too(filled: InsightSources) -> None:
    sla = filled.figures(zone=SHANGHAI, sla=SlaPolicy(ALWAYS, SlaTargets()), now=NOW).sla
    assert sla is not None
    # The complaint answered twelve hours later is now a breach.
    assert counts(sla.urgencies[1]) == (2, 1, 0, 0)


def test_open_tickets_are_judged_at_the_time_of_the_read() -> None:
    waiting = HandoffRecord("x", "rest", Reason.REQUESTED, at(10), at(10), None, False, "li")
    closed = HandoffRecord("y", "rest", Reason.REQUESTED, at(10), at(10), at(11), False, "li")

    def overall(now: datetime | None) -> tuple[int, int, int, int | None]:
        sla = compute_figures([], [waiting, closed], SHANGHAI, sla=POLICY, now=now).sla
        assert sla is not None
        return counts(sla.overall)

    # The unanswered ticket is pending within its 30 minutes, a breach from then on.
    assert overall(at(10, 29)) == (1, 1, 1, 0)
    assert overall(at(10, 30)) == (2, 2, 0, 0)
    # Without a clock read, open tickets are not judged at all.
    assert overall(None) == (1, 1, 0, 0)


def test_the_period_counts_only_its_own_tickets(filled: InsightSources) -> None:
    sla = filled.figures(since=at(11).astimezone(timezone.utc), sla=POLICY, now=NOW).sla
    assert sla is not None
    # Opened from 11:00 on: the evening complaint, the transfer, the 40-minute close and the
    # 20-minute wait.
    assert counts(sla.overall) == (3, 1, 1, 0)


def test_a_store_without_reply_times_counts_no_breach(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pre-desk.db'}"
    write_pre_desk_store(url, at(10), DESK_TICKETS)
    sqlite3.connect(tmp_path / "tracker.db").close()
    figures = InsightSources(f"sqlite:///{tmp_path / 'tracker.db'}", url).figures(
        zone=SHANGHAI, sla=POLICY, now=NOW
    )
    sla = figures.sla
    assert sla is not None
    assert (sla.first_responses_recorded, sla.next_responses_recorded) == (False, False)
    assert counts(sla.overall) == (0, 0, 0, None)
    assert "此数据库早于客服台，没有记录客服回复时间：不统计超时。" in render_html(figures, [], NOW)
    assert "SLA：未记录客服回复时间" in summary_text(figures)


def test_a_store_without_the_last_messages_leaves_next_responses_out() -> None:
    record = HandoffRecord(
        "x", "rest", Reason.REQUESTED, at(10), at(10), None, False, "li", first_response_at=at(10)
    )
    log = DeskLog(last_messages_recorded=False)
    sla = compute_figures([], [record], SHANGHAI, desk_log=log, sla=POLICY, now=NOW).sla
    assert sla is not None and counts(sla.overall) == (1, 0, 0, None)


def test_the_report_shows_the_breaches_per_urgency_and_team(filled: InsightSources) -> None:
    figures = filled.figures(zone=SHANGHAI, sla=POLICY, now=NOW)
    page = render_html(figures, [], NOW)

    assert "<h3>服务时效（SLA）</h3>" in page
    assert '<p data-testid="sla-line">首次响应超时 3/7（42.9%），计时中 1 个；' in page
    assert (
        "<tr><td>紧急</td><td>5 分 0 秒</td><td>5 分 0 秒</td><td>1/2（50.0%）</td>"
        "<td>0</td><td>0</td></tr>"
    ) in page
    assert "<tr><td>普通</td><td>30 分 0 秒</td><td>15 分 0 秒</td><td>2/3（66.7%）</td>" in page
    assert "<tr><td>安全组</td><td>1/2（50.0%）</td><td>0</td><td>0</td></tr>" in page
    assert (
        "SLA：首次响应超时 3/7（42.9%）：紧急 1/2（50.0%），较急 0/2（0.0%），"
        "普通 2/3（66.7%）；计时中 1，下次响应超时 1"
    ) in summary_text(figures)


def test_the_dashboard_json_has_the_sla_shape(filled: InsightSources) -> None:
    data = json.loads(json.dumps(filled.figures(zone=SHANGHAI, sla=POLICY, now=NOW).as_dict()))
    sla = data["sla"]
    assert set(sla) == {
        "targets",
        "overall",
        "urgencies",
        "teams",
        "first_responses_recorded",
        "next_responses_recorded",
    }
    assert sla["targets"][0] == {"urgency": "urgent", "first_seconds": 300, "next_seconds": 300}
    assert sla["teams"][1] == {
        "key": "security",
        "measured": 2,
        "breached": 1,
        "pending": 0,
        "next_breached": 0,
        "breach_share": 0.5,
    }
    assert [group["key"] for group in sla["urgencies"]] == ["urgent", "high", "normal"]
    assert sla["overall"]["key"] == "all"


def test_figures_have_no_sla_unless_targets_are_given(filled: InsightSources) -> None:
    figures = filled.figures(zone=SHANGHAI, now=NOW)
    assert figures.sla is None
    assert "服务时效" not in render_html(figures, [], NOW)
    assert "SLA" not in summary_text(figures)


def test_the_report_counts_with_the_servers_targets_from_the_environment(
    filled: InsightSources,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SUPPORT_HOURS", "09:00-21:00")
    monkeypatch.setenv("SUPPORT_TIMEZONE", "Asia/Shanghai")
    monkeypatch.setenv("SLA_FIRST_RESPONSE_MINUTES", "urgent=10")
    out = tmp_path / "report.html"
    argv = ["--tracker-url", filled.tracker_url, "--handoff-url", filled.handoff_url]

    assert main([*argv, "--out", str(out)]) == 0

    # Ten minutes for urgent tickets: the one answered in 7 is no longer a breach.
    assert "<tr><td>紧急</td><td>10 分 0 秒</td><td>5 分 0 秒</td><td>0/2（0.0%）</td>" in (
        out.read_text(encoding="utf-8")
    )
    assert "紧急 0/2（0.0%）" in capsys.readouterr().out

    monkeypatch.setenv("SLA_NEXT_RESPONSE_MINUTES", "urgent=soon")
    assert main([*argv, "--out", str(out)]) == 1
    assert "SLA_NEXT_RESPONSE_MINUTES" in capsys.readouterr().err


# Served: the API and the dashboard (the shared stack's store holds other tests' tickets too)

BOSS = Login("sla-boss", "时效主管", "a-long-sla-boss-password")


@pytest.fixture(scope="module")
def late(served: ServedStack) -> Iterator[ServedStack]:
    """An urgent security ticket closed 30 minutes after opening without a reply (closed: the
    dispatcher leaves it alone), and a supervisor of this module's own."""
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    write_rows(
        served.handoff_url,
        [Row(Reason.COMPROMISED, "security", start, closed=start + timedelta(minutes=30))],
    )
    store = HandoffStore.from_url(served.handoff_url)
    store.agents.add(BOSS.username, BOSS.name, BOSS.password, Role.SUPERVISOR)
    yield served
    store.agents.disable(BOSS.username)


def test_the_api_gives_the_breaches_of_the_store(late: ServedStack) -> None:
    data = AgentConsole(late.http, BOSS).get("/insight")["sla"]

    assert data["first_responses_recorded"] is True
    urgent = data["urgencies"][0]
    assert urgent["key"] == "urgent" and urgent["breached"] >= 1
    security = data["teams"][1]
    assert security["key"] == "security" and security["breached"] >= 1
    assert data["targets"][0] == {"urgency": "urgent", "first_seconds": 300, "next_seconds": 300}


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium(1100, 1400) as browser:
        tab = browser.new_page()
        tab.set_default_timeout(WAIT_MS)
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        yield tab
        assert errors == [], "the page's script failed"


def test_the_dashboard_shows_the_breaches_in_red(page: Any, late: ServedStack) -> None:
    page.goto(f"{late.base_url}/webhooks/agent/dashboard")
    page.get_by_test_id("login-username").fill(BOSS.username)
    page.get_by_test_id("login-password").fill(BOSS.password)
    page.get_by_test_id("login-submit").click()

    sla = page.get_by_test_id("sla")
    sync_api.expect(sla).to_be_visible()
    sync_api.expect(page.get_by_test_id("sla-no-replies")).to_be_hidden()
    sync_api.expect(page.get_by_test_id("sla-line")).to_contain_text("首次响应超时")
    rows = page.get_by_test_id("sla-urgency-row")
    sync_api.expect(rows).to_have_count(3)
    urgent = rows.nth(0).inner_text().split("\t")
    assert urgent[:3] == ["紧急", "5 分 0 秒", "5 分 0 秒"]
    assert urgent[3].split("/")[0] != "0"
    assert rows.nth(0).locator("td.breach").count() >= 1
    teams = page.get_by_test_id("sla-team-row")
    assert teams.nth(1).inner_text().split("\t")[0] == "安全组"
    assert teams.nth(1).locator("td.breach").count() >= 1
    sla.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "agent_dashboard_sla.png"), full_page=True)
