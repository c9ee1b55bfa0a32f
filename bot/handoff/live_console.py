"""The supervisors' live view of every open conversation (issue 19; being built)."""

from __future__ import annotations

from sanic.models.handler_types import RouteHandler

from bot.handoff.access import RoleCheck
from bot.handoff.dispatch import Dispatcher


class LiveHandlers:
    def __init__(self, roles: RoleCheck, dispatcher: Dispatcher) -> None:
        self._roles = roles
        self._dispatcher = dispatcher

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        return []
