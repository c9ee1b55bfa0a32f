"""Starts the assistant's processes on loopback for tests and benchmarks, as `make run` does.

A ``LocalStack`` keeps every store (wallet, handoff, tracker) in its own work directory, so a
test or benchmark never touches ``var/``. Its widget accepts the tokens of ``widget_token``.
``with LocalStack(workdir) as stack:`` seeds the demo data and runs both servers until the block
ends. ``BOOTS`` counts the Rasa servers this process started, for the test session's summary.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from bot.channels.widget_auth import mint
from bot.wallet import demo_data
from bot.wallet.sql import SqlWalletService

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "wallet.tar.gz"
# 32 bytes or more, the least PyJWT accepts for HS256 without a warning.
WIDGET_SECRET = "local-stack-widget-secret-for-tests"
WIDGET_AUDIENCE = "im-wallet-support-local"
ACTION_SECRET = "local-stack-action-secret"
T = TypeVar("T")
QUIET = {"PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}
# Rasa servers started by this process, by kind ("process": a `rasa run` of LocalStack).
BOOTS: Counter[str] = Counter()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(
    url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Waits until ``url`` answers at all; TimeoutError otherwise, RuntimeError as soon as the
    ``process`` that should answer it has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def widget_token(account_id: str, minutes: int = 10) -> str:
    """A valid widget token of a LocalStack for ``account_id`` (its key and audience)."""
    return mint(WIDGET_SECRET, account_id, minutes, WIDGET_AUDIENCE)


def start_together(
    starts: Mapping[str, Callable[[], T]], stop: Callable[[T], None]
) -> dict[str, T]:
    """Runs the ``starts`` side by side (each Rasa server takes a while to load its model).

    If one fails, the others that started are stopped and its error is raised.
    """
    started: dict[str, T] = {}
    errors: list[Exception] = []
    with ThreadPoolExecutor(len(starts)) as pool:
        futures = {name: pool.submit(start) for name, start in starts.items()}
        for name, future in futures.items():
            try:
                started[name] = future.result()
            except Exception as error:
                errors.append(error)
    if errors:
        for value in started.values():
            stop(value)
        raise errors[0]
    return started


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminates ``process``, killing it if it does not stop within 15 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class LocalStack:
    """A Rasa server and an action server with their stores in ``workdir``."""

    workdir: Path
    identity_secret: str = "local-stack-identity-secret"
    settings: dict[str, str] = field(default_factory=dict)
    credentials: Path = ROOT / "credentials.yml"
    # Set: Rasa's HTTP API is enabled, for HS256 JWTs signed with it (as RASA_API_JWT_SECRET).
    api_jwt_secret: str | None = None
    # Every log line, Rasa's and the action server's, in workdir/rasa.log and workdir/actions.log.
    debug: bool = False
    rasa_port: int = field(default_factory=free_port)
    action_port: int = field(default_factory=free_port)
    rasa: subprocess.Popen[bytes] | None = None
    actions: subprocess.Popen[bytes] | None = None

    @property
    def wallet_url(self) -> str:
        return f"sqlite:///{self.workdir / 'wallet.db'}"

    @property
    def handoff_url(self) -> str:
        return f"sqlite:///{self.workdir / 'handoff.db'}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def rest_url(self) -> str:
        return f"{self.base_url}/webhooks/rest/webhook"

    def env(self) -> dict[str, str]:
        """The settings both servers share, as `make run` exports them."""
        values = {
            **os.environ,
            **QUIET,
            "WALLET_DB_URL": self.wallet_url,
            "HANDOFF_DB_URL": self.handoff_url,
            "TRACKER_DB_URL": f"sqlite:///{self.workdir / 'tracker.db'}",
            "IDENTITY_SECRET": self.identity_secret,
            "WIDGET_JWT_SECRET": WIDGET_SECRET,
            "WIDGET_JWT_AUDIENCE": WIDGET_AUDIENCE,
            "BINDING_DB_URL": f"sqlite:///{self.workdir / 'bindings.db'}",
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.action_port}/webhook",
            "ACTION_INTERFACE": "127.0.0.1",
            "ACTION_SERVER_SECRET": ACTION_SECRET,
            **self.settings,
        }
        values.pop("DEV_ACCOUNT_ID", None)
        return values

    def seed(self) -> None:
        """Demo wallet data, as of now."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        demo_data.seed(SqlWalletService.from_url(self.wallet_url))

    def start_actions(self) -> None:
        command = [sys.executable, "-m", "bot.action_server", "--port", str(self.action_port)]
        if self.debug:
            command.append("--debug")
        self.actions = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=(self.workdir / "actions.log").open("a"),
            stderr=subprocess.STDOUT,
            env=self.env(),
        )
        try:
            wait_for_http(f"http://127.0.0.1:{self.action_port}/health", process=self.actions)
        except RuntimeError as error:
            raise RuntimeError(f"{error}; see {self.workdir / 'actions.log'}") from None

    def start_rasa(self) -> None:
        command = [
            sys.executable,
            "-m",
            "bot.serving",
            "run",
            "--model",
            str(MODEL),
            "--port",
            str(self.rasa_port),
            "--interface",
            "127.0.0.1",
            "--credentials",
            str(self.credentials),
            "--endpoints",
            "endpoints.yml",
        ]
        if self.api_jwt_secret:
            command += [
                "--enable-api",
                "--jwt-secret",
                self.api_jwt_secret,
                "--jwt-method",
                "HS256",
            ]
        if self.debug:
            command.append("--debug")
        self.rasa = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=(self.workdir / "rasa.log").open("a"),
            stderr=subprocess.STDOUT,
            env=self.env(),
        )
        BOOTS["process"] += 1
        try:
            wait_for_http(f"{self.base_url}/", timeout=180, process=self.rasa)
        except RuntimeError as error:
            raise RuntimeError(f"{error}; see {self.workdir / 'rasa.log'}") from None

    def stop_actions(self) -> None:
        stop(self.actions)
        self.actions = None

    def stop_rasa(self) -> None:
        stop(self.rasa)
        self.rasa = None

    def stop_all(self) -> None:
        self.stop_rasa()
        self.stop_actions()

    def start(self) -> None:
        """Demo wallet data, then the action server and the Rasa server; on a failure, stops
        what was started and re-raises."""
        self.seed()
        try:
            self.start_actions()
            self.start_rasa()
        except BaseException:
            self.stop_all()
            raise

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()
