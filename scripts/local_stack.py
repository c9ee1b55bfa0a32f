"""Starts the assistant's processes on loopback for tests and benchmarks, as `make run` does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "wallet.tar.gz"
QUIET = {"PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 60.0) -> None:
    """Waits until ``url`` answers at all; TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def start_action_server(
    log_path: Path, port: int, wallet_url: str, identity_secret: str
) -> subprocess.Popen[bytes]:
    """The action server on ``port`` with its wallet store and identity secret."""
    env = {**os.environ, **QUIET, "WALLET_DB_URL": wallet_url, "IDENTITY_SECRET": identity_secret}
    env.pop("DEV_ACCOUNT_ID", None)
    return subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--port", str(port), "--actions", "actions"],
        cwd=ROOT,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )


def start_rasa_server(
    log_path: Path, port: int, action_url: str, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`rasa run` with credentials.yml and endpoints.yml, bound to loopback."""
    env = {**os.environ, **QUIET, "ACTION_ENDPOINT_URL": action_url, **(extra_env or {})}
    command = [
        str(ROOT / ".venv" / "bin" / "rasa"),
        "run",
        "--model",
        str(MODEL),
        "--port",
        str(port),
        "--interface",
        "127.0.0.1",
        "--credentials",
        "credentials.yml",
        "--endpoints",
        "endpoints.yml",
    ]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=log_path.open("w"), stderr=subprocess.STDOUT, env=env
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminates ``process``, killing it if it does not stop within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
