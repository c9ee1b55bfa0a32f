"""A reply an action should send: a domain response name plus the values it quotes, and how a
moment is quoted in one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Reply:
    """``response`` from domain.yml, filled with ``values``, with optional extra buttons."""

    response: str
    values: dict[str, Any] = field(default_factory=dict)
    buttons: list[dict[str, str]] = field(default_factory=list)


def shown_time(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` as the replies quote it, in the support time zone: 11-23 10:20."""
    return f"{moment.astimezone(zone):%m-%d %H:%M}"
