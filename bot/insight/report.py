"""The support insight report: one self-contained HTML page with charts, and a text summary.

    python -m bot.insight.report [--tracker-url URL] [--handoff-url URL]
                                 [--out results/report.html] [--days N] [--font PATH]

The stores default to the ones the servers use (TRACKER_DB_URL, HANDOFF_DB_URL).
Charts are PNGs drawn by matplotlib with a CJK font and embedded as base64, so the page can be
mailed or archived as it is; it loads nothing and runs no script.
"""

from __future__ import annotations

import argparse
import base64
import io
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure as Chart

from bot.dialogue.clarify import load_intent_labels
from bot.handoff.records import Reason
from bot.insight.figures import (
    FALLBACK_INTENT,
    STARS,
    UNKNOWN_CHANNEL,
    Figures,
    InsightError,
    InsightSources,
    RatingGroup,
)
from bot.insight.fonts import NOTO_SANS_CJK, MissingCjkFont, cjk_font_family

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("results") / "report.html"
TOP_INTENTS = 10

REASON_LABELS = {
    Reason.REQUESTED: "用户要求转人工",
    Reason.FALLBACK: "机器人未能理解",
    Reason.COMPROMISED: "账户疑似被盗",
    Reason.COMPLAINT: "投诉",
    Reason.PENDING_TRANSFER: "转账长时间未到账",
}
# The agent console's names, so the two pages agree.
CHANNEL_LABELS = {
    "rest": "网页/接口",
    "socketio": "App 内聊天",
    "widget": "App 内组件",
    "telegram": "Telegram",
    "wechat": "微信",
    "cmdline": "命令行",
    UNKNOWN_CHANNEL: "未知",
}
# Intents without a clarification button title (data/intent_labels.yml).
EXTRA_INTENT_LABELS = {
    FALLBACK_INTENT: "未能理解（兜底）",
    "greet": "打招呼",
    "goodbye": "告别",
    "thank": "致谢",
    "affirm": "肯定",
    "deny": "否定",
    "bot_challenge": "问是否机器人",
    "out_of_scope": "超出服务范围",
    "rate": "满意度评分",
}
COLOURS = {"primary": "#2563eb", "secondary": "#93c5fd", "alert": "#dc2626", "ok": "#15803d"}


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel)


def intent_label(intent: str) -> str:
    titles = {**load_intent_labels().titles, **EXTRA_INTENT_LABELS}
    title = titles.get(intent)
    return f"{intent}（{title}）" if title else intent


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


