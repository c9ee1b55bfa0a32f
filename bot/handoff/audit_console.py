"""The audit log and alerts in the console.

    GET /webhooks/agent/api/audit?limit=&offset=&actor=   entries, newest first (admins)
    GET /webhooks/agent/api/audit.csv?actor=              every entry as CSV (admins)
    GET /webhooks/agent/api/alerts                        the newest alerts (supervisors, admins)

There is no route that changes or removes an entry (``bot.handoff.audit``).
"""

from __future__ import annotations

import asyncio

from sanic import response
from sanic.models.handler_types import RouteHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.access import RoleCheck
from bot.handoff.audit import as_csv
from bot.handoff.console_io import bad_request, number

PAGE, MAX_PAGE = 100, 1000
READ_TASK = "reads the audit log"


class AuditHandlers:
    def __init__(self, roles: RoleCheck) -> None:
        self._roles = roles

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        return [
            ("GET", "/api/audit", self.entries),
            ("GET", "/api/audit.csv", self.export),
            ("GET", "/api/alerts", self.alerts),
        ]

    async def entries(self, request: Request) -> HTTPResponse:
        admin = await self._roles.admin(request, READ_TASK)
        if not isinstance(admin, str):
            return admin
        limit = number(request, "limit", PAGE, 1, MAX_PAGE)
        offset = number(request, "offset", 0, 0, 2**62)
        if limit is None or offset is None:
            return bad_request(f"limit must be 1-{MAX_PAGE} and offset 0 or more")
        audit = self._roles.store(request).audit
        actor = request.args.get("actor") or None
        found = await asyncio.to_thread(audit.entries, limit, offset, actor)
        total = await asyncio.to_thread(audit.count, actor)
        return response.json({"entries": [e.as_dict() for e in found], "total": total})

    async def export(self, request: Request) -> HTTPResponse:
        admin = await self._roles.admin(request, READ_TASK)
        if not isinstance(admin, str):
            return admin
        audit = self._roles.store(request).audit
        found = await asyncio.to_thread(audit.entries, None, 0, request.args.get("actor") or None)
        return response.text(
            as_csv(found),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
        )

    async def alerts(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request, "reads the alerts")
        if refused is not None:
            return refused
        found = await asyncio.to_thread(self._roles.store(request).audit.alerts)
        return response.json({"alerts": [alert.as_dict() for alert in found]})
