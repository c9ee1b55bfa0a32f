"""The agent-outbound guard: stops an agent's reply that asks for a secret, carries one, or
carries an address or URL nobody in the conversation used (issue 19; being built)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sanic import Sanic

from bot.handoff.records import Ticket


@dataclass(frozen=True)
class Blocked:
    """Why a reply was stopped: ``kind`` (secret_request, secret, unknown_address, unknown_url)
    and the value concerned (masked for a secret)."""

    kind: str
    value: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}


class OutboundGuard:
    def __init__(self, app: Sanic) -> None:
        self._app = app

    async def review(
        self, ticket: Ticket, agent: str, text: str, transcript: list[dict[str, Any]]
    ) -> list[Blocked]:
        """What stops ``agent``'s reply ``text`` on ``ticket``: nothing, or the reasons (each
        block logged in the audit log and alerted to supervisors)."""
        return []
