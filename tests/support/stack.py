"""The assistant the tests talk to: ``running_stack()`` starts one, served or in process.

A stack is a ``LocalStack`` (scripts/local_stack.py): its stores in a work directory, an action
server, and a Rasa server with the repository's credentials.yml and endpoints.yml, configured by
environment variables alone. Served, Rasa runs as ``rasa run`` in a process of its own, for what
needs a real server: socket.io, browsers, restarts, logs and databases read on disk. In process,
the Rasa server is built in this process, as ``rasa run`` builds it, and answers through its ASGI
interface (``Http``), as Rasa's own tests serve their HTTP tests; its log goes to the work
directory's rasa.log all the same.

Rasa and the channels Rasa builds read their settings from the environment (endpoints.yml,
credentials.yml, ``Settings.from_env``), so only one in-process server runs at a time, with the
environment of its stack until it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import httpx2
import jwt
from rasa.core.run import (
    close_resources,
    configure_app,
    create_http_input_channels,
    load_agent_on_start,
)
from rasa.core.utils import read_endpoints_from_path
from rasa.utils.log_utils import configure_structlog
from sanic import Sanic

from bot.handoff.records import State, Ticket
from bot.handoff.store import HandoffStore
from bot.handoff.tables import sessions
from scripts.local_stack import BOOTS, MODEL, ROOT, LocalStack
from tests.support.http import AGENT, CONSOLE_API, Answer, Http, Login
from tests.support.loop import LoopThread

ALWAYS_OPEN = "00:00-23:59:59"  # agents on duty, so handoffs queue instead of waiting for morning
# Rate limits that never matter: the stack serves many tests' users (a test of the limits
# starts a stack with its own).
UNLIMITED = {"RATE_LIMIT_BURST": "1000000", "RATE_LIMIT_PER_MINUTE": "1000000"}
API_JWT_SECRET = "test-rasa-api-jwt-secret-0123456789abcdef"
APP_ORIGIN = "https://app.example.com"
# The served stack the tests share (tests/conftest.py): agents on duty, no per-sender limit, and
# X-Forwarded-For trusted from loopback, so a test speaking for another client address is
# limited as that address while loopback itself stays exempt; the widget may be embedded in the
# app's origin. The fake platforms' settings are added to these.
SERVED = {
    "SUPPORT_HOURS": ALWAYS_OPEN,
    **UNLIMITED,
    "TRUSTED_PROXIES": "127.0.0.1/32",
    "WIDGET_ALLOWED_ORIGINS": APP_ORIGIN,
}
# The address an in-process server sees every request come from.
CLIENT = ("127.0.0.1", 40001)
LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s  - %(message)s"
CLIENT_LOGGERS = ("httpx2", "httpcore2")


def configure_rasa_logging() -> None:
    """Rasa's structured log events through the standard loggers, as `rasa run --debug` sets
    them up (unconfigured, they are all printed), but without its handler on stdout: the levels
    and handlers of the test process decide what is written where."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_structlog(logging.DEBUG)
    root.handlers[:] = handlers
    root.setLevel(level)


def rasa_jwt(role: str = "admin", secret: str = API_JWT_SECRET, expires_in: int = 600) -> str:
    """An HS256 JWT in the shape Rasa's HTTP API checks (``user.role``)."""
    claims = {"user": {"username": "ops", "role": role}, "exp": int(time.time()) + expires_in}
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass
class ServedStack(LocalStack):
    """A stack whose Rasa server runs in a process of its own."""

    @property
    def http(self) -> Http:
        return Http.to(self.base_url)


