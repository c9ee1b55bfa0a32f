"""Every server switches to the live model with Rasa's own model-server mechanism, served from
the handoff database by the server itself.

    GET /webhooks/agent/model    the live model: 200 with its bytes and ``ETag: <sha256>``,
                                 304 when ``If-None-Match`` names it, 204 when none is live;
                                 404 without this process's ``X-Model-Token``

Rasa pulls a model from a "model server" (rasa/core/agent.py): ``_pull_model_and_fingerprint``
sends the agent's fingerprint in ``If-None-Match``, takes 204 or 304 as "nothing new", and on
200 saves the body and loads it (``_load_and_set_updated_model``) with the ``ETag`` as the new
fingerprint; the conversations go on with the trackers in the tracker store. Here the ETag is
the sha256 of the model's bytes, so a fingerprint names a model wherever it runs.

Rasa's ``models:`` endpoint in endpoints.yml is not used: with it a server loads its first model
over HTTP before it listens, so a server that serves its own model would wait for itself.
Instead each server starts from its model file (``--model``, as before), and once it listens
(``start_model_pulling``, an ``after_server_start`` listener) it pulls with Rasa's functions from
its own route, which serves the live version of the shared handoff database
(``bot.improvement.models``). Every server reads the same database, so all of them converge on
its live version within MODEL_PULL_SECONDS (default 10; 0 turns pulling off), without a restart
and without a home-made sync. The route answers only this process's pulls: they carry a random
token made at start, and anything else gets the 404 of a route that does not exist.

Until a first candidate is stored nothing is live and the route answers 204: the servers keep
their files (the training worker then stores the model in service as the first version, so the
first approval can be rolled back; a server never reads a model into its own memory for it).
A server starting from its file takes the file's sha256 as its fingerprint, so it does not load
again a live model it already runs. It reports what it runs, at start and after each pull that
loaded a model: in the database (``ServerModels.report_loaded``, for the console's list of
servers) and on ``/metrics`` as ``im_model_info{digest="<first 12 hex>"} 1`` (``MODEL_INFO``).

The pull runs in Rasa's scheduler (``rasa.core.jobs``) under the job id Rasa's own pulling uses,
as Rasa's ``_schedule_model_pulling`` schedules it, but around Rasa's
``_run_model_pulling_worker`` so that it can report a load, and on the server's current agent
(Rasa's HTTP API can replace it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

from rasa.core import jobs
from rasa.core.agent import Agent, _run_model_pulling_worker
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic, response
from sanic.exceptions import NotFound
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.improvement.store import ReviewStore
from bot.services import services_of

logger = logging.getLogger(__name__)

ROUTE = "/webhooks/agent/model"
TOKEN_HEADER = "X-Model-Token"
FILENAME = "model.tar.gz"  # the name Rasa saves the body under (its "filename" header)
PULL_JOB = "pull-model-from-server"  # Rasa's own job id: one pulling per server
SHORT_DIGEST = 12


class ModelGauge:
    """``im_model_info{digest}``: the model this server runs, by the start of its sha256."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._digest: str | None = None

    def set(self, digest: str) -> None:
        """The server runs ``digest`` now (the label of the model before it disappears)."""
        with self._lock:
            self._digest = digest[:SHORT_DIGEST]

    @property
    def digest(self) -> str | None:
        with self._lock:
            return self._digest

    def render(self) -> str:
        """The gauge in Prometheus' text format; nothing before a model is known."""
        digest = self.digest
        if digest is None:
            return ""
        return (
            "# HELP im_model_info The model this server runs (the start of its sha256).\n"
            "# TYPE im_model_info gauge\n"
            f'im_model_info{{digest="{digest}"}} 1\n'
        )


MODEL_INFO = ModelGauge()


def _review(app: Sanic) -> ReviewStore:
    """The server's review store (its services'); call it off the event loop: the first call
    may open the database."""
    return services_of(app).review


async def model(request: Request) -> HTTPResponse:
    """``GET /webhooks/agent/model``: the live model for this process's own pulls."""
    token: str | None = getattr(request.app.ctx, "model_token", None)
    given = request.headers.get(TOKEN_HEADER)
    if token is None or given is None or not hmac.compare_digest(given.encode(), token.encode()):
        raise NotFound(f"Requested URL {request.path} not found")
    store = await asyncio.to_thread(_review, request.app)
    live = await asyncio.to_thread(store.models.live)
    if live is None:
        return response.empty(status=204)
    if _tag(request.headers.get("If-None-Match", "")) == live.digest:
        return response.empty(status=304, headers={"ETag": live.digest})
    data = await asyncio.to_thread(store.models.data_of, live.version_id)
    return response.raw(
        data,
        headers={"ETag": live.digest, "filename": FILENAME},
        content_type="application/gzip",
    )


