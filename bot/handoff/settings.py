"""Handoff settings from the environment, with the desk's response-time targets (SLA)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.handoff.records import Urgency
from bot.settings import ConfigError, positive_number


@dataclass(frozen=True)
class UrgencyMinutes:
    """A number of minutes for each urgency (an SLA target)."""

    urgent: float
    high: float
    normal: float

    def of(self, urgency: Urgency) -> float:
        return float(getattr(self, urgency.value))

    @classmethod
    def parse(cls, env: Mapping[str, str], name: str, default: UrgencyMinutes) -> UrgencyMinutes:
        """``name`` as "urgent=5,high=15,normal=30"; urgencies left out keep ``default``'s."""
        raw = env.get(name) or ""
        if not raw.strip():
            return default
        usage = f"{name} must look like urgent=5,high=15,normal=30 (positive minutes)"
        values = {urgency.value: default.of(urgency) for urgency in Urgency}
        seen: set[str] = set()
        for part in raw.split(","):
            key, sep, number = (piece.strip() for piece in part.partition("="))
            if not sep or key not in values:
                raise ConfigError(f"{usage}; {key or part.strip()!r} is not an urgency")
            if key in seen:
                raise ConfigError(f"{usage}; {key} is given twice")
            seen.add(key)
            try:
                minutes = float(number)
            except ValueError as error:
                raise ConfigError(f"{usage}; got {number!r} for {key}") from error
            if not 0 < minutes < float("inf"):
                raise ConfigError(f"{usage}; got {number!r} for {key}")
            values[key] = minutes
        return cls(**values)


DEFAULT_FIRST_RESPONSE = UrgencyMinutes(urgent=5, high=15, normal=30)
DEFAULT_NEXT_RESPONSE = UrgencyMinutes(urgent=5, high=10, normal=15)


@dataclass(frozen=True)
class SlaTargets:
    """SLA_FIRST_RESPONSE_MINUTES (ticket opened → the agents' first reply) and
    SLA_NEXT_RESPONSE_MINUTES (the user's message after an agent reply → the next reply), per
    urgency, in business minutes (``bot.handoff.sla``)."""

    first: UrgencyMinutes = DEFAULT_FIRST_RESPONSE
    next: UrgencyMinutes = DEFAULT_NEXT_RESPONSE

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SlaTargets:
        return cls(
            first=UrgencyMinutes.parse(env, "SLA_FIRST_RESPONSE_MINUTES", DEFAULT_FIRST_RESPONSE),
            next=UrgencyMinutes.parse(env, "SLA_NEXT_RESPONSE_MINUTES", DEFAULT_NEXT_RESPONSE),
        )


@dataclass(frozen=True)
class HandoffSettings:
    """HANDOFF_MINUTES_PER_TICKET, HANDOFF_PICKUP_MINUTES, HANDOFF_WATCH_SECONDS,
    HANDOFF_ASSIGN_SECONDS, HANDOFF_REASSIGN_MINUTES, AGENT_SESSION_HOURS and the SLA targets
    (the store's URL is ``StoreUrls.handoff``)."""

    minutes_per_ticket: float
    pickup_minutes: float
    watch_seconds: float
    session_hours: float
    assign_seconds: float = 2
    reassign_minutes: float = 5
    sla: SlaTargets = field(default_factory=SlaTargets)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> HandoffSettings:
        return cls(
            minutes_per_ticket=positive_number(env, "HANDOFF_MINUTES_PER_TICKET", 5),
            pickup_minutes=positive_number(env, "HANDOFF_PICKUP_MINUTES", 10),
            watch_seconds=positive_number(env, "HANDOFF_WATCH_SECONDS", 30),
            session_hours=positive_number(env, "AGENT_SESSION_HOURS", 12),
            assign_seconds=positive_number(env, "HANDOFF_ASSIGN_SECONDS", 2),
            reassign_minutes=positive_number(env, "HANDOFF_REASSIGN_MINUTES", 5),
            sla=SlaTargets.from_env(env),
        )
