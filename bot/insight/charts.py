"""The report's charts, drawn by matplotlib with a CJK font as PNGs."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure as Chart

from bot.insight.compute import FALLBACK_INTENT
from bot.insight.fonts import NOTO_SANS_CJK, cjk_font_family
from bot.insight.labels import InsightLabels, load_insight_labels
from bot.insight.records import STARS, Figures

TOP_INTENTS = 10
COLOURS = {
    "primary": "#2563eb",
    "secondary": "#93c5fd",
    "alert": "#dc2626",
    "ok": "#15803d",
    "amber": "#f59e0b",
}
SLICE_COLOURS = [COLOURS["ok"], COLOURS["amber"], "#ef4444", "#8b5cf6", "#0ea5e9", "#64748b"]


@dataclass(frozen=True)
class ChartImage:
    """A chart as a PNG, with the key and title the page shows it under."""

    key: str
    title: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Series:
    """One bar of each pair: its legend entry, values and colour."""

    label: str
    values: Sequence[int]
    colour: str


def _png(chart: Chart) -> bytes:
    buffer = io.BytesIO()
    chart.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _empty(ax: Axes, labels: InsightLabels) -> None:
    no_data = labels.charts["no_data"]
    ax.text(0.5, 0.5, no_data, ha="center", va="center", fontsize=14, color="#6b7585")
    ax.set_axis_off()


def _paired_bars(
    ax: Axes,
    positions: Sequence[float],
    names: Sequence[str],
    pair: tuple[Series, Series],
    width: float,
    horizontal: bool = False,
) -> None:
    """Two bars per position, side by side, named on the category axis, with a legend."""
    draw = ax.barh if horizontal else ax.bar
    for offset, series in zip((-width / 2, width / 2), pair, strict=True):
        spots = [p + offset for p in positions]
        draw(spots, series.values, width, label=series.label, color=series.colour)
    if horizontal:
        ax.set_yticks(list(positions))
        ax.set_yticklabels(names)
        ax.invert_yaxis()
    else:
        ax.set_xticks(list(positions))
        ax.set_xticklabels(names, rotation=45 if len(names) > 10 else 0)
    (ax.xaxis if horizontal else ax.yaxis).get_major_locator().set_params(integer=True)
    ax.legend()


def _activity_pair(
    conversations: Sequence[int], messages: Sequence[int], labels: InsightLabels
) -> tuple[Series, Series]:
    return (
        Series(labels.charts["conversations"], conversations, COLOURS["primary"]),
        Series(labels.charts["user_messages"], messages, COLOURS["secondary"]),
    )


def _daily_chart(figures: Figures, labels: InsightLabels) -> Chart:
    chart = Chart(figsize=(8, 3.6))
    ax = chart.subplots()
    ax.set_title(labels.charts["daily_title"])
    if not figures.days:
        _empty(ax, labels)
        return chart
    pair = _activity_pair(
        [day.conversations for day in figures.days],
        [day.user_messages for day in figures.days],
        labels,
    )
    names = [day.day.strftime("%m-%d") for day in figures.days]
    _paired_bars(ax, range(len(names)), names, pair, 0.4)
    ax.set_xlabel(labels.charts["daily_axis"].format(timezone=figures.timezone))
    ax.set_ylabel(labels.charts["count_axis"])
    return chart


def _channel_chart(figures: Figures, labels: InsightLabels) -> Chart:
    chart = Chart(figsize=(8, 3.2))
    ax = chart.subplots()
    ax.set_title(labels.charts["channels_title"])
    if not figures.channels:
        _empty(ax, labels)
        return chart
    pair = _activity_pair(
        [row.conversations for row in figures.channels],
        [row.user_messages for row in figures.channels],
        labels,
    )
    names = [labels.channel(row.channel) for row in figures.channels]
    _paired_bars(ax, range(len(names)), names, pair, 0.4, horizontal=True)
    return chart


def _intent_chart(figures: Figures, labels: InsightLabels) -> Chart:
    top = figures.understanding.intents[:TOP_INTENTS]
    chart = Chart(figsize=(8, 0.45 * max(len(top), 4) + 1.2))
    ax = chart.subplots()
    ax.set_title(labels.charts["intents_title"].format(top=TOP_INTENTS))
    if not top:
        _empty(ax, labels)
        return chart
    colours = [
        COLOURS["alert"] if row.intent == FALLBACK_INTENT else COLOURS["primary"] for row in top
    ]
    ax.barh(
        [labels.intent(row.intent) for row in top], [row.messages for row in top], color=colours
    )
    ax.invert_yaxis()
    ax.set_xlabel(labels.charts["user_messages"])
    ax.xaxis.get_major_locator().set_params(integer=True)
    return chart


def _containment_chart(figures: Figures, labels: InsightLabels) -> Chart:
    containment = figures.containment
    chart = Chart(figsize=(8, 3.6))
    ax = chart.subplots()
    ax.set_title(labels.charts["containment_title"])
    if not containment.conversations:
        _empty(ax, labels)
        return chart
    names = [labels.charts["contained"]] + [
        labels.charts["handed_off"].format(reason=labels.reason(row.reason))
        for row in containment.by_reason
    ]
    sizes = [containment.contained] + [row.conversations for row in containment.by_reason]
    shown = [(name, size) for name, size in zip(names, sizes, strict=True) if size]
    ax.pie(
        [size for _, size in shown],
        labels=[labels.charts["slice"].format(label=name, count=size) for name, size in shown],
        autopct="%1.1f%%",
        startangle=90,
        counterclock=False,
        colors=SLICE_COLOURS[: len(shown)],
    )
    ax.axis("equal")
    return chart


def _rating_chart(figures: Figures, labels: InsightLabels) -> Chart:
    ratings = figures.ratings
    chart = Chart(figsize=(8, 3.6))
    ax = chart.subplots()
    ax.set_title(labels.charts["ratings_title"])
    if not ratings.overall.count:
        _empty(ax, labels)
        return chart
    pair = (
        Series(labels.charts["bot_only"], ratings.bot_only.counts, COLOURS["primary"]),
        Series(labels.charts["after_handoff"], ratings.handoff.counts, COLOURS["amber"]),
    )
    names = [labels.charts["stars"].format(star=star) for star in STARS]
    _paired_bars(ax, STARS, names, pair, 0.38)
    ax.set_ylabel(labels.charts["ratings_axis"])
    return chart


CHARTS: list[tuple[str, str, Callable[[Figures, InsightLabels], Chart]]] = [
    ("daily", "daily_title", _daily_chart),
    ("channels", "channels_title", _channel_chart),
    ("intents", "intents_alt", _intent_chart),
    ("containment", "containment_alt", _containment_chart),
    ("ratings", "ratings_title", _rating_chart),
]


def draw_charts(figures: Figures, font: Path = NOTO_SANS_CJK) -> list[ChartImage]:
    """Every chart of the report as a PNG, labels drawn with the CJK font at ``font``."""
    labels = load_insight_labels()
    family = cjk_font_family(font)
    settings = {"font.family": [family], "axes.unicode_minus": False, "font.size": 10}
    with matplotlib.rc_context(settings):
        return [
            ChartImage(key, labels.charts[title], _png(draw(figures, labels)))
            for key, title, draw in CHARTS
        ]
