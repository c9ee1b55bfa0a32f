"""The action server: a shared secret on every call but /health, or loopback only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.action_server import SECRET_HEADER
from scripts.local_stack import QUIET, ROOT, free_port, stop, wait_for_http
from tests.support.http import Http

SECRET = "action-server-test-secret-0123456789"
UNSURE_CALL = {
    "next_action": "action_help_center",
    "sender_id": "secret-test",
    "version": "3.6.2",
    "domain": {},
    "tracker": {
        "sender_id": "secret-test",
        "slots": {},
        "events": [],
        "latest_message": {
            "text": "嗯",
            "intent": {"name": "nlu_fallback", "confidence": 0.3},
            "intent_ranking": [
                {"name": "transfer_pending", "confidence": 0.4},
                {"name": "freeze_account", "confidence": 0.3},
            ],
        },
    },
}


@dataclass
class ActionServer:
    """A running ``python -m bot.action_server`` and the file its output goes to."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]


def server_env(**settings: str | None) -> dict[str, str]:
    """The test environment with ``settings`` applied; None removes a variable."""
    env = {**os.environ, **QUIET}
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def start(log: Path, *args: str, **settings: str | None) -> ActionServer:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.action_server", "--port", str(port), *args],
        cwd=ROOT,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        env=server_env(**settings),
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health")
    return ActionServer(url, log, process)


def call(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """GET ``url`` (a POST of ``body`` as JSON if given): the status and the JSON answer."""
    parts = urllib.parse.urlsplit(url)
    http = Http.to(f"{parts.scheme}://{parts.netloc}")
    if body is None:
        answer = http.get(parts.path, headers=headers)
    else:
        answer = http.post(parts.path, json=body, headers=headers)
    return answer.status, answer.json() if answer.body else None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    """An action server with a secret, logging at debug level."""
    log = tmp_path_factory.mktemp("action-server") / "actions.log"
    running = start(log, "--debug", ACTION_SERVER_SECRET=SECRET, ACTION_INTERFACE="127.0.0.1")
    try:
        yield running
    finally:
        stop(running.process)


def test_health_needs_no_secret(server: ActionServer) -> None:
    assert call(f"{server.url}/health") == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SECRET_HEADER: ""},
        {SECRET_HEADER: "wrong"},
        {SECRET_HEADER: SECRET + "x"},
        {SECRET_HEADER: SECRET[:-1]},
        {SECRET_HEADER: "s\xe9cret\xff"},
        {"Authorization": f"Bearer {SECRET}"},
    ],
    ids=["none", "empty", "wrong", "longer", "shorter", "latin-1", "other-header"],
)
def test_calls_without_the_secret_get_401(server: ActionServer, headers: dict[str, str]) -> None:
    for status, answer in (
        call(f"{server.url}/webhook", UNSURE_CALL, headers),
        call(f"{server.url}/actions", headers=headers),
    ):
        assert status == 401
        assert "error" in answer and SECRET not in json.dumps(answer)


def test_calls_with_the_secret_run_actions(server: ActionServer) -> None:
    headers = {SECRET_HEADER: SECRET}
    status, actions = call(f"{server.url}/actions", headers=headers)
    assert status == 200
    assert {"name": "action_check_transfer"} in actions
    status, result = call(f"{server.url}/webhook", UNSURE_CALL, headers)
    assert status == 200
    assert result["responses"][0]["response"] == "utter_clarify"


def test_the_secret_is_never_logged(server: ActionServer) -> None:
    call(f"{server.url}/webhook", UNSURE_CALL, {SECRET_HEADER: SECRET})
    call(f"{server.url}/webhook", UNSURE_CALL, {SECRET_HEADER: "wrong"})
    log = server.log.read_text()
    assert "Received request to run 'action_help_center'" in log  # debug lines are there
    assert "Rejected POST /webhook" in log
    assert SECRET not in log


@pytest.mark.parametrize(
    ("secret", "interface"), [(None, "0.0.0.0"), ("", "::"), (None, "wallet-bot.internal")]
)
def test_without_a_secret_it_refuses_to_leave_loopback(secret: str | None, interface: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.action_server", "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=server_env(ACTION_SERVER_SECRET=secret, ACTION_INTERFACE=interface),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: ACTION_SERVER_SECRET must be set to listen on {interface} (ACTION_INTERFACE);"
        " without it the action server only listens on loopback"
    ]


def test_without_a_secret_loopback_calls_pass_with_a_warning(tmp_path: Path) -> None:
    running = start(tmp_path / "actions.log", ACTION_SERVER_SECRET="", ACTION_INTERFACE=None)
    try:
        status, actions = call(f"{running.url}/actions")
        assert status == 200 and {"name": "action_check_transfer"} in actions
        assert "calls are unauthenticated, listening on 127.0.0.1 only" in running.log.read_text()
    finally:
        stop(running.process)
