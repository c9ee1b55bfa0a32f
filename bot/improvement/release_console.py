"""The lead's training, gate and release of a better model, in the agent console.

    POST /webhooks/agent/api/review/training                  train a candidate from the labels
    GET  /webhooks/agent/api/review/training                  the latest run: stage, %, time left
    GET  /webhooks/agent/api/review/models                    live, versions (with the gate's
                                                              verdict) and every server's model
    POST /webhooks/agent/api/review/models/<id>/approve       a passed candidate goes live
    POST /webhooks/agent/api/review/models/rollback           the previous model goes live again
    GET  /webhooks/agent/model                                the live model, for the servers'
                                                              own pulling (bot.improvement.pulling)

All but the last are the ``lead`` role's. A run trains in a worker process of its own
(``bot.improvement.training``), one at a time across servers, so serving is never blocked; the
worker scores the candidate with the gate (``bot.improvement.gate``) and stores it with the
verdict (``bot.improvement.models``). An approved version reaches every server within
``MODEL_PULL_SECONDS``; the previous one stays for the rollback.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sanic import response
from sanic.models.handler_types import RouteHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.access import RoleCheck
from bot.improvement.launcher import launch
from bot.improvement.models import ModelError, ModelStore, ModelVersion
from bot.improvement.pulling import model
from bot.improvement.training import TrainingBusy, TrainingRuns
from bot.services import services_of

MAX_ID = 2**63


class ReleaseHandlers:
    """Training, approval, rollback and the model route, on the server's services."""

    def __init__(self, roles: RoleCheck) -> None:
        self._roles = roles

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        return [
            ("POST", "/api/review/training", self.train),
            ("GET", "/api/review/training", self.training),
            ("GET", "/api/review/models", self.models),
            ("POST", "/api/review/models/<version_id:int>/approve", self.approve),
            ("POST", "/api/review/models/rollback", self.rollback),
            ("GET", "/model", model),
        ]

    async def train(self, request: Request) -> HTTPResponse:
        lead = await self._roles.supervisor(request)
        if not isinstance(lead, str):
            return lead
        runs = _runs(request)
        try:
            run = await asyncio.to_thread(runs.start, lead)
        except TrainingBusy as busy:
            return response.json({"error": str(busy)}, status=409)
        await launch(run, _handoff_url(request), runs)
        return response.json({"run": run.as_dict()}, status=202)

    async def training(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request)
        if refused is not None:
            return refused
        runs = _runs(request)
        await asyncio.to_thread(runs.fail_stale)
        run = await asyncio.to_thread(runs.latest)
        return response.json({"run": run.as_dict() if run else None})

    async def models(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request)
        if refused is not None:
            return refused
        review = services_of(request.app).review
        versions, servers = await asyncio.gather(
            asyncio.to_thread(review.models.versions), asyncio.to_thread(review.servers.loaded)
        )
        return response.json(
            {
                "versions": [_version_json(version) for version in versions],
                "servers": [
                    {
                        "server_id": server.server_id,
                        "digest": server.digest,
                        "loaded_at": server.loaded_at.isoformat(),
                    }
                    for server in servers
                ],
            }
        )

    async def approve(self, request: Request, version_id: int) -> HTTPResponse:
        lead = await self._roles.supervisor(request)
        if not isinstance(lead, str):
            return lead
        if version_id >= MAX_ID:
            return response.json({"error": "no such version"}, status=404)
        try:
            version = await asyncio.to_thread(_models(request).approve, version_id, lead)
        except ModelError as error:
            return response.json({"error": str(error)}, status=409)
        return response.json({"version": _version_json(version)})

    async def rollback(self, request: Request) -> HTTPResponse:
        lead = await self._roles.supervisor(request)
        if not isinstance(lead, str):
            return lead
        try:
            version = await asyncio.to_thread(_models(request).rollback, lead)
        except ModelError as error:
            return response.json({"error": str(error)}, status=409)
        return response.json({"version": _version_json(version)})


def _handoff_url(request: Request) -> str:
    return services_of(request.app).settings.stores.handoff


def _runs(request: Request) -> TrainingRuns:
    return services_of(request.app).review.training


def _models(request: Request) -> ModelStore:
    return services_of(request.app).review.models


def _version_json(version: ModelVersion) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "version_id": version.version_id,
        "digest": version.digest,
        "state": version.state.value,
        "created_at": iso(version.created_at),
        "created_by": version.created_by,
        "run_id": version.run_id,
        "verdict": version.verdict,
        "approved_by": version.approved_by,
        "approved_at": iso(version.approved_at),
    }