@dataclass
class InProcessStack(LocalStack):
    """A stack whose Rasa server runs in this process, reached through ASGI."""

    running: ClassVar[InProcessStack | None] = None
    _thread: LoopThread | None = None
    _lifespan: Lifespan | None = None
    _client: httpx2.AsyncClient | None = None
    _environ: dict[str, str] = field(default_factory=dict)
    _log: logging.Handler | None = None
    _root_level: int = logging.WARNING

    @property
    def http(self) -> Http:
        return Http(self)

    @property
    def base_url(self) -> str:
        raise AttributeError("an in-process server has no URL: use its .http")

    def start_rasa(self) -> None:
        if InProcessStack.running is not None:
            raise RuntimeError(f"an in-process server runs already for {self.running}")
        InProcessStack.running = self
        self._environ = dict(os.environ)
        os.environ.update(self.env())
        os.environ.pop("DEV_ACCOUNT_ID", None)
        self._capture_log()
        # Several apps of one name in a process (Sanic refuses that outside its test mode).
        Sanic.test_mode = True
        self._thread = LoopThread("in-process-rasa")
        try:
            self._thread.run(self._serve(), timeout=300)
        except BaseException:
            self.stop_rasa()
            raise
        # Again: a library loaded with the model (numpy.distutils) sets the root logger's level.
        logging.getLogger().setLevel(self._log_level)
        BOOTS["in-process"] += 1

    async def _serve(self) -> None:
        """Builds the server as `rasa run` does (rasa.core.run.serve_application) and starts it."""
        endpoints = read_endpoints_from_path(ROOT / "endpoints.yml")
        app = configure_app(
            create_http_input_channels(None, str(self.credentials)),
            enable_api=self.api_jwt_secret is not None,
            jwt_secret=self.api_jwt_secret,
            jwt_method="HS256",
            endpoints=endpoints,
        )
        app.register_listener(
            partial(load_agent_on_start, str(MODEL), endpoints, None), "before_server_start"
        )
        app.register_listener(close_resources, "after_server_stop")
        self._lifespan = Lifespan(app)
        await self._lifespan.start()
        self._client = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app, client=CLIENT),
            base_url=f"http://127.0.0.1:{self.rasa_port}",
        )

    def stop_rasa(self) -> None:
        if InProcessStack.running is not self:
            return
        try:
            if self._thread is not None:
                if self._lifespan is not None:
                    self._thread.run(self._lifespan.stop(), timeout=60)
                if self._client is not None:
                    self._thread.run(self._client.aclose(), timeout=10)
                self._thread.close()
        finally:
            self._thread = self._lifespan = self._client = None
            self._release_log()
            os.environ.clear()
            os.environ.update(self._environ)
            InProcessStack.running = None

    def send(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        timeout: float,
    ) -> Answer:
        """One request through the app's ASGI interface (``Http``'s transport)."""
        if self._thread is None or self._client is None:
            raise RuntimeError("the in-process server is not running")
        client = self._client
        sent = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]

        async def request() -> httpx2.Response:
            return await client.request(method, target, content=body, headers=sent)

        try:
            reply = self._thread.run(request(), timeout=timeout)
        except TimeoutError:
            raise TimeoutError(f"{method} {target} took over {timeout:.0f}s") from None
        return Answer(
            reply.status_code,
            {name.lower(): value for name, value in reply.headers.items()},
            reply.content,
        )

    def _capture_log(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = logging.FileHandler(self.workdir / "rasa.log", encoding="utf-8")
        self._log.setFormatter(logging.Formatter(LOG_FORMAT))
        # The server's log: not the lines of the tests' own HTTP client.
        self._log.addFilter(lambda record: not record.name.startswith(CLIENT_LOGGERS))
        root = logging.getLogger()
        self._root_level = root.level
        root.setLevel(self._log_level)
        root.addHandler(self._log)

    @property
    def _log_level(self) -> int:
        return logging.DEBUG if self.debug else logging.INFO

    def _release_log(self) -> None:
        if self._log is not None:
            root = logging.getLogger()
            root.removeHandler(self._log)
            root.setLevel(self._root_level)
            self._log.close()
            self._log = None


class Lifespan:
    """The ASGI lifespan protocol, as a server speaks it: start-up once, shutdown once."""

    def __init__(self, app: Sanic) -> None:
        self._to_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        self._task = asyncio.ensure_future(app(scope, self._to_app.get, self._from_app.put))

    async def start(self) -> None:
        await self._exchange("startup")

    async def stop(self) -> None:
        try:
            await self._exchange("shutdown")
        finally:
            # Sanic 21.12 then handles the finished lifespan like a request (and fails: there
            # is none); its shutdown is complete by then.
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _exchange(self, event: str) -> None:
        await self._to_app.put({"type": f"lifespan.{event}"})
        answer = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({answer, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            self._task.result()  # the app's own error, if it failed
            raise RuntimeError(f"the app ended its lifespan before {event} was complete")
        message = answer.result()
        if message["type"] != f"lifespan.{event}.complete":
            raise RuntimeError(f"lifespan {event} failed: {message}")


Stack = ServedStack | InProcessStack


@contextlib.contextmanager
def running_stack(
    workdir: Path,
    *,
    settings: dict[str, str] | None = None,
    in_process: bool = False,
    actions: bool = True,
    agent: Login | None = AGENT,
    api_jwt_secret: str | None = None,
    debug: bool = False,
    identity_secret: str | None = None,
    credentials: Path | None = None,
) -> Iterator[Any]:
    """A stack seeded with the demo wallet and ``agent``'s console login, its action server
    (unless not ``actions``) and Rasa server running until the block ends; its channels are
    the repository's credentials.yml unless ``credentials`` names another file.

    Typed ``Any`` so that a test may annotate it with the class it asked for.
    """
    kind = InProcessStack if in_process else ServedStack
    stack = kind(workdir, settings=dict(settings or {}), api_jwt_secret=api_jwt_secret, debug=debug)
    if identity_secret is not None:
        stack.identity_secret = identity_secret
    if credentials is not None:
        stack.credentials = credentials
    stack.seed()
    if agent is not None:
        HandoffStore.from_url(stack.handoff_url).agents.add(
            agent.username, agent.name, agent.password
        )
    try:
        if actions:
            stack.start_actions()
        stack.start_rasa()
        yield stack
    finally:
        stack.stop_all()


@contextlib.contextmanager
def actions_with(stack: LocalStack, settings: dict[str, str]) -> Iterator[None]:
    """The stack's action server restarted with ``settings`` for the block, then as it was."""
    before = dict(stack.settings)
    stack.stop_actions()
    stack.settings.update(settings)
    try:
        stack.start_actions()
        yield
    finally:
        stack.stop_actions()
        stack.settings.clear()
        stack.settings.update(before)
        stack.start_actions()


CLEANER = Login("queue-cleaner", "清理", "a-long-cleaner-password")


def empty_queue(stack: ServedStack | InProcessStack) -> None:
    """Closes every open ticket as an agent would, through the console, so each conversation is
    handed back to the bot: the queue of a shared stack holds the tickets of earlier tests, and
    a conversation left paused (the demo accounts' are shared) would never answer again."""
    store = HandoffStore.from_url(stack.handoff_url)
    for ticket in store.tickets.queue():
        close_ticket(store, stack.http, ticket)


def close_ticket(store: HandoffStore, http: Http, ticket: Ticket) -> None:
    """Closes an open ticket through the console of ``http``'s server, as its agent would (a
    queued one is claimed by a cleaner first), so its conversation is handed back to the bot."""
    if store.agents.role(CLEANER.username) is None:
        store.agents.add(CLEANER.username, CLEANER.name, CLEANER.password)
    agent = ticket.agent
    if ticket.state is State.QUEUED and store.tickets.claim(ticket.ticket_id, CLEANER.username):
        agent = CLEANER.username
    if agent is None:
        return
    token = secrets.token_urlsafe(16)
    with store.engine.begin() as connection:  # a session of the ticket's agent, for this close
        connection.execute(
            sessions.insert().values(
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                username=agent,
                expires_at=datetime.now(timezone.utc) + timedelta(minutes=1),
            )
        )
    http.post(
        f"{CONSOLE_API}/tickets/{ticket.ticket_id}/close",
        json={"note": "closed for a test of the queue"},
        headers={"Authorization": f"Bearer {token}"},
    )


def boot_summary() -> str:
    """How many Rasa servers the session started, and how."""
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(BOOTS.items()))
    return f"Rasa server boots: {sum(BOOTS.values())}" + (f" ({kinds})" if kinds else "")
