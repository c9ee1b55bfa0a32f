"""Sanic apps served in process: ``served_app`` runs one on a loopback port in a thread, and
``serving`` the platform channels without a model, with the project's domain, enough for
everything a channel answers by itself (welcome, unsupported content, binding). Not a Rasa
server: ``running_stack()`` is, with the trained model."""

from __future__ import annotations

import itertools
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel
from rasa.shared.core.domain import Domain
from sanic import Sanic

from bot.services import Services
from bot.settings import Settings
from scripts.local_stack import ROOT
from tests.support.loop import LoopThread

_apps = itertools.count()
STORES = ("TRACKER", "HANDOFF", "WALLET", "BINDING")


class InProcessSanic(Sanic):
    """Sanic rewrites its protocol's methods for each app it starts; in test mode it starts from
    the originals, so several apps can be served in one process."""

    test_mode = True


def domain_agent() -> Agent:
    """An agent with the project's domain and no model: it renders the responses a channel
    gives by itself, as the server's NLG does."""
    return Agent(domain=Domain.load(str(ROOT / "domain.yml")))


@contextmanager
def served_app(
    app: Sanic, timeout: float = 30, on_stop: Callable[[], None] | None = None
) -> Iterator[str]:
    """``app`` served on a loopback port by a server in a thread until the block ends; its base
    URL. ``on_stop`` runs on the server's loop once it has stopped."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    async def start() -> Any:
        server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        assert server is not None
        await server.startup()
        await server.before_start()
        await server.after_start()
        return server

    async def stop(server: Any) -> None:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        if on_stop is not None:
            on_stop()

    thread = LoopThread(app.name)
    try:
        server = thread.run(start(), timeout=timeout)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            thread.run(stop(server), timeout=timeout)
    finally:
        thread.close()


@contextmanager
def serving(*channels: InputChannel, agent: Agent) -> Iterator[str]:
    """The channels' routes on a Sanic server in a thread, mounted as Rasa mounts them
    (``/webhooks/<name>``), until the block ends and the server stops; its base URL. The
    server's stores are in a temporary directory."""
    app = InProcessSanic(f"platform-test-{next(_apps)}")
    app.ctx.agent = agent
    stores = tempfile.TemporaryDirectory()
    urls = {f"{name}_DB_URL": f"sqlite:///{stores.name}/{name}.db" for name in STORES}
    app.ctx.services = Services(Settings.from_env({**os.environ, **urls}))
    app.ctx.input_channels = list(channels)
    for channel in channels:
        app.blueprint(channel.blueprint(None), url_prefix=f"/webhooks/{channel.name()}")
    try:
        with served_app(app) as url:
            yield url
    finally:
        stores.cleanup()
