"""The agent desk in the insight report: per team and per agent (handled, first response,
handling time, satisfaction), assignment waits per team and tags, read from a handoff store
filled with a known day (``desk_stores``) on SQLite and PostgreSQL, and from a store made before
the desk."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.insight.compute import compute_figures
from bot.insight.records import AssignmentWait, DeskGroup, Figures, Satisfaction, TagCount
from bot.insight.render import render_html, summary_text
from bot.insight.sources import InsightSources
from scripts.production_stack import Postgres
from tests.insight.desk_stores import (
    DESK_TICKETS,
    EARLIER,
    HOSTILE_NAME,
    HOSTILE_TAG,
    write_desk_store,
    write_pre_desk_store,
)
from tests.insight.known_stores import ZONE

GENERATED_AT = datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc)
START = datetime(2026, 3, 2, 10, 0, tzinfo=ZONE)

# Counted by hand from DESK_TICKETS (compute.py's definitions).
TEAMS = (
    # Handled 1, 2, 3, ghost's; replies 30, 90, 10 (wang's, open), 60; 3 closed unanswered;
    # handling 600, 1200, 60, 120; ratings 5, 4, 1.
    DeskGroup("general", None, 4, 4, 45.0, 1, 360.0, Satisfaction((1, 0, 0, 1, 1))),
    # zhao's two; the transferred one's reply came before zhao's assignment.
    DeskGroup("security", None, 2, 1, 20.0, 0, 600.0, Satisfaction((0, 0, 1, 0, 1))),
)
AGENTS = (
    DeskGroup("li", "李雷", 3, 2, 60.0, 1, 600.0, Satisfaction((1, 0, 0, 1, 1))),
    DeskGroup("zhao", "赵敏", 2, 1, 20.0, 0, 600.0, Satisfaction((0, 0, 1, 0, 1))),
    DeskGroup("ghost", "ghost", 1, 1, 60.0, 0, 120.0, Satisfaction((0, 0, 0, 0, 0))),
    DeskGroup("wang", HOSTILE_NAME, 0, 1, 10.0, 0, None, Satisfaction((0, 0, 0, 0, 0))),
)
WAITS = (
    AssignmentWait("general", 5, 120.0, 600.0),  # 30, 60, 120, 300, 600
    AssignmentWait("security", 2, 105.0, 200.0),  # 10, 200
)
TAGS = (TagCount("转账", 4), TagCount(HOSTILE_TAG, 1), TagCount("USDT", 1), TagCount("被盗", 1))


def sources_for(tmp_path: Path, handoff_url: str) -> InsightSources:
    tracker = tmp_path / "tracker.db"
    tracker.touch()  # no conversations: the desk's figures come from the handoff store alone
    return InsightSources(f"sqlite:///{tracker}", handoff_url)


@pytest.fixture
def sources(tmp_path: Path) -> InsightSources:
    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    write_desk_store(url, START, [EARLIER, *DESK_TICKETS])
    return sources_for(tmp_path, url)


def period(sources: InsightSources) -> Figures:
    return sources.figures(since=START, zone=ZONE)


def test_each_team_has_its_handled_tickets_first_response_handling_and_satisfaction(
    sources: InsightSources,
) -> None:
    desk = period(sources).desk
    assert desk.teams == TEAMS
    general = desk.teams[0].satisfaction
    assert (general.count, general.average, general.satisfied_share) == (3, 10 / 3, 2 / 3)
    assert (desk.teams_recorded, desk.first_responses_recorded, desk.tags_recorded) == (
        True,
        True,
        True,
    )


def test_agents_are_named_by_display_name_busiest_first(sources: InsightSources) -> None:
    assert period(sources).desk.agents == AGENTS


def test_assignment_waits_per_team_have_median_and_p90(sources: InsightSources) -> None:
    assert period(sources).desk.waits == WAITS


def test_tags_count_the_tickets_of_the_period(sources: InsightSources) -> None:
    desk = period(sources).desk
    assert desk.tags == TAGS
    assert (desk.distinct_tags, desk.tagged_tickets) == (4, 6)
    # Over everything, the earlier ticket counts too: its tag, rating and times.
    everything = sources.figures(zone=ZONE).desk
    assert TagCount("旧", 1) in everything.tags
    li = everything.agents[0]
    assert (li.key, li.handled, li.answered, li.satisfaction.counts) == (
        "li",
        4,
        3,
        (2, 0, 0, 1, 1),
    )


def test_the_report_shows_teams_agents_waits_and_tags(sources: InsightSources) -> None:
    figures = period(sources)
    page = render_html(figures, [], GENERATED_AT)
    begin = page.index('<section data-section="desk">')
    section = page[begin : page.index("</section>", begin)]
    assert (
        "<tr><td>综合</td><td>4</td><td>45 秒（4 个工单）</td><td>1</td><td>6 分 0 秒</td>"
        "<td>3.33</td><td>66.7%（3 次评分）</td></tr>"
    ) in section
    assert (
        "<tr><td>安全组</td><td>2</td><td>20 秒（1 个工单）</td><td>0</td><td>10 分 0 秒</td>"
        "<td>4.00</td><td>50.0%（2 次评分）</td></tr>"
    ) in section
    assert (
        "<tr><td>李雷</td><td>3</td><td>1 分 0 秒（2 个工单）</td><td>1</td><td>10 分 0 秒</td>"
        "<td>3.33</td><td>66.7%（3 次评分）</td></tr>"
    ) in section
    # No rating, no handled ticket: dashes, not zeros.
    assert (
        "<tr><td>ghost</td><td>1</td><td>1 分 0 秒（1 个工单）</td><td>0</td><td>2 分 0 秒</td><td>—</td><td>—</td></tr>"
        in section
    )
    assert "<tr><td>综合</td><td>5</td><td>2 分 0 秒</td><td>10 分 0 秒</td></tr>" in section
    assert "<tr><td>安全组</td><td>2</td><td>1 分 45 秒</td><td>3 分 20 秒</td></tr>" in section
    assert "<p>6 个工单带标签，共 4 种标签。" in section
    assert "<tr><td>转账</td><td>4</td></tr>" in section
    assert "此数据库早于客服台" not in section

    summary = summary_text(figures)
    assert (
        "团队：综合 已处理 4，首次响应 45 秒，处理 6 分 0 秒，满意度 3.33（3 次评分）；"
        "安全组 已处理 2，首次响应 20 秒，处理 10 分 0 秒，满意度 4.00（2 次评分）"
    ) in summary
    assert (
        "分配等待：综合 中位数 2 分 0 秒 / P90 10 分 0 秒；安全组 中位数 1 分 45 秒 / P90 3 分 20 秒"
        in summary
    )
    assert f"标签：转账 4，{HOSTILE_TAG} 1，USDT 1，被盗 1" in summary


def test_names_and_tags_are_shown_as_text(sources: InsightSources) -> None:
    page = render_html(period(sources), [], GENERATED_AT)
    assert "<script" not in page and "<img" not in page
    assert "<td>&lt;img id=&#34;pwned&#34; src=x onerror=alert(1)&gt;王</td><td>0</td>" in page
    assert "<td>&lt;script&gt;x&lt;/script&gt;</td><td>1</td>" in page


def test_the_figures_as_json_carry_the_satisfied_share_and_its_number_of_ratings(
    sources: InsightSources,
) -> None:
    data = json.loads(json.dumps(period(sources).as_dict(), ensure_ascii=False))
    desk = data["desk"]
    assert desk["agents"][0] == {
        "key": "li",
        "name": "李雷",
        "handled": 3,
        "answered": 2,
        "first_response_median": 60.0,
        "unanswered": 1,
        "handling_median": 600.0,
        "satisfaction": {
            "counts": [1, 0, 0, 1, 1],
            "count": 3,
            "average": 10 / 3,
            "satisfied_share": 2 / 3,
        },
    }
    assert desk["waits"][1] == {"team": "security", "assigned": 2, "median": 105.0, "p90": 200.0}
    assert desk["tags"][0] == {"tag": "转账", "tickets": 4}


def test_an_empty_period_shows_both_teams_and_no_data(sources: InsightSources) -> None:
    figures = sources.figures(since=datetime.now(timezone.utc) + timedelta(days=1), zone=ZONE)
    assert figures.desk == compute_figures([], [], ZONE).desk
    assert [group.handled for group in figures.desk.teams] == [0, 0]
    page = render_html(figures, [], GENERATED_AT)
    agents = page[page.index('data-testid="table-desk-agents"') :]
    assert agents.index('<td colspan="7" class="empty">暂无数据</td>') < agents.index("</table>")
    assert "<p>0 个工单带标签，共 0 种标签。" in page
    assert summary_text(figures).count("客服：—") == 1


def test_a_store_made_before_the_desk_shows_what_it_has(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old-handoff.db'}"
    write_pre_desk_store(url, START, DESK_TICKETS)
    figures = sources_for(tmp_path, url).figures(zone=ZONE)
    desk = figures.desk
    assert (desk.teams_recorded, desk.first_responses_recorded, desk.tags_recorded) == (
        False,
        False,
        False,
    )
    # Every ticket in 综合; handling, ratings and waits as recorded; no replies, no tags.
    general, security = desk.teams
    assert general == DeskGroup(
        "general", None, 6, 0, None, None, 450.0, Satisfaction((1, 0, 1, 1, 2))
    )
    assert security.handled == 0 and security.satisfaction.count == 0
    assert desk.waits[0] == AssignmentWait("general", 7, 120.0, 600.0)
    assert [(group.name, group.handled) for group in desk.agents] == [
        ("李雷", 3),
        ("赵敏", 2),
        ("ghost", 1),
        (HOSTILE_NAME, 0),
    ]
    assert desk.tags == ()

    page = render_html(figures, [], GENERATED_AT)
    assert '<p class="note" data-testid="desk-no-teams">' in page
    assert '<p class="note" data-testid="desk-no-replies">' in page
    assert (
        '<p class="empty" data-testid="desk-no-tags">此数据库早于客服台，没有标签记录。</p>' in page
    )
    assert 'data-testid="table-desk-tags"' not in page
    assert "<tr><td>李雷</td><td>3</td><td>—</td><td>—</td><td>10 分 0 秒</td>" in page
    summary = summary_text(figures)
    assert "标签：未记录" in summary
    assert "团队：综合 已处理 6，首次响应 —，处理 7 分 30 秒，满意度 3.60（5 次评分）" in summary


def test_a_handoff_database_without_tables_shows_the_section_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    figures = sources_for(tmp_path, f"sqlite:///{empty}").figures(zone=ZONE)
    assert figures.desk == compute_figures([], [], ZONE).desk
    assert '<section data-section="desk">' in render_html(figures, [], GENERATED_AT)


def test_postgresql_gives_the_same_figures(tmp_path: Path, postgres: Postgres) -> None:
    url = postgres.url("tracker")
    write_desk_store(url, START, [EARLIER, *DESK_TICKETS])
    desk = sources_for(tmp_path, url).figures(since=START, zone=ZONE).desk
    assert (desk.teams, desk.agents, desk.waits, desk.tags) == (TEAMS, AGENTS, WAITS, TAGS)
