"""The report page and its summary for the terminal, rendered from Jinja2 templates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.insight.charts import TOP_INTENTS, ChartImage
from bot.insight.labels import InsightLabels, load_insight_labels
from bot.insight.records import Figures


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


def average(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _environment(labels: InsightLabels) -> Environment:
    environment = Environment(
        loader=PackageLoader("bot.insight"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters.update(percent=percent, average=average, duration=labels.duration)
    return environment


def render_html(figures: Figures, charts: Sequence[ChartImage], generated_at: datetime) -> str:
    """The report page; every value from the stores is escaped."""
    labels = load_insight_labels()
    return (
        _environment(labels)
        .get_template("report.html")
        .render(
            figures=figures,
            charts={chart.key: chart for chart in charts},
            labels=labels,
            top_intents=TOP_INTENTS,
            generated=generated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )


def summary_text(figures: Figures) -> str:
    """The figures in a few lines for the terminal."""
    labels = load_insight_labels()
    return _environment(labels).get_template("summary.txt").render(figures=figures, labels=labels)
