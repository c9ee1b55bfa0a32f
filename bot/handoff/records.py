"""Records of the handoff queue: tickets, with their reason, urgency, state and summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class Reason(str, Enum):
    REQUESTED = "requested"
    FALLBACK = "fallback"
    COMPROMISED = "compromised"
    COMPLAINT = "complaint"
    PENDING_TRANSFER = "pending_transfer"


class Urgency(str, Enum):
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return {"normal": 0, "high": 1, "urgent": 2}[self.value]


URGENCY_OF = {
    Reason.REQUESTED: Urgency.NORMAL,
    Reason.FALLBACK: Urgency.NORMAL,
    Reason.COMPLAINT: Urgency.HIGH,
    Reason.PENDING_TRANSFER: Urgency.HIGH,
    Reason.COMPROMISED: Urgency.URGENT,
}


class State(str, Enum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"


@dataclass(frozen=True)
class Summary:
    """What an agent needs at a glance: recent intents, entities, masked account, last messages."""

    intents: list[str] = field(default_factory=list)
    entities: dict[str, list[str]] = field(default_factory=dict)
    account: str = "-"
    last_messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "intents": self.intents,
            "entities": self.entities,
            "account": self.account,
            "last_messages": self.last_messages,
        }


@dataclass(frozen=True)
class Ticket:
    """One conversation waiting for, or owned by, a human agent."""

    ticket_id: int
    conversation_id: str
    channel: str
    reason: Reason
    urgency: Urgency
    state: State
    summary: Summary
    created_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    agent: str | None
    close_note: str | None
    rating: int | None
    cancelled: bool
