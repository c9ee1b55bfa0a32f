"""A server switches to the live model with Rasa's own pulling: its model route answers only
its own pulls (404 to anyone else), 204 with nothing live, the model with its digest as ETag,
304 for the model it runs; the server reports the model it started with and every one it loads,
in the database and on the model gauge.

The route and the listener are served on a Sanic server of the test's own (a real socket, as
Rasa's pull is an HTTP request), with the session's trained model."""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rasa.core import jobs
from rasa.core.agent import Agent, _update_model_from_server
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic

from bot.improvement.models import ModelStore, ModelVersion
from bot.improvement.pulling import (
    MODEL_INFO,
    ROUTE,
    TOKEN_HEADER,
    model,
    start_model_pulling,
    stop_model_pulling,
)
from bot.improvement.server_models import ServerModels
from bot.services import Services
from bot.settings import Settings
from tests.support.channel_server import InProcessSanic, served_app
from tests.support.http import Http

WAIT = 30.0  # seconds a switch may take: a pull each second, a load under a few seconds


@dataclass
class ModelServer:
    """A server with the model route and pulling, its agent and its database."""

    app: Sanic
    url: str
    store: ModelStore

    @property
    def http(self) -> Http:
        return Http.to(self.url)

    @property
    def agent(self) -> Agent:
        agent: Agent = self.app.ctx.agent
        return agent

    @property
    def token(self) -> str:
        token: str = self.app.ctx.model_token
        return token

    @property
    def server_id(self) -> str:
        return f"{socket.gethostname()}:{self.url.rsplit(':', 1)[1]}"


@contextmanager
def model_server(tmp_path: Path, agent: Agent, pull_seconds: int) -> Iterator[ModelServer]:
    """The route and listeners registered as the console will, on a server in a thread."""
    app = InProcessSanic(f"model-test-{tmp_path.name}")
    app.ctx.agent = agent
    handoff = f"sqlite:///{tmp_path / 'handoff.db'}"
    env = {**os.environ, "HANDOFF_DB_URL": handoff, "MODEL_PULL_SECONDS": str(pull_seconds)}
    app.ctx.services = Services(Settings.from_env(env))
    app.add_route(model, ROUTE, methods=["GET"])
    app.register_listener(start_model_pulling, "after_server_start")
    app.register_listener(stop_model_pulling, "before_server_stop")
    store = ModelStore.from_url(handoff)
    try:
        # As Rasa's close_resources does: the next server has a new loop.
        with served_app(app, timeout=60, on_stop=jobs.kill_scheduler) as url:
            yield ModelServer(app, url, store)
    finally:
        store.engine.dispose()


def publish(store: ModelStore, data: bytes, by: str = "lead1") -> ModelVersion:
    """``data`` stored as a passed candidate and approved."""
    version = store.add_candidate(data, by, run_id=None, verdict={"passed": True}, passed=True)
    return store.approve(version.version_id, by)


def other_bytes(data: bytes) -> bytes:
    """The same model in other bytes (another gzip time stamp): another digest."""
    return gzip.compress(gzip.decompress(data), mtime=1)


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT:.0f}s: {what}")
        time.sleep(0.1)


def test_the_route_serves_the_live_model_to_its_own_pulls_only(
    tmp_path: Path, model_path: Path
) -> None:
    data = model_path.read_bytes()
    with model_server(tmp_path, Agent(), pull_seconds=3600) as server:
        http, path = server.http, ROUTE
        unknown = http.get("/webhooks/agent/no-such-route")
        for headers in ({}, {TOKEN_HEADER: "guessed"}, {TOKEN_HEADER: server.token[:-1]}):
            refused = http.get(path, headers=headers)
            assert (refused.status, refused.body) == (
                404,
                unknown.body.replace(b"no-such-route", b"model"),
            )
        mine = {TOKEN_HEADER: server.token}
        assert http.get(path, headers=mine).status == 204  # nothing is live

        live = publish(server.store, data)
        answer = http.get(path, headers=mine)
        assert answer.status == 200
        assert answer.headers["etag"] == live.digest == hashlib.sha256(data).hexdigest()
        assert answer.headers["filename"] == "model.tar.gz"
        assert answer.body == data
        # Without the token the route still says nothing, a model live or not.
        assert http.get(path).status == 404

        same = http.get(path, headers={**mine, "If-None-Match": live.digest})
        assert (same.status, same.body) == (304, b"")
        older = http.get(path, headers={**mine, "If-None-Match": "0" * 64})
        assert (older.status, older.headers["etag"]) == (200, live.digest)


