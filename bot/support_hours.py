"""When human agents work: SUPPORT_HOURS ("09:00-21:00") in SUPPORT_TIMEZONE ("Asia/Shanghai")."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.settings import ConfigError

DEFAULT_HOURS = "09:00-21:00"
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class SupportHours:
    """Daily opening hours of the human agents in one time zone."""

    opens: time
    closes: time
    timezone: ZoneInfo

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SupportHours:
        raw_hours = env.get("SUPPORT_HOURS") or DEFAULT_HOURS
        raw_zone = env.get("SUPPORT_TIMEZONE") or DEFAULT_TIMEZONE
        try:
            start, end = (time.fromisoformat(part.strip()) for part in raw_hours.split("-"))
        except ValueError as error:
            raise ConfigError(
                f"SUPPORT_HOURS must look like 09:00-21:00, got {raw_hours!r}"
            ) from error
        if start >= end:
            raise ConfigError(f"SUPPORT_HOURS must open before it closes, got {raw_hours!r}")
        try:
            zone = ZoneInfo(raw_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ConfigError(f"SUPPORT_TIMEZONE is not a known time zone: {raw_zone!r}") from error
        return cls(start, end, zone)

    def is_open(self, now: datetime) -> bool:
        """Whether agents are working at the aware datetime ``now``."""
        local = now.astimezone(self.timezone).time()
        return self.opens <= local < self.closes

    def response_values(self, now: datetime) -> dict[str, str]:
        """The variables responses quote: agent_open, agent_close, agent_timezone."""
        return {
            "agent_open": self.opens.strftime("%H:%M"),
            "agent_close": self.closes.strftime("%H:%M"),
            "agent_timezone": self.utc_offset_label(now),
        }

    def utc_offset_label(self, now: datetime) -> str:
        """The zone as users read it, e.g. "UTC+8" or "UTC+5:30"."""
        offset = now.astimezone(self.timezone).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        sign = "+" if minutes >= 0 else "-"
        hours, rest = divmod(abs(minutes), 60)
        return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
