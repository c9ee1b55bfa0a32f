"""Admins manage the desk's agents in the console (``make agent`` makes the first admin).

    GET  /webhooks/agent/admin                              the page
    GET  /webhooks/agent/api/admin/agents                   every agent, with presence and load
    POST /webhooks/agent/api/admin/agents                   {username, display_name, password,
                                                             role, teams, capacity}: a new agent
    POST /webhooks/agent/api/admin/agents/<name>            {display_name?, role?, teams?,
                                                             capacity?}
    POST /webhooks/agent/api/admin/agents/<name>/password   {password}: reset (enables again)
    POST /webhooks/agent/api/admin/agents/<name>/disable

A disabled agent's sessions end at once and their tickets go back to the queue, where automatic
assignment gives them to someone else. Admins cannot disable themselves or drop their own admin
role, so the desk always keeps one. Passwords are hashed by the directory, never stored or
logged as typed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sanic import response
from sanic.models.handler_types import RouteHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.access import RoleCheck
from bot.handoff.agents import MIN_PASSWORD
from bot.handoff.audit import AGENT_CHANGE
from bot.handoff.console_io import bad_request, body
from bot.handoff.directory import DEFAULT_CAPACITY, MAX_CAPACITY
from bot.handoff.dispatch import Dispatcher
from bot.handoff.records import Role, Team

PAGE = Path(__file__).resolve().parent / "static" / "agent_admin.html"
TASK = "manages agents"
MAX_NAME = 64
PASSWORD_RULE = f"password must be at least {MIN_PASSWORD} characters"
_ROLES = {role.value for role in Role}
_TEAMS = {team.value for team in Team}


class AdminHandlers:
    def __init__(self, roles: RoleCheck, dispatcher: Dispatcher) -> None:
        self._roles = roles
        self._dispatcher = dispatcher

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        return [
            ("GET", "/admin", self.page),
            ("GET", "/api/admin/agents", self.agents),
            ("POST", "/api/admin/agents", self.create),
            ("POST", "/api/admin/agents/<username>", self.update),
            ("POST", "/api/admin/agents/<username>/password", self.password),
            ("POST", "/api/admin/agents/<username>/disable", self.disable),
        ]

    async def page(self, _: Request) -> HTTPResponse:
        return response.html(PAGE.read_text(encoding="utf-8"))

    async def agents(self, request: Request) -> HTTPResponse:
        admin = await self._roles.admin(request, TASK)
        if not isinstance(admin, str):
            return admin
        profiles = await asyncio.to_thread(self._roles.store(request).roster.profiles)
        return response.json({"agents": [p.as_dict() for p in profiles]})

    async def create(self, request: Request) -> HTTPResponse:
        admin = await self._roles.admin(request, TASK)
        if not isinstance(admin, str):
            return admin
        data = body(request) or {}
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not 1 <= len(username) <= MAX_NAME:
            return bad_request(f"username must be 1-{MAX_NAME} characters")
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            return bad_request(PASSWORD_RULE)
        refused = _fields_refused(data)
        if refused:
            return bad_request(refused)
        directory = self._roles.store(request).agents
        if await asyncio.to_thread(directory.role, username) is not None:
            return response.json({"error": "that username is taken"}, status=409)
        await asyncio.to_thread(
            directory.add,
            username,
            data.get("display_name") or username,
            password,
            Role(data.get("role") or Role.AGENT.value),
            _teams(data.get("teams")) or (Team.GENERAL,),
            data.get("capacity") or DEFAULT_CAPACITY,
        )
        detail = f"created: role {data.get('role') or Role.AGENT.value}, teams {data.get('teams')}"
        await self._audit(request, admin, username, detail)
        return await self._profile(request, username)

    async def update(self, request: Request, username: str) -> HTTPResponse:
        admin = await self._roles.admin(request, TASK)
        if not isinstance(admin, str):
            return admin
        data = body(request) or {}
        refused = _fields_refused(data)
        if refused:
            return bad_request(refused)
        role = Role(data["role"]) if data.get("role") else None
        if username == admin and role not in (None, Role.ADMIN):
            return bad_request("admins cannot drop their own admin role")
        changed = await asyncio.to_thread(
            self._roles.store(request).agents.update,
            username,
            data.get("display_name") or None,
            role,
            _teams(data.get("teams")),
            data.get("capacity"),
        )
        if not changed:
            return response.json({"error": "no such agent"}, status=404)
        fields = ("display_name", "role", "teams", "capacity")
        changes = ", ".join(f"{key} {data[key]}" for key in fields if data.get(key) is not None)
        await self._audit(request, admin, username, f"changed: {changes}")
        self._dispatcher.wake()  # more capacity or another team may take queued tickets
        return await self._profile(request, username)

    async def password(self, request: Request, username: str) -> HTTPResponse:
        admin = await self._roles.admin(request, TASK)
        if not isinstance(admin, str):
            return admin
        password = (body(request) or {}).get("password")
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            return bad_request(PASSWORD_RULE)
        store = self._roles.store(request)
        profile = await asyncio.to_thread(store.roster.profile, username)
        if profile is None:
            return response.json({"error": "no such agent"}, status=404)
        await asyncio.to_thread(
            store.agents.add,
            username,
            profile.display_name,
            password,
            profile.role,
            profile.teams,
            profile.capacity,
        )
        await self._audit(request, admin, username, "password reset")
        return await self._profile(request, username)

    async def disable(self, request: Request, username: str) -> HTTPResponse:
        admin = await self._roles.admin(request, TASK)
        if not isinstance(admin, str):
            return admin
        if username == admin:
            return bad_request("admins cannot disable themselves")
        store = self._roles.store(request)
        if not await asyncio.to_thread(store.agents.disable, username):
            return response.json({"error": "no such agent"}, status=404)
        await self._audit(request, admin, username, "disabled")
        released = await asyncio.to_thread(store.tickets.release, username)
        self._dispatcher.wake()
        return await self._profile(request, username, released=[t.ticket_id for t in released])

    async def _audit(self, request: Request, admin: str, username: str, detail: str) -> None:
        store = self._roles.store(request)
        await asyncio.to_thread(
            store.audit.record, admin, AGENT_CHANGE, f"agent:{username}", detail
        )

    async def _profile(self, request: Request, username: str, **extra: Any) -> HTTPResponse:
        profile = await asyncio.to_thread(self._roles.store(request).roster.profile, username)
        if profile is None:
            return response.json({"error": "no such agent"}, status=404)
        return response.json({"agent": profile.as_dict(), **extra})


def _fields_refused(data: dict[str, Any]) -> str | None:
    """Why the optional fields of an agent are unusable, or None."""
    name, role, teams, capacity = (
        data.get(k) for k in ("display_name", "role", "teams", "capacity")
    )
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
        return f"display_name must be text of at most {MAX_NAME} characters"
    if role is not None and role not in _ROLES:
        return "role must be agent, supervisor or admin"
    if teams is not None and (
        not isinstance(teams, list) or not teams or any(team not in _TEAMS for team in teams)
    ):
        return "teams must be a list of general and/or security"
    if capacity is not None and (
        not isinstance(capacity, int)
        or isinstance(capacity, bool)
        or not 1 <= capacity <= MAX_CAPACITY
    ):
        return f"capacity must be 1-{MAX_CAPACITY}"
    return None


def _teams(teams: Any) -> tuple[Team, ...] | None:
    return tuple(Team(team) for team in teams) if teams else None