def average(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def duration(seconds: float | None) -> str:
    """A duration as a support lead reads it: "45 秒", "3 分 20 秒", "2 小时 5 分"."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} 小时 {minutes} 分"
    if minutes:
        return f"{minutes} 分 {secs} 秒"
    return f"{secs} 秒"


# Charts


@dataclass(frozen=True)
class ChartImage:
    """A chart as an embedded PNG."""

    key: str
    title: str
    png: bytes

    def img(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return (
            f'<img class="chart" data-chart="{escape(self.key)}" alt="{escape(self.title)}" '
            f'src="data:image/png;base64,{data}">'
        )


def _png(chart: Chart) -> bytes:
    buffer = io.BytesIO()
    chart.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _empty(ax: Axes) -> None:
    ax.text(0.5, 0.5, "暂无数据", ha="center", va="center", fontsize=14, color="#6b7585")
    ax.set_axis_off()


def _daily_chart(figures: Figures) -> Chart:
    chart = Chart(figsize=(8, 3.6))
    ax = chart.subplots()
    ax.set_title("每日会话数与用户消息数")
    if not figures.days:
        _empty(ax)
        return chart
    labels = [day.day.strftime("%m-%d") for day in figures.days]
    positions = range(len(labels))
    width = 0.4
    ax.bar(
        [p - width / 2 for p in positions],
        [day.conversations for day in figures.days],
        width,
        label="会话数",
        color=COLOURS["primary"],
    )
    ax.bar(
        [p + width / 2 for p in positions],
        [day.user_messages for day in figures.days],
        width,
        label="用户消息数",
        color=COLOURS["secondary"],
    )
    ax.set_xticks(list(positions))
    ax.set_xticklabels(labels, rotation=45 if len(labels) > 10 else 0)
    ax.set_xlabel(f"日期（{figures.timezone}）")
    ax.set_ylabel("数量")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return chart


def _channel_chart(figures: Figures) -> Chart:
    chart = Chart(figsize=(8, 3.2))
    ax = chart.subplots()
    ax.set_title("各渠道会话数与用户消息数")
    if not figures.channels:
        _empty(ax)
        return chart
    labels = [channel_label(row.channel) for row in figures.channels]
    positions = range(len(labels))
    height = 0.4
    ax.barh(
        [p - height / 2 for p in positions],
        [row.conversations for row in figures.channels],
        height,
        label="会话数",
        color=COLOURS["primary"],
    )
    ax.barh(
        [p + height / 2 for p in positions],
        [row.user_messages for row in figures.channels],
        height,
        label="用户消息数",
        color=COLOURS["secondary"],
    )
    ax.set_yticks(list(positions))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return chart


def _intent_chart(figures: Figures) -> Chart:
    top = figures.understanding.intents[:TOP_INTENTS]
    chart = Chart(figsize=(8, 0.45 * max(len(top), 4) + 1.2))
    ax = chart.subplots()
    ax.set_title(f"热门意图（前 {TOP_INTENTS} 名，红色为未能理解）")
    if not top:
        _empty(ax)
        return chart
    colours = [
        COLOURS["alert"] if row.intent == FALLBACK_INTENT else COLOURS["primary"] for row in top
    ]
    ax.barh([intent_label(row.intent) for row in top], [row.messages for row in top], color=colours)
    ax.invert_yaxis()
    ax.set_xlabel("用户消息数")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return chart


def _containment_chart(figures: Figures) -> Chart:
    containment = figures.containment
    chart = Chart(figsize=(8, 3.6))
    ax = chart.subplots()
    ax.set_title("自助解决与转人工（按会话）")
    if not containment.conversations:
        _empty(ax)
        return chart
    labels = ["机器人自助解决"] + [
        f"转人工：{REASON_LABELS[row.reason]}" for row in containment.by_reason
    ]
    sizes = [containment.contained] + [row.conversations for row in containment.by_reason]
    shown = [(label, size) for label, size in zip(labels, sizes, strict=True) if size]
    ax.pie(
        [size for _, size in shown],
        labels=[f"{label}（{size}）" for label, size in shown],
        autopct="%1.1f%%",
        startangle=90,
        counterclock=False,
        colors=[COLOURS["ok"], "#f59e0b", "#ef4444", "#8b5cf6", "#0ea5e9", "#64748b"][: len(shown)],
    )
    ax.axis("equal")
    return chart


def _rating_chart(figures: Figures) -> Chart:
    ratings = figures.ratings
    chart = Chart(figsize=(8, 3.6))
    ax = chart.subplots()
    ax.set_title("满意度评分分布")
    if not ratings.overall.count:
        _empty(ax)
        return chart
    width = 0.38
    ax.bar(
        [star - width / 2 for star in STARS],
        ratings.bot_only.counts,
        width,
        label="仅机器人",
        color=COLOURS["primary"],
    )
    ax.bar(
        [star + width / 2 for star in STARS],
        ratings.handoff.counts,
        width,
        label="转人工后",
        color="#f59e0b",
    )
    ax.set_xticks(list(STARS))
    ax.set_xticklabels([f"{star} 分" for star in STARS])
    ax.set_ylabel("评分次数")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return chart


def draw_charts(figures: Figures, font: Path = NOTO_SANS_CJK) -> list[ChartImage]:
    """Every chart of the report as a PNG, labels drawn with the CJK font at ``font``."""
    family = cjk_font_family(font)
    settings = {"font.family": [family], "axes.unicode_minus": False, "font.size": 10}
    drawn = []
    with matplotlib.rc_context(settings):
        for key, title, draw in [
            ("daily", "每日会话数与用户消息数", _daily_chart),
            ("channels", "各渠道会话数与用户消息数", _channel_chart),
            ("intents", "热门意图", _intent_chart),
            ("containment", "自助解决与转人工", _containment_chart),
            ("ratings", "满意度评分分布", _rating_chart),
        ]:
            drawn.append(ChartImage(key, title, _png(draw(figures))))
    return drawn


# The page


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], testid: str) -> str:
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    if not rows:
        body = f'<tr><td colspan="{len(headers)}" class="empty">暂无数据</td></tr>'
    else:
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>"
            for row in rows
        )
    return (
        f'<table data-testid="{escape(testid)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _rating_row(group: RatingGroup, name: str) -> list[object]:
    return [name, group.count, average(group.average), *group.counts]


def _kpis(figures: Figures) -> list[tuple[str, str]]:
    times = figures.handoff_times
    return [
        ("会话数", str(figures.conversations)),
        ("用户消息数", str(figures.user_messages)),
        ("自助解决率", percent(figures.containment.rate)),
        ("未能理解占比", percent(figures.understanding.fallback_share)),
        ("平均满意度", average(figures.ratings.overall.average)),
        ("转人工等待（中位数）", duration(times.wait_median)),
    ]


STYLE = """
body { font-family: "Noto Sans CJK SC", "WenQuanYi Zen Hei", "PingFang SC", "Microsoft YaHei",
  sans-serif; color: #1f2733; background: #f3f5f8; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 12px; border-left: 4px solid #2563eb; padding-left: 8px; }
.meta { color: #6b7585; margin: 0 0 16px; }
.kpis { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
.kpi { background: #fff; border: 1px solid #dde2ea; border-radius: 8px; padding: 12px 16px; }
.kpi .label { color: #6b7585; font-size: 13px; }
.kpi .value { font-size: 24px; font-weight: 600; margin-top: 4px; }
section { background: #fff; border: 1px solid #dde2ea; border-radius: 8px; padding: 4px 16px 16px;
  margin-top: 16px; }
img.chart { max-width: 100%; display: block; margin: 8px auto; }
table { border-collapse: collapse; width: 100%; margin-top: 8px; font-size: 13px; }
th, td { border-bottom: 1px solid #eef1f5; padding: 6px 8px; text-align: left; }
th { background: #f7f9fc; color: #4b5563; font-weight: 600; }
td.empty { color: #6b7585; text-align: center; }
.note { color: #6b7585; font-size: 12px; }
"""


def render_html(figures: Figures, charts: Sequence[ChartImage], generated_at: datetime) -> str:
    """The report page; every value from the stores is escaped."""
    images = {chart.key: chart.img() for chart in charts}
    period = (
        f"{figures.first_day.isoformat()} 至 {figures.last_day.isoformat()}"
        if figures.first_day and figures.last_day
        else "暂无会话"
    )
    kpis = "".join(
        f'<div class="kpi" data-testid="kpi"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div></div>'
        for label, value in _kpis(figures)
    )
    days = _table(
        ["日期", "会话数", "用户消息数", "各渠道（会话/消息）"],
        [
            [
                day.day.isoformat(),
                day.conversations,
                day.user_messages,
                "，".join(
                    f"{channel_label(row.channel)} {row.conversations}/{row.user_messages}"
                    for row in day.channels
                ),
            ]
            for day in figures.days
        ],
        "table-days",
    )
    channels = _table(
        ["渠道", "会话数", "用户消息数"],
        [[channel_label(r.channel), r.conversations, r.user_messages] for r in figures.channels],
        "table-channels",
    )
    understanding = figures.understanding
    intents = _table(
        ["意图", "用户消息数", "占比"],
        [
            [intent_label(row.intent), row.messages, percent(row.messages / understanding.messages)]
            for row in understanding.intents[:TOP_INTENTS]
        ],
        "table-intents",
    )
    containment = figures.containment
    reasons = _table(
        ["转人工原因", "会话数", "占转人工会话"],
        [
            [
                REASON_LABELS[row.reason],
                row.conversations,
                percent(row.conversations / containment.handed_off),
            ]
            for row in containment.by_reason
        ],
        "table-reasons",
    )
    times = figures.handoff_times
    handoff = _table(
        ["指标", "数值"],
        [
            ["转人工工单（不含取消）", times.tickets],
            ["用户取消排队", times.cancelled],
            ["已被客服接入", times.claimed],
            ["已由客服结束", times.closed],
            ["等待时长（接入 − 创建）中位数", duration(times.wait_median)],
            ["等待时长 P90", duration(times.wait_p90)],
            ["处理时长（结束 − 接入）中位数", duration(times.handling_median)],
        ],
        "table-handoff-times",
    )
    ratings = figures.ratings
    rating_headers = ["分组", "评分次数", "平均分", "1 分", "2 分", "3 分", "4 分", "5 分"]
    rating_groups = _table(
        rating_headers,
        [
            _rating_row(ratings.overall, "全部"),
            _rating_row(ratings.bot_only, "仅机器人"),
            _rating_row(ratings.handoff, "转人工后"),
        ],
        "table-ratings",
    )
    rating_channels = _table(
        rating_headers,
        [_rating_row(group, channel_label(group.name)) for group in ratings.by_channel],
        "table-ratings-channels",
    )
    low = _table(
        ["用户消息（已隐藏账号、地址等标识）", "次数"],
        [[row.text, row.count] for row in figures.low_confidence],
        "table-low-confidence",
    )
    generated = generated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
  content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>IM钱包智能客服 · 服务洞察报告</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>IM钱包智能客服 · 服务洞察报告</h1>
<p class="meta">统计区间：{escape(period)}（{escape(figures.timezone)}）·
生成时间：{escape(generated)}</p>
<div class="kpis">{kpis}</div>

<section data-section="activity">
<h2>每日会话与用户消息</h2>
{images.get("daily", "")}
{days}
<h2>各渠道</h2>
{images.get("channels", "")}
{channels}
</section>

<section data-section="intents">
<h2>热门意图与未能理解</h2>
<p>发给机器人的用户消息 {understanding.messages} 条，其中未能理解（nlu_fallback）
{understanding.fallbacks} 条，占 {escape(percent(understanding.fallback_share))}。
<span class="note">人工客服接管期间的消息不计入本节。</span></p>
{images.get("intents", "")}
{intents}
</section>

<section data-section="containment">
<h2>自助解决与转人工</h2>
<p>共 {containment.conversations} 个会话：机器人自助解决 {containment.contained} 个
（{escape(percent(containment.rate))}），转人工 {containment.handed_off} 个。
<span class="note">有未取消工单的会话算作转人工。</span></p>
{images.get("containment", "")}
{reasons}
<h2>人工处理时效</h2>
{handoff}
</section>

<section data-section="ratings">
<h2>满意度评分</h2>
<p>共 {ratings.overall.count} 次评分，平均 {escape(average(ratings.overall.average))} 分。
<span class="note">客服结束会话后给出的评分算作“转人工后”。</span></p>
{images.get("ratings", "")}
{rating_groups}
<h3>按渠道</h3>
{rating_channels}
</section>

<section data-section="low-confidence">
<h2>低置信度用户消息（可补充为训练样例）</h2>
{low}
</section>
</main>
</body>
</html>
"""


def summary_text(figures: Figures) -> str:
    """The figures in a few lines for the terminal."""
    understanding, containment = figures.understanding, figures.containment
    times, ratings = figures.handoff_times, figures.ratings
    period = f"{figures.first_day} 至 {figures.last_day}" if figures.first_day else "暂无会话"
    lines = [
        f"统计区间：{period}（{figures.timezone}）",
        f"会话 {figures.conversations} 个，用户消息 {figures.user_messages} 条",
        "每日："
        + (
            "；".join(
                f"{day.day} 会话 {day.conversations} / 消息 {day.user_messages}"
                for day in figures.days
            )
            or "—"
        ),
        "渠道："
        + (
            "；".join(
                f"{channel_label(row.channel)} 会话 {row.conversations} / 消息 {row.user_messages}"
                for row in figures.channels
            )
            or "—"
        ),
        "热门意图："
        + ("，".join(f"{row.intent} {row.messages}" for row in understanding.intents[:5]) or "—"),
        f"未能理解：{understanding.fallbacks}/{understanding.messages}"
        f"（{percent(understanding.fallback_share)}）",
        f"自助解决 {containment.contained}，转人工 {containment.handed_off}"
        f"（自助解决率 {percent(containment.rate)}）"
        + (
            "："
            + "，".join(
                f"{REASON_LABELS[r.reason]} {r.conversations}" for r in containment.by_reason
            )
            if containment.by_reason
            else ""
        ),
        f"人工：等待中位数 {duration(times.wait_median)}，P90 {duration(times.wait_p90)}，"
        f"处理中位数 {duration(times.handling_median)}"
        f"（工单 {times.tickets}，取消 {times.cancelled}）",
        f"满意度：{ratings.overall.count} 次，平均 {average(ratings.overall.average)}，"
        f"分布 {'/'.join(str(n) for n in ratings.overall.counts)}（1–5 分）；"
        f"仅机器人 {average(ratings.bot_only.average)}，"
        f"转人工后 {average(ratings.handoff.average)}",
        f"低置信度消息候选：{len(figures.low_confidence)} 条",
    ]
    return "\n".join(lines)


def write_report(
    figures: Figures, out: Path, generated_at: datetime, font: Path = NOTO_SANS_CJK
) -> Path:
    """Writes the HTML report to ``out`` (creating its folder) and returns the path."""
    page = render_html(figures, draw_charts(figures, font), generated_at)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    sources = InsightSources.from_env()
    parser = argparse.ArgumentParser(prog="python -m bot.insight.report", description=__doc__)
    parser.add_argument("--tracker-url", default=sources.tracker_url, help="SQLAlchemy URL")
    parser.add_argument("--handoff-url", default=sources.handoff_url, help="SQLAlchemy URL")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="HTML file to write")
    parser.add_argument("--days", type=int, help="only the last N days (default: everything)")
    parser.add_argument("--font", type=Path, default=NOTO_SANS_CJK, help="CJK font file")
    args = parser.parse_args(argv)
    if args.days is not None and args.days <= 0:
        parser.error("--days must be positive")
    now = datetime.now(timezone.utc)
    since = now - timedelta(days=args.days) if args.days else None
    try:
        figures = InsightSources(args.tracker_url, args.handoff_url).figures(since)
        path = write_report(figures, args.out, now, args.font)
    except (InsightError, MissingCjkFont) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary_text(figures))
    print(f"报告：{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
