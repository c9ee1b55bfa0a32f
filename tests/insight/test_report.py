"""The report's page and summary from their templates, and the names and texts they use."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.handoff.records import Reason
from bot.insight.charts import ChartImage
from bot.insight.compute import compute_figures
from bot.insight.labels import load_insight_labels
from bot.insight.records import Figures, UserTurn
from bot.insight.render import render_html, summary_text
from tests.insight.known_stores import ZONE, known_sources

GENERATED_AT = datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc)
# Written from the known stores by the report before its page and summary were templates.
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> Figures:
    return known_sources(tmp_path_factory.mktemp("report")).figures(zone=ZONE)


def test_the_page_is_the_one_the_report_always_wrote(figures: Figures) -> None:
    golden = (GOLDEN / "report.html").read_text(encoding="utf-8")
    assert render_html(figures, [], GENERATED_AT) == golden


def test_the_summary_is_the_one_the_report_always_printed(figures: Figures) -> None:
    assert summary_text(figures) == (GOLDEN / "summary.txt").read_text(encoding="utf-8")


def test_charts_are_embedded_where_their_sections_are(figures: Figures) -> None:
    charts = [ChartImage("ratings", '满意度 "评分"', b"\x89PNG"), ChartImage("daily", "每日", b"")]
    page = render_html(figures, charts, GENERATED_AT)
    assert (
        '<h2>满意度评分</h2>\n<p>共 5 次评分，平均 3.60 分。\n<span class="note">'
        "客服结束会话后给出的评分算作“转人工后”。</span></p>\n"
        '<img class="chart" data-chart="ratings" alt="满意度 &#34;评分&#34;" '
        'src="data:image/png;base64,iVBORw==">\n<table data-testid="table-ratings">'
    ) in page
    assert '<img class="chart" data-chart="daily" alt="每日" src="data:image/png;base64,">' in page
    assert page.count("<img") == 2


def test_values_from_the_stores_are_escaped() -> None:
    hostile = "<img id=\"pwned\" src=x onerror=alert(1)> & 'q'"
    turn = UserTurn("x", GENERATED_AT, "<b>chan</b>", "nlu_fallback", hostile)
    page = render_html(compute_figures([turn, turn], [], ZONE), [], GENERATED_AT)
    assert "<img" not in page and "<b>" not in page
    assert (
        "<td>&lt;img id=&#34;pwned&#34; src=x onerror=alert(1)&gt; &amp; &#39;q&#39;</td><td>2</td>"
    ) in page
    assert "<td>&lt;b&gt;chan&lt;/b&gt;</td><td>1</td><td>2</td>" in page


def test_every_reason_and_channel_has_a_name_and_intents_have_their_titles() -> None:
    labels = load_insight_labels()
    assert set(labels.reasons) == {reason.value for reason in Reason}
    assert labels.reason(Reason.COMPROMISED) == "账户疑似被盗"
    assert {"rest", "socketio", "widget", "telegram", "wechat", "unknown"} <= set(labels.channels)
    assert labels.channel("smoke-signals") == "smoke-signals"
    # Button titles (data/intent_labels.yml) and the others (data/insight_labels.yml).
    assert labels.intent("password_reset") == "password_reset（找回或重置密码）"
    assert labels.intent("rate") == "rate（满意度评分）"
    assert labels.intent("made_up") == "made_up"
    assert labels.for_pages()["intents"]["nlu_fallback"] == "未能理解（兜底）"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (44.6, "45 秒"),
        (200, "3 分 20 秒"),
        (3600, "1 小时 0 分"),
        (7530, "2 小时 5 分"),
    ],
)
def test_durations_are_written_in_their_largest_unit(seconds: float | None, shown: str) -> None:
    assert load_insight_labels().duration(seconds) == shown
