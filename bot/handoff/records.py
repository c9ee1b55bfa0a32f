"""Records of the handoff desk: tickets (reason, urgency, team, state, summary), the agents who
work them (role, teams, capacity, presence) and what agents add to a ticket (notes, canned
replies)."""

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


class Team(str, Enum):
    """The desk's teams; theft, freezes and leaked secrets go to ``SECURITY``."""

    GENERAL = "general"
    SECURITY = "security"


class Role(str, Enum):
    """What an agent may do: agents work tickets; supervisors also see every ticket, review what
    the assistant missed and edit the help center; admins also manage the agents."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def supervises(self) -> bool:
        return self is not Role.AGENT


class Presence(str, Enum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


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
    team: Team = Team.GENERAL
    first_response_at: datetime | None = None
    unread: int = 0
    user_typing: bool = False
    agent_typing: bool = False
    returned_from: str | None = None
    # The proven owner's account: for the account panel only, never in a page's JSON.
    account_id: str | None = None
    last_user_message_at: datetime | None = None
    last_agent_reply_at: datetime | None = None


@dataclass(frozen=True)
class AgentProfile:
    """An agent as the desk sees them: ``presence`` is what their heartbeats say now."""

    username: str
    display_name: str
    role: Role
    teams: tuple[Team, ...]
    capacity: int
    presence: Presence
    disabled: bool
    load: int = 0
    last_assigned_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "teams": [team.value for team in self.teams],
            "capacity": self.capacity,
            "presence": self.presence.value,
            "disabled": self.disabled,
            "load": self.load,
        }


@dataclass(frozen=True)
class Note:
    """An internal note on a ticket (``kind`` "note"), a transfer's note (with its ``target``),
    or the desk's record that the ticket was taken back from its agent ("returned"); users never
    see any of them."""

    note_id: int
    ticket_id: int
    author: str
    kind: str
    text: str
    created_at: datetime
    target: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "note_id": self.note_id,
            "author": self.author,
            "kind": self.kind,
            "target": self.target,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class CannedReply:
    """A reply an agent inserts with ``/shortcut``: their own (``owner``) or a team's."""

    reply_id: int
    shortcut: str
    text: str
    owner: str | None
    team: Team | None
    revision: int
    updated_by: str
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "reply_id": self.reply_id,
            "shortcut": self.shortcut,
            "text": self.text,
            "scope": "personal" if self.owner else "team",
            "team": self.team.value if self.team else None,
            "revision": self.revision,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at.isoformat(),
        }
