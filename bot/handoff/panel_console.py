"""The account panel of a ticket in the console (``bot.handoff.panel``).

    GET  /webhooks/agent/api/tickets/<id>/account          {panel}: masked
    POST /webhooks/agent/api/tickets/<id>/account/reveal   {field, ref?, reason}:
                                                           {field, ref, value, explorer_link}

The ticket's agent sees the panel while the ticket is assigned to them; supervisors and admins
see any ticket's; everyone else gets 403 (an agent who held the ticket before or sees it queued
included). 404 for no such ticket, 409 when the ticket's user was not identified (or the wallet
knows no such account). Nothing is shown unrecorded: a view is written to the audit log
(``PANEL_VIEW``, the masked account) before the panel is answered, a reveal (``PANEL_REVEAL``,
field, ref and reason) before its value, and when the write fails the answer is 503 with
nothing shown. A reveal without a reason (``MIN_REASON`` characters) is 400. The wallet port is
read off the event loop; when it fails the answer is 503. Answers are not cached.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from sanic import response
from sanic.models.handler_types import RouteHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.access import RoleCheck
from bot.handoff.audit import PANEL_REVEAL, PANEL_VIEW, AuditError
from bot.handoff.console_io import bad_request, body
from bot.handoff.panel import (
    FIELDS,
    TRANSFER_FIELDS,
    AccountPanel,
    PanelError,
    checked_reason,
    read_panel,
)
from bot.handoff.records import AgentProfile, State, Ticket
from bot.services import services_of
from bot.wallet.errors import AccountNotFound, WalletError

logger = logging.getLogger(__name__)

MAX_ID = 2**63
MAX_REF = 64
NO_STORE = {"Cache-Control": "no-store"}


def may_view(viewer: AgentProfile, ticket: Ticket) -> bool:
    """Whether ``viewer`` sees ``ticket``'s account panel: supervisors (and admins) any; an
    agent only while the ticket is assigned to them."""
    if viewer.role.supervises:
        return True
    return ticket.agent == viewer.username and ticket.state is State.ASSIGNED


class PanelHandlers:
    def __init__(self, roles: RoleCheck) -> None:
        self._roles = roles

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        return [
            ("GET", "/api/tickets/<ticket_id:int>/account", self.view),
            ("POST", "/api/tickets/<ticket_id:int>/account/reveal", self.reveal),
        ]

    async def view(self, request: Request, ticket_id: int) -> HTTPResponse:
        """The ticket's panel, masked, once its view is in the audit log."""
        allowed = await self._allowed(request, ticket_id)
        if isinstance(allowed, HTTPResponse):
            return allowed
        viewer, ticket = allowed
        panel = await self._panel(request, ticket)
        if isinstance(panel, HTTPResponse):
            return panel
        refused = await self._record(request, viewer, PANEL_VIEW, ticket_id, panel.masked_account)
        if refused is not None:
            return refused
        return response.json({"panel": panel.as_dict()}, headers=NO_STORE)

    async def reveal(self, request: Request, ticket_id: int) -> HTTPResponse:
        """One masked value whole, once the reveal and its reason are in the audit log."""
        allowed = await self._allowed(request, ticket_id)
        if isinstance(allowed, HTTPResponse):
            return allowed
        viewer, ticket = allowed
        asked = _asked(body(request))
        if isinstance(asked, HTTPResponse):
            return asked
        field, ref, reason = asked
        panel = await self._panel(request, ticket)
        if isinstance(panel, HTTPResponse):
            return panel
        try:
            revealed = panel.reveal(field, ref)
        except PanelError as error:
            return bad_request(str(error))
        detail = (
            f"field={field} ref={revealed.ref or '-'} account={panel.masked_account} "
            f"reason={reason}"
        )
        refused = await self._record(request, viewer, PANEL_REVEAL, ticket_id, detail)
        if refused is not None:
            return refused
        return response.json(revealed.as_dict(), headers=NO_STORE)

    async def _allowed(
        self, request: Request, ticket_id: int
    ) -> tuple[AgentProfile, Ticket] | HTTPResponse:
        """The viewer and the ticket whose panel they may see, or the refusal."""
        viewer = await self._roles.profile(request)
        if isinstance(viewer, HTTPResponse):
            return viewer
        store = self._roles.store(request)
        ticket = (
            await asyncio.to_thread(store.tickets.get, ticket_id) if ticket_id < MAX_ID else None
        )
        if ticket is None:
            return response.json({"error": "no such ticket"}, status=404)
        if not may_view(viewer, ticket):
            return response.json(
                {"error": "only the ticket's agent or a supervisor sees the account"},
                status=403,
            )
        if not ticket.account_id:
            return response.json(
                {"error": "the ticket's user is not identified: there is no account to show"},
                status=409,
            )
        return viewer, ticket

    async def _panel(self, request: Request, ticket: Ticket) -> AccountPanel | HTTPResponse:
        """The ticket's panel read from the wallet port, or the answer saying it could not be."""
        wallet = services_of(request.app).wallet
        now = datetime.now(timezone.utc)
        try:
            return await asyncio.to_thread(read_panel, wallet, ticket, now)
        except AccountNotFound:
            logger.warning("ticket %s names an account the wallet does not know", ticket.ticket_id)
            return response.json(
                {"error": "the wallet has no such account: there is no account to show"},
                status=409,
            )
        except WalletError as error:
            logger.warning(
                "account panel of ticket %s unavailable: %s", ticket.ticket_id, type(error).__name__
            )
            return response.json(
                {"error": "the wallet backend is unavailable: try again shortly"}, status=503
            )

    async def _record(
        self, request: Request, viewer: AgentProfile, action: str, ticket_id: int, detail: str
    ) -> HTTPResponse | None:
        """None once the audit log holds the entry; the 503 answer when it could not."""
        audit = self._roles.store(request).audit
        try:
            await asyncio.to_thread(
                audit.record, viewer.username, action, f"ticket:{ticket_id}", detail
            )
        except AuditError:
            logger.error(
                "%s of ticket %s by %s refused: the audit log failed",
                action,
                ticket_id,
                viewer.username,
            )
            return response.json(
                {"error": "the audit log is unavailable: nothing is shown unrecorded"},
                status=503,
            )
        logger.info("%s of ticket %s by %s", action, ticket_id, viewer.username)
        return None


def _asked(data: dict[str, Any] | None) -> tuple[str, str | None, str] | HTTPResponse:
    """A reveal's field, transfer ref and reason, or the 400 answer."""
    if data is None:
        return bad_request("send a JSON object: {field, ref?, reason}")
    field, ref = data.get("field"), data.get("ref")
    if field not in FIELDS:
        return bad_request(f"field must be one of {', '.join(FIELDS)}")
    if field in TRANSFER_FIELDS and not (isinstance(ref, str) and 0 < len(ref) <= MAX_REF):
        return bad_request(f"{field} needs the ref of a transfer of the panel")
    try:
        reason = checked_reason(data.get("reason"))
    except PanelError as error:
        return bad_request(str(error))
    return str(field), ref if field in TRANSFER_FIELDS else None, reason
