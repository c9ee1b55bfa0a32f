"""Starts the production setup on loopback: PostgreSQL, Redis and several assistant servers.

Every store (conversations, tickets, wallet demo data, channel bindings) lives in one PostgreSQL
and the conversation locks, rate limits and the widget's socket.io rooms in one Redis, as in
production; each node is a Rasa server with its own action server, as a pod is usually deployed.
PostgreSQL and Redis are private instances started here, never the system's services. Redis
requires a password (new for every run), as it must in production: whoever can write to it
can send any widget any message. For the multi-server tests, and by hand:

    python -m scripts.production_stack [--servers N]
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import logging
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType

import psycopg2
import redis

from bot.wallet import demo_data
from bot.wallet.sql import SqlWalletService
from scripts.local_stack import LocalStack, free_port, stop, widget_token

logger = logging.getLogger(__name__)

ROLE = "support"
DATABASES = ("tracker", "handoff", "wallet", "channels")
# How long a lock left by a dead server blocks its conversation (Rasa's default: 60 s).
LOCK_LIFETIME_SECONDS = "10"
START_TIMEOUT = 30.0
MISSING = "run `make system-deps` (scripts/ensure-system-packages.sh) to install it"


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(
        (Path(path) for path in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not found or not (found[-1] / "pg_ctl").exists():
        raise RuntimeError(f"PostgreSQL is not installed: {MISSING}")
    return found[-1]


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run ``command`` as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def run(command: list[str], what: str) -> None:
    """Runs ``command``; a RuntimeError with its output if it fails."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise RuntimeError(f"{what} failed ({done.returncode}): {output}")


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name, in parentheses, may hold spaces: the parent follows the last ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            children.append(int(stat.parent.name))
    return children


@dataclass
class Postgres:
    """A private PostgreSQL on loopback, with trust auth for the ``support`` role."""

    databases: Sequence[str] = DATABASES
    port: int = field(default_factory=free_port)
    # Where the server log is copied when it stops; its own directory is removed then.
    keep_log: Path | None = None
    directory: Path | None = None

    @property
    def data(self) -> Path:
        return self._directory / "data"

    @property
    def socket_dir(self) -> Path:
        return self._directory / "socket"

    @property
    def log(self) -> Path:
        return self._directory / "postgres.log"

    @property
    def _directory(self) -> Path:
        if self.directory is None:
            raise RuntimeError("PostgreSQL is not started")
        return self.directory

    def url(self, name: str) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        """A new cluster with the databases; owned by postgres, outside any root-only directory."""
        binaries = postgres_bin()
        self.directory = Path(tempfile.mkdtemp(prefix="im-postgres-"))
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            for path in (self._directory, self.socket_dir):
                shutil.chown(path, "postgres", "postgres")
        run(
            as_postgres(
                [
                    str(binaries / "initdb"),
                    "--pgdata",
                    str(self.data),
                    "--username",
                    ROLE,
                    "--auth",
                    "trust",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C",
                    # A throwaway cluster: no need to wait for its files to reach the disk.
                    "--no-sync",
                ]
            ),
            "initdb",
        )
        self._pg_ctl("start")
        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=ROLE, dbname="postgres"
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                for name in self.databases:
                    cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        logger.info("PostgreSQL on 127.0.0.1:%s in %s", self.port, self.directory)

    def restart(self) -> None:
        """A fast restart (open connections are cut), for fault tests; also after ``kill``."""
        self._pg_ctl("restart", "-m", "fast")

    def kill(self) -> None:
        """Kills the server and its backends, as a lost machine would; ``restart`` recovers."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        postmaster = int(pid_file.read_text().split()[0])
        doomed = [postmaster, *children_of(postmaster)]
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # pg_ctl counts a dead but not yet reaped postmaster as running: wait until it is reaped.
        deadline = time.monotonic() + START_TIMEOUT
        while any(Path(f"/proc/{pid}").exists() for pid in doomed):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL (pid {postmaster}) did not go away")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stops the server and removes its directory (keeping the log if asked); idempotent."""
        if self.directory is None:
            return
        try:
            if (self.data / "postmaster.pid").exists():
                try:
                    self._pg_ctl("stop", "-m", "fast")
                except RuntimeError:
                    logger.exception("PostgreSQL did not stop cleanly: killing it")
                    self.kill()
        finally:
            if self.keep_log is not None and self.log.exists():
                shutil.copyfile(self.log, self.keep_log)
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def _pg_ctl(self, action: str, *options: str) -> None:
        settings = (
            f"-p {self.port} -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={shlex.quote(str(self.socket_dir))}"
        )
        command = [
            str(postgres_bin() / "pg_ctl"),
            action,
            "--pgdata",
            str(self.data),
            "--wait",
            "--timeout",
            str(int(START_TIMEOUT)),
            *options,
        ]
        if action != "stop":
            command += ["--log", str(self.log), "-o", settings]
        run(as_postgres(command), f"pg_ctl {action}")


