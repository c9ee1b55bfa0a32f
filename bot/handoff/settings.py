"""Handoff settings from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.database import sqlite_in_var
from bot.support_hours import ConfigError


def _minutes(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError as error:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from error
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class HandoffSettings:
    """HANDOFF_DB_URL, HANDOFF_MINUTES_PER_TICKET, HANDOFF_PICKUP_MINUTES, HANDOFF_WATCH_SECONDS,
    AGENT_SESSION_HOURS."""

    db_url: str
    minutes_per_ticket: float
    pickup_minutes: float
    watch_seconds: float
    session_hours: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> HandoffSettings:
        url = env.get("HANDOFF_DB_URL") or sqlite_in_var("handoff.db")
        return cls(
            db_url=url,
            minutes_per_ticket=_minutes(env, "HANDOFF_MINUTES_PER_TICKET", 5),
            pickup_minutes=_minutes(env, "HANDOFF_PICKUP_MINUTES", 10),
            watch_seconds=_minutes(env, "HANDOFF_WATCH_SECONDS", 30),
            session_hours=_minutes(env, "AGENT_SESSION_HOURS", 12),
        )
