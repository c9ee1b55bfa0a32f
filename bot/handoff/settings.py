"""Handoff settings from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.settings import ConfigError


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
    """HANDOFF_MINUTES_PER_TICKET, HANDOFF_PICKUP_MINUTES, HANDOFF_WATCH_SECONDS,
    HANDOFF_ASSIGN_SECONDS, HANDOFF_REASSIGN_MINUTES and AGENT_SESSION_HOURS (the store's URL is
    ``StoreUrls.handoff``)."""

    minutes_per_ticket: float
    pickup_minutes: float
    watch_seconds: float
    session_hours: float
    assign_seconds: float = 2
    reassign_minutes: float = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> HandoffSettings:
        return cls(
            minutes_per_ticket=_minutes(env, "HANDOFF_MINUTES_PER_TICKET", 5),
            pickup_minutes=_minutes(env, "HANDOFF_PICKUP_MINUTES", 10),
            watch_seconds=_minutes(env, "HANDOFF_WATCH_SECONDS", 30),
            session_hours=_minutes(env, "AGENT_SESSION_HOURS", 12),
            assign_seconds=_minutes(env, "HANDOFF_ASSIGN_SECONDS", 2),
            reassign_minutes=_minutes(env, "HANDOFF_REASSIGN_MINUTES", 5),
        )