def test_rasa_s_own_pull_loads_the_live_model_into_an_agent(
    tmp_path: Path, model_path: Path, run: Any
) -> None:
    with model_server(tmp_path, Agent(), pull_seconds=3600) as server:
        live = publish(server.store, model_path.read_bytes())
        endpoint = EndpointConfig(url=server.url + ROUTE, headers={TOKEN_HEADER: server.token})
        agent = Agent()
        assert not agent.is_ready()
        run(_update_model_from_server(endpoint, agent))
        assert agent.is_ready()
        assert agent.fingerprint == live.digest
        parsed = run(agent.parse_message("转账一直没到账"))
        assert parsed["intent"]["name"]
        # A wrong token: Rasa hears 404 ("no model there") and keeps the model it has.
        before = agent.processor
        other = publish(server.store, other_bytes(model_path.read_bytes()))
        wrong = EndpointConfig(url=server.url + ROUTE, headers={TOKEN_HEADER: "guessed"})
        run(_update_model_from_server(wrong, agent))
        assert (agent.fingerprint, agent.processor) == (live.digest, before)
        run(_update_model_from_server(endpoint, agent))
        assert agent.fingerprint == other.digest


def test_a_server_switches_to_each_live_model_and_reports_it(
    tmp_path: Path, model_path: Path
) -> None:
    data = model_path.read_bytes()
    with model_server(tmp_path, Agent(), pull_seconds=1) as server:
        store = server.store
        servers = ServerModels(store.engine)
        assert servers.loaded() == []  # started with no model: nothing to report
        first = publish(store, data)
        until(lambda: server.agent.fingerprint == first.digest, "the server loads the live model")
        assert server.agent.is_ready()
        until(lambda: bool(servers.loaded()), "the server reports its model")
        assert [(s.server_id, s.digest) for s in servers.loaded()] == [
            (server.server_id, first.digest)
        ]
        assert f'im_model_info{{digest="{first.digest[:12]}"}} 1' in MODEL_INFO.render()

        second = publish(store, other_bytes(data))
        until(lambda: servers.loaded()[0].digest == second.digest, "the server switches")
        assert server.agent.fingerprint == second.digest
        gauge = MODEL_INFO.render()
        assert f'digest="{second.digest[:12]}"' in gauge
        assert first.digest[:12] not in gauge

        store.rollback("lead2")
        until(lambda: servers.loaded()[0].digest == first.digest, "the server rolls back")
        assert server.agent.fingerprint == first.digest


def test_a_server_reports_the_model_it_started_with_and_keeps_it_when_it_is_live(
    tmp_path: Path, model_path: Path
) -> None:
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    agent = Agent.load(str(model_path))
    started = agent.processor
    with model_server(tmp_path, agent, pull_seconds=1) as server:
        store = server.store
        servers = ServerModels(store.engine)
        assert [(s.server_id, s.digest) for s in servers.loaded()] == [(server.server_id, digest)]
        assert agent.fingerprint == digest
        assert f'digest="{digest[:12]}"' in MODEL_INFO.render()
        loaded_at = servers.loaded()[0].loaded_at

        publish(store, model_path.read_bytes())  # the model it runs goes live
        time.sleep(3)  # three pulls: each one 304
        assert agent.processor is started
        assert servers.loaded()[0].loaded_at == loaded_at


def test_pulling_can_be_turned_off(tmp_path: Path, model_path: Path) -> None:
    with model_server(tmp_path, Agent(), pull_seconds=0) as server:
        publish(server.store, model_path.read_bytes())
        time.sleep(1.5)
        assert not server.agent.is_ready()
        assert server.http.get(ROUTE, headers={TOKEN_HEADER: ""}).status == 404
        assert server.app.ctx.__dict__.get("model_token") is None


def test_the_setting_is_checked() -> None:
    assert Settings.from_env({}).model_pull_seconds == 10
    assert Settings.from_env({"MODEL_PULL_SECONDS": "0"}).model_pull_seconds == 0
    for wrong in ("-1", "ten", "1.5"):
        with pytest.raises(ValueError, match="MODEL_PULL_SECONDS"):
            Settings.from_env({"MODEL_PULL_SECONDS": wrong})
