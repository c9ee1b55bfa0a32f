"""Who a console request comes from, and whether their role may do what it asks.

Agents work their tickets and their teams' queue (``may_read``); supervisors also see every
ticket, the live view and the dashboard, review what the assistant missed, release models and edit
the help center; admins also manage the agents (``bot.handoff.records.Role``). A request
without a valid session gets 401, one from a role that may not do the task 403 saying who may.
"""

from __future__ import annotations

import asyncio

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.console_io import denied, session_agent
from bot.handoff.records import AgentProfile, Role, State, Ticket
from bot.handoff.store import HandoffStore
from bot.services import services_of

REVIEW_TASK = "reviews messages"


def may_read(viewer: AgentProfile, ticket: Ticket, held_before: bool) -> bool:
    """Whether ``viewer`` may open ``ticket``: supervisors any; an agent their own, one waiting
    in their teams' queue (to take it), and one they held before."""
    if viewer.role.supervises or ticket.agent == viewer.username or held_before:
        return True
    return ticket.state is State.QUEUED and ticket.team in viewer.teams


class RoleCheck:
    """Checks console requests on the server's handoff store, or on the one given."""

    def __init__(self, handoff: HandoffStore | None = None) -> None:
        self._handoff = handoff

    def store(self, request: Request) -> HandoffStore:
        return self._handoff or services_of(request.app).handoff

    async def agent(self, request: Request) -> str | None:
        """The agent whose valid session token the request carries."""
        return await session_agent(request, self.store(request).agents)

    async def profile(self, request: Request) -> AgentProfile | HTTPResponse:
        """The requesting agent's profile, or 401."""
        username = await self.agent(request)
        found = (
            await asyncio.to_thread(self.store(request).roster.profile, username)
            if username
            else None
        )
        return found if found is not None else denied()

    async def supervisor(self, request: Request, task: str = REVIEW_TASK) -> str | HTTPResponse:
        """The supervisor or admin whose session the request carries, or the refusal (403 says
        only a supervisor does ``task``)."""
        return await self._with_role(request, {Role.SUPERVISOR, Role.ADMIN}, "supervisor", task)

    async def admin(self, request: Request, task: str) -> str | HTTPResponse:
        return await self._with_role(request, {Role.ADMIN}, "admin", task)

    async def refused(self, request: Request, task: str = REVIEW_TASK) -> HTTPResponse | None:
        """None for a supervisor's (or admin's) request, else the refusal (401 or 403)."""
        found = await self.supervisor(request, task)
        return None if isinstance(found, str) else found

    async def _with_role(
        self, request: Request, roles: set[Role], who: str, task: str
    ) -> str | HTTPResponse:
        username = await self.agent(request)
        if username is None:
            return denied()
        role = await asyncio.to_thread(self.store(request).agents.role, username)
        if role not in roles:
            return response.json({"error": f"only a {who} {task}"}, status=403)
        return username
