"""The account panel of a ticket (issue 19; being built)."""

from __future__ import annotations

from sanic.models.handler_types import RouteHandler

from bot.handoff.access import RoleCheck


class PanelHandlers:
    def __init__(self, roles: RoleCheck) -> None:
        self._roles = roles

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        return []
