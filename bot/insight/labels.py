"""The Chinese names and texts the report and the agent pages show (data/insight_labels.yml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.dialogue.clarify import load_intent_labels
from bot.handoff.records import Reason
from bot.insight.records import ArticleUse, DeskGroup, Satisfaction, SlaGroup

LABELS_FILE = Path(__file__).resolve().parents[2] / "data" / "insight_labels.yml"


@dataclass(frozen=True)
class InsightLabels:
    """Names of reasons, channels and intents; the charts' texts; how values are written."""

    reasons: Mapping[str, str]
    urgencies: Mapping[str, str]
    teams: Mapping[str, str]
    roles: Mapping[str, str]
    presence: Mapping[str, str]
    channels: Mapping[str, str]
    # Every named intent: the clarification button titles and the others.
    intents: Mapping[str, str]
    charts: Mapping[str, str]
    formats: Mapping[str, str]

    def reason(self, reason: Reason) -> str:
        return self.reasons[reason.value]

    def urgency(self, urgency: str) -> str:
        return self.urgencies.get(urgency, urgency)

    def team(self, team: str) -> str:
        return self.teams.get(team, team)

    def channel(self, channel: str) -> str:
        return self.channels.get(channel, channel)

    def intent(self, intent: str) -> str:
        """The intent with its name, "rate（满意度评分）", or alone when it has none."""
        title = self.intents.get(intent)
        return self.formats["intent"].format(intent=intent, title=title) if title else intent

    def duration(self, seconds: float | None) -> str:
        """A duration as a support lead reads it: "45 秒", "3 分 20 秒", "2 小时 5 分"."""
        if seconds is None:
            return "—"
        total = round(seconds)
        hours, rest = divmod(total, 3600)
        minutes, secs = divmod(rest, 60)
        unit = "hours" if hours else "minutes" if minutes else "seconds"
        return self.formats[unit].format(hours=hours, minutes=minutes, seconds=secs)

    def helpful_rate(self, use: ArticleUse) -> str:
        """The helpful rate with its number of votes, "50.0%（2 次评价）"; "—" with no vote."""
        if use.helpful_rate is None:
            return "—"
        return self.formats["helpful_rate"].format(rate=f"{use.helpful_rate:.1%}", rated=use.rated)

    def article_title(self, use: ArticleUse) -> str:
        """The article's title, marked when retired; "—" for an article not in the store."""
        if use.title is None:
            return "—"
        return self.formats["retired_article"].format(title=use.title) if use.retired else use.title

    def first_response(self, group: DeskGroup) -> str:
        """The median first response with the tickets it is over, "2 分 0 秒（3 个工单）"."""
        if group.first_response_median is None:
            return "—"
        return self.formats["first_response"].format(
            duration=self.duration(group.first_response_median), answered=group.answered
        )

    def satisfied(self, satisfaction: Satisfaction) -> str:
        """The share of 4–5 ratings with the number of ratings, "66.7%（3 次评分）"."""
        if satisfaction.satisfied_share is None:
            return "—"
        return self.formats["satisfied"].format(
            share=f"{satisfaction.satisfied_share:.1%}", count=satisfaction.count
        )

    def sla_breaches(self, group: SlaGroup) -> str:
        """First-response breaches out of the tickets measured, "2/5（40.0%）"; "—" for none."""
        if group.breach_share is None:
            return "—"
        return self.formats["sla_breaches"].format(
            breached=group.breached, measured=group.measured, share=f"{group.breach_share:.1%}"
        )

    def for_pages(self) -> dict[str, dict[str, str]]:
        """What the agent pages name: reasons, urgencies, teams, roles, presence, channels and
        intents."""
        return {
            "reasons": dict(self.reasons),
            "urgencies": dict(self.urgencies),
            "teams": dict(self.teams),
            "roles": dict(self.roles),
            "presence": dict(self.presence),
            "channels": dict(self.channels),
            "intents": dict(self.intents),
        }


@lru_cache(maxsize=1)
def load_insight_labels(path: Path = LABELS_FILE) -> InsightLabels:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return InsightLabels(
        reasons=dict(raw["reasons"]),
        urgencies=dict(raw["urgencies"]),
        teams=dict(raw["teams"]),
        roles=dict(raw["roles"]),
        presence=dict(raw["presence"]),
        channels=dict(raw["channels"]),
        intents={**load_intent_labels().titles, **raw["intents"]},
        charts=dict(raw["charts"]),
        formats=dict(raw["formats"]),
    )
