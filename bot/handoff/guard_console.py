"""Supervisors' approvals of what the outbound guard blocked (``bot.handoff.guard``).

    POST /webhooks/agent/api/tickets/<id>/guard/approve    {value}: {approval}
    GET  /webhooks/agent/api/tickets/<id>/guard/approvals  {approvals}

An agent whose reply carried an address, link or contact nobody in the conversation used is
stopped; a supervisor who checked it approves the value for that ticket, and the agent's next
reply with it passes. Only supervisors and admins approve and list (403 for agents, 401 without
a session); 404 for no such ticket. The value must name an address, link or contact (400
otherwise, or when it holds a secret). The approval is written to the audit log
(``GUARD_APPROVAL``) before it is stored: when the write fails the answer is 503 and nothing is
approved.
"""

from __future__ import annotations

import asyncio
import logging

from sanic import response
from sanic.models.handler_types import RouteHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.access import RoleCheck
from bot.handoff.audit import GUARD_APPROVAL, AuditError
from bot.handoff.console_io import bad_request, body
from bot.handoff.guard import MAX_APPROVAL, GuardApprovals
from bot.handoff.records import Ticket
from bot.handoff.references import references

logger = logging.getLogger(__name__)

MAX_ID = 2**63
APPROVE_TASK = "approves what the outbound guard blocked"
LIST_TASK = "reads the outbound guard's approvals"


class GuardHandlers:
    def __init__(self, roles: RoleCheck) -> None:
        self._roles = roles

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        return [
            ("POST", "/api/tickets/<ticket_id:int>/guard/approve", self.approve),
            ("GET", "/api/tickets/<ticket_id:int>/guard/approvals", self.approvals),
        ]

    async def approve(self, request: Request, ticket_id: int) -> HTTPResponse:
        """Lets the value through on the ticket, once the approval is in the audit log."""
        supervisor = await self._roles.supervisor(request, APPROVE_TASK)
        if not isinstance(supervisor, str):
            return supervisor
        if await self._ticket(request, ticket_id) is None:
            return response.json({"error": "no such ticket"}, status=404)
        value = _value((body(request) or {}).get("value"))
        if isinstance(value, HTTPResponse):
            return value
        store = self._roles.store(request)
        try:
            await asyncio.to_thread(
                store.audit.record,
                supervisor,
                GUARD_APPROVAL,
                f"ticket:{ticket_id}",
                f"value={value}",
            )
        except AuditError:
            logger.error("guard approval on ticket %s refused: the audit log failed", ticket_id)
            return response.json(
                {"error": "the audit log is unavailable: nothing is approved unrecorded"},
                status=503,
            )
        approvals = GuardApprovals(store.engine)
        approval = await asyncio.to_thread(approvals.approve, ticket_id, value, supervisor)
        logger.info("guard approval on ticket %s by %s", ticket_id, supervisor)
        return response.json({"approval": approval.as_dict()})

    async def approvals(self, request: Request, ticket_id: int) -> HTTPResponse:
        refused = await self._roles.refused(request, LIST_TASK)
        if refused is not None:
            return refused
        if await self._ticket(request, ticket_id) is None:
            return response.json({"error": "no such ticket"}, status=404)
        approvals = GuardApprovals(self._roles.store(request).engine)
        found = await asyncio.to_thread(approvals.approvals, ticket_id)
        return response.json({"approvals": [approval.as_dict() for approval in found]})

    async def _ticket(self, request: Request, ticket_id: int) -> Ticket | None:
        if ticket_id >= MAX_ID:
            return None
        return await asyncio.to_thread(self._roles.store(request).tickets.get, ticket_id)


def _value(raw: object) -> str | HTTPResponse:
    """The value to approve, trimmed, or the 400 answer."""
    if not isinstance(raw, str) or not 0 < len(raw.strip()) <= MAX_APPROVAL:
        return bad_request(f"value must be an address or link of 1-{MAX_APPROVAL} characters")
    value = raw.strip()
    if not references(value):
        return bad_request("value must be a wallet address, a link, a domain or a contact")
    # Imported here: the detector loads jieba and the word lists when first used.
    from bot.secret_guard import find_secrets

    if find_secrets(value):
        return bad_request("value holds a secret: a secret is never approved")
    return value