@dataclass
class Redis:
    """A private redis-server on loopback, without persistence, with a password."""

    workdir: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(24))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError(f"redis-server is not installed: {MISSING}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        # The settings come on stdin ("-"), so the password is not in the process list.
        self.process = subprocess.Popen(
            [
                server,
                "-",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdin=subprocess.PIPE,
            stdout=(self.workdir / "redis.log").open("a"),
            stderr=subprocess.STDOUT,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(f"requirepass {self.password}\n".encode())
        self.process.stdin.close()
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.workdir / 'redis.log'}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()
        logger.info("Redis on 127.0.0.1:%s", self.port)

    def stop(self) -> None:
        stop(self.process)
        self.process = None


@dataclass
class ProductionStack:
    """PostgreSQL, Redis and ``servers`` nodes (a Rasa server and its action server each)."""

    workdir: Path
    servers: int = 2
    debug: bool = False
    # Environment overrides for every node, after the stack's own.
    settings: dict[str, str] = field(default_factory=dict)
    postgres: Postgres | None = None
    redis: Redis | None = None
    nodes: list[LocalStack] = field(default_factory=list)

    @property
    def store_urls(self) -> dict[str, str]:
        """The environment that puts every store in this stack's PostgreSQL and Redis."""
        if self.postgres is None or self.redis is None:
            raise RuntimeError("the stack is not started")
        return {
            "TRACKER_DB_URL": self.postgres.url("tracker"),
            "HANDOFF_DB_URL": self.postgres.url("handoff"),
            "WALLET_DB_URL": self.postgres.url("wallet"),
            "BINDING_DB_URL": self.postgres.url("channels"),
            "REDIS_URL": self.redis.url,
        }

    @property
    def base_urls(self) -> list[str]:
        return [node.base_url for node in self.nodes]

    @property
    def rest_urls(self) -> list[str]:
        return [node.rest_url for node in self.nodes]

    def start(self) -> None:
        """Starts everything; on any failure stops what was started and re-raises."""
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.postgres = Postgres(keep_log=self.workdir / "postgres.log")
            self.postgres.start()
            self.redis = Redis(self.workdir / "redis")
            self.redis.start()
            demo_data.seed(SqlWalletService.from_url(self.postgres.url("wallet")))
            settings = {
                **self.store_urls,
                "TICKET_LOCK_LIFETIME": LOCK_LIFETIME_SECONDS,
                **self.settings,
            }
            self.nodes = [
                LocalStack(self.workdir / f"node-{i}", settings=settings, debug=self.debug)
                for i in range(1, self.servers + 1)
            ]
            # Together, as pods start: model loading dominates, and it runs in parallel.
            with ThreadPoolExecutor(max_workers=self.servers) as pool:
                for future in [pool.submit(self._start_node, node) for node in self.nodes]:
                    future.result()
        except BaseException:
            self.stop()
            raise
        logger.info(
            "%s servers on PostgreSQL and Redis in %.1fs",
            self.servers,
            time.monotonic() - started,
        )

    @staticmethod
    def _start_node(node: LocalStack) -> None:
        node.workdir.mkdir(parents=True, exist_ok=True)
        node.start_actions()
        node.start_rasa()

    def stop(self) -> None:
        """Stops every node, then Redis and PostgreSQL, whatever fails on the way; idempotent."""
        try:
            for node in self.nodes:
                try:
                    node.stop_all()
                except Exception:
                    logger.exception("could not stop the node in %s", node.workdir)
        finally:
            try:
                if self.redis is not None:
                    self.redis.stop()
            finally:
                if self.postgres is not None:
                    self.postgres.stop()

    def __enter__(self) -> ProductionStack:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=2, help="assistant servers (default 2)")
    parser.add_argument("--workdir", type=Path, help="logs (default: a new temporary directory)")
    parser.add_argument("--debug", action="store_true", help="every log line in the logs")
    args = parser.parse_args(argv)
    if args.servers < 1:
        parser.error("--servers must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="im-production-stack-"))
    # `kill` and a closing terminal stop everything too, not only Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    stack = ProductionStack(workdir, servers=args.servers, debug=args.debug)
    started = time.monotonic()
    try:
        stack.start()
        node = stack.nodes[0]
        account = os.environ.get("WIDGET_DEMO_ACCOUNT", demo_data.ALICE)
        token = widget_token(account, minutes=120)
        print(f"\nReady in {time.monotonic() - started:.0f}s. Servers:")
        for url in stack.base_urls:
            print(f"  {url}  (REST: {url}/webhooks/rest/webhook)")
        print(f"Chat widget as {account} (works on any server):")
        print(f"  {node.base_url}/webhooks/widget/chat#token={token}")
        print(f"Agent console: {node.base_url}/webhooks/agent/console (add an agent with")
        print(
            f"  HANDOFF_DB_URL={stack.store_urls['HANDOFF_DB_URL']} "
            f"{sys.executable} -m bot.handoff.agents USERNAME)"
        )
        print("Stores:")
        for name, url in stack.store_urls.items():
            print(f"  {name}={url}")
        print(f"Logs in {workdir}. Ctrl-C stops everything.", flush=True)
        while True:
            for node in stack.nodes:
                for process in (node.rasa, node.actions):
                    if process is not None and process.poll() is not None:
                        print(f"a server of {node.workdir} exited; stopping", file=sys.stderr)
                        return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        print("Stopping…", flush=True)
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
