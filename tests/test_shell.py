"""What a newcomer's terminal shows of `make shell` and `make run`, and that closing it stops both.

Each script (scripts/shell.sh, scripts/run.sh) runs in a pseudo-terminal of its own under a
stand-in for make, with the environment the Makefile exports and its stores in a temporary
directory. Like make, the stand-in is the terminal's session leader, takes the SIGHUP of a closing
terminal and waits for its recipe instead of passing the signal on; that is the case in which the
servers used to outlive their terminal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts import quiet
from scripts.local_stack import BOOTS, QUIET, ROOT, LocalStack
from tests.support.http import REST_PATH, Http

PROMPT = "Your input ->"
BANNER = "IM wallet support, as demo account demo-alice"
# Rasa's own first line in the shell, followed by the prompt.
LOADED = "Bot loaded. Type a message and press enter (use '/stop' to exit):"
# Takes the terminal, ignores its SIGHUP and waits for the command, as make does.
MAKE = (
    "import fcntl, signal, subprocess, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "signal.signal(signal.SIGHUP, lambda *_: None)\n"
    "sys.exit(subprocess.call(sys.argv[1:]))\n"
)
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CURSOR_POSITION_REQUEST = b"\x1b[6n"


@dataclass
class Terminal:
    """A pseudo-terminal running a command under the stand-in for make."""

    process: subprocess.Popen[bytes]
    master: int
    output: bytearray = field(default_factory=bytearray)

    @classmethod
    def open(cls, command: list[str], env: dict[str, str]) -> Terminal:
        master, slave = os.openpty()
        # Wide enough that no reply is wrapped.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        process = subprocess.Popen(
            [sys.executable, "-c", MAKE, *command],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        return cls(process, master)

    @property
    def text(self) -> str:
        """Everything shown so far, without terminal escapes."""
        return ESCAPES.sub("", self.output.decode(errors="replace")).replace("\r", "")

    def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Keeps reading the terminal (answering as a terminal does) until ``done()``."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {what} within {timeout:.0f}s; the terminal shows:\n{self.text}"
                )
            ready, _, _ = select.select([self.master], [], [], 0.3)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: nothing holds the terminal any more
                data = b""
            if not data:
                raise AssertionError(f"the terminal ended before {what}:\n{self.text}")
            if CURSOR_POSITION_REQUEST in data:
                os.write(self.master, b"\x1b[1;1R")
            self.output += data

    def shows(self, text: str, timeout: float) -> str:
        """Waits until the terminal shows ``text``; returns what it shows."""
        self.wait(lambda: text in self.text, timeout, repr(text))
        return self.text

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def close(self) -> None:
        """Closes the terminal window: the kernel hangs the terminal up."""
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def hang_up_process_group(self) -> None:
        os.killpg(self.process.pid, signal.SIGHUP)

    def kill(self) -> None:
        """Whatever is left of what this terminal started."""
        self.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def assert_stopped(terminal: Terminal, stack: LocalStack, timeout: float = 20) -> None:
    """The command ends, and neither server is left listening."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = {
            "command": terminal.process.poll() is None,
            "Rasa server": listening(stack.rasa_port),
            "action server": listening(stack.action_port),
        }
        if not any(left.values()):
            return
        time.sleep(0.2)
    raise AssertionError(f"still running after {timeout:.0f}s: {[k for k, v in left.items() if v]}")


@pytest.fixture
def stack(tmp_path: Path, model_path: Path) -> LocalStack:
    """Ports and stores for one script, seeded with the demo accounts."""
    local = LocalStack(tmp_path)
    local.seed()
    return local


def make_env(stack: LocalStack, **settings: str) -> dict[str, str]:
    """What the Makefile exports to the scripts (QUIET among it), with the stack's ports and stores."""
    env = {
        **stack.env(),
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "RASA_PORT": str(stack.rasa_port),
        "ACTION_PORT": str(stack.action_port),
        "RASA_INTERFACE": "127.0.0.1",
        "RASA_API_JWT_SECRET": "",
        "TERM": "xterm",
        **settings,
    }
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


@pytest.fixture
def shell(stack: LocalStack) -> Iterator[Terminal]:
    """`make shell` in a terminal, as its first user gets it (no action server secret set)."""
    env = make_env(
        stack,
        ACTION_SERVER_SECRET="",
        SHELL_ACCOUNT="demo-alice",
        SHELL_ACTIONS_LOG=str(stack.workdir / "shell-actions.log"),
    )
    terminal = Terminal.open(["scripts/shell.sh"], env)
    BOOTS["terminal"] += 1  # the script starts a Rasa server of its own
    try:
        yield terminal
    finally:
        terminal.kill()


@pytest.mark.parametrize("end", ["close the terminal", "SIGHUP to the process group"])
def test_shell_starts_at_its_prompt_answers_and_stops_with_its_terminal(
    shell: Terminal, stack: LocalStack, end: str
) -> None:
    before_prompt = shell.shows(PROMPT, timeout=180).split(PROMPT)[0]
    assert "Warning" not in before_prompt
    lines = [line.strip() for line in before_prompt.splitlines() if line.strip()]
    assert lines[0].startswith(BANNER) and lines[1:] == [LOADED], lines
    # Listing the account's transfers takes the action server, its secret and the demo account.
    shell.type("/transfer_pending")
    shell.shows('"tx_hash"', timeout=60)
    if end == "close the terminal":
        shell.close()
    else:
        shell.hang_up_process_group()
    assert_stopped(shell, stack)


def test_run_shows_no_library_warnings_and_stops_with_its_terminal(stack: LocalStack) -> None:
    terminal = Terminal.open(["scripts/run.sh"], make_env(stack))
    BOOTS["terminal"] += 1  # the script starts a Rasa server of its own
    try:
        replies: list[dict[str, str]] = []

        def answered() -> bool:
            body = {"sender": "run-test", "message": "你好"}
            try:
                answer = Http.to(stack.base_url).post(REST_PATH, json=body, timeout=5)
            except OSError:
                return False
            replies.extend(answer.json() if answer.status == 200 else [])
            return bool(replies)

        terminal.wait(answered, timeout=120, what="reply")
        assert "Warning" not in terminal.text and "Traceback" not in terminal.text, terminal.text
        terminal.close()
        assert_stopped(terminal, stack)
    finally:
        terminal.kill()


def test_libraries_deprecation_warnings_are_hidden_and_ours_are_not() -> None:
    # Importing sanic puts filterwarnings("once", DeprecationWarning) before PYTHONWARNINGS.
    code = (
        "import warnings\n"
        "from scripts import quiet\n"
        "quiet.install_warning_filters()\n"
        "import sanic\n"
        "for text, category, path in [\n"
        "    ('ours', DeprecationWarning, quiet.ROOT / 'bot' / 'x.py'),\n"
        "    ('library deprecation', DeprecationWarning, '/venv/site-packages/x.py'),\n"
        "    ('library user warning', UserWarning, '/venv/site-packages/x.py'),\n"
        "]:\n"
        "    warnings.warn_explicit(text, category, str(path), 1)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **QUIET},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "DeprecationWarning: ours" in result.stderr
    assert "UserWarning: library user warning" in result.stderr
    assert "library deprecation" not in result.stderr
    assert quiet.is_own(str(ROOT / "actions" / "transfer.py"))
    assert not quiet.is_own(str(ROOT / ".venv" / "lib" / "bot" / "x.py"))