async def start_model_pulling(app: Sanic, _: Any = None) -> None:
    """The ``after_server_start`` listener: reports the model the server started with, then
    pulls the live one at once and every MODEL_PULL_SECONDS. A failure leaves the server with
    its model."""
    try:
        await _start(app)
    except Exception:
        logger.exception("could not start pulling the live model; this server keeps its model")


async def stop_model_pulling(app: Sanic, _: Any = None) -> None:
    """A ``before_server_stop`` listener: no more pulls (Rasa's ``close_resources`` stops its
    scheduler later on)."""
    app.ctx.model_token = None
    if not getattr(app.ctx, "model_pulling", False):
        return  # it never scheduled a pull: no scheduler of Rasa's to ask (or to create)
    app.ctx.model_pulling = False
    scheduler = await jobs.scheduler()
    if scheduler.get_job(PULL_JOB) is not None:
        scheduler.remove_job(PULL_JOB)


async def pull_live_model(app: Sanic, endpoint: EndpointConfig, server_id: str) -> None:
    """One pull with Rasa's own worker into the server's agent; reports a model it loaded."""
    agent: Agent | None = getattr(app.ctx, "agent", None)
    if agent is None:
        return
    before = agent.fingerprint
    await _run_model_pulling_worker(endpoint, agent)
    if agent.fingerprint != before and agent.is_ready():
        logger.info("server %s switched to model %s", server_id, agent.fingerprint)
        await _report(app, server_id, agent.fingerprint)


def server_id_of(app: Sanic) -> str:
    """``host:port`` naming this server in the console (the host name, the port it listens on)."""
    address = listening_address(app)
    host = socket.gethostname()
    return host if address is None else f"{host}:{address[1]}"


def listening_address(app: Sanic) -> tuple[str, int] | None:
    """The address and port the server listens on; None when it listens on none (ASGI)."""
    state = app.state
    if state.sock is not None:
        name = state.sock.getsockname()
        if not isinstance(name, tuple):  # a Unix socket
            return None
        host, port = str(name[0]), int(name[1])
    else:
        host, port = state.host or "", int(state.port or 0)
    return (host, port) if port else None


def pull_url(host: str, port: int) -> str:
    """This server's model route, reached on loopback when it listens on every interface."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{ROUTE}"


def file_digest(path: Path) -> str:
    """The sha256 of a model file, hex (as ``bot.improvement.models.digest_of``)."""
    sha = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _tag(value: str) -> str:
    """An ETag as sent back in If-None-Match, without the weak mark and quotes."""
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


async def _start(app: Sanic) -> None:
    seconds = services_of(app).settings.model_pull_seconds
    server_id = server_id_of(app)
    try:
        await _report_start(app, server_id)
    except OSError:
        logger.exception("could not read the model file server %s started with", server_id)
    if seconds == 0:
        logger.info("model pulling is off (MODEL_PULL_SECONDS=0)")
        return
    address = listening_address(app)
    if address is None:
        logger.warning("model pulling is off: the server listens on no TCP port")
        return
    if app.state.ssl is not None:
        # Its certificate is not for the loopback address this server would pull from.
        logger.warning("model pulling is off: the server speaks TLS (terminate it at a proxy)")
        return
    token = secrets.token_urlsafe(32)
    app.ctx.model_token = token
    endpoint = EndpointConfig(url=pull_url(*address), headers={TOKEN_HEADER: token})
    await pull_live_model(app, endpoint, server_id)
    scheduler = await jobs.scheduler()
    scheduler.add_job(
        pull_live_model,
        "interval",
        seconds=seconds,
        args=[app, endpoint, server_id],
        id=PULL_JOB,
        replace_existing=True,
    )
    app.ctx.model_pulling = True
    logger.info("server %s pulls the live model every %s s", server_id, seconds)


async def _report_start(app: Sanic, server_id: str) -> None:
    """Reports the model file the server started with; its digest becomes the fingerprint."""
    agent: Agent | None = getattr(app.ctx, "agent", None)
    if agent is None or agent.processor is None:
        return
    path = Path(agent.processor.model_path)
    if path.is_dir():
        path = path / agent.processor.model_filename
    digest = await asyncio.to_thread(file_digest, path)
    # Rasa's pull sends the fingerprint in If-None-Match: the live model's digest gets 304.
    agent.fingerprint = digest
    await _report(app, server_id, digest)


async def _report(app: Sanic, server_id: str, digest: str) -> None:
    MODEL_INFO.set(digest)
    try:
        store = await asyncio.to_thread(_review, app)
        await asyncio.to_thread(store.servers.report_loaded, server_id, digest)
    except Exception:
        logger.exception("could not record that server %s runs model %s", server_id, digest)
