"""The support insight report: one self-contained HTML page with charts, and a text summary.

    python -m bot.insight.report [--tracker-url URL] [--handoff-url URL]
                                 [--out results/report.html] [--days N] [--font PATH]

The stores default to the ones the servers use (TRACKER_DB_URL, HANDOFF_DB_URL), and SLA
breaches are counted with the servers' targets and support hours (SLA_FIRST_RESPONSE_MINUTES,
SLA_NEXT_RESPONSE_MINUTES, SUPPORT_HOURS, SUPPORT_TIMEZONE).
Charts are PNGs drawn by matplotlib with a CJK font and embedded as base64, so the page can be
mailed or archived as it is; it loads nothing and runs no script.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.handoff.sla import SlaPolicy
from bot.insight.charts import draw_charts
from bot.insight.fonts import NOTO_SANS_CJK, MissingCjkFont
from bot.insight.records import Figures
from bot.insight.render import render_html, summary_text
from bot.insight.sources import InsightError, InsightSources
from bot.settings import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("results") / "report.html"


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
        sla = SlaPolicy.from_env()
        figures = InsightSources(args.tracker_url, args.handoff_url).figures(
            since, sla.hours.timezone, sla, now
        )
        path = write_report(figures, args.out, now, args.font)
    except (InsightError, MissingCjkFont, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary_text(figures))
    print(f"报告：{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
