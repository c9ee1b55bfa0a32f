"""Training runs of the improvement loop: one at a time across all servers, with progress.

A run is a row of ``training_runs`` in the handoff database (SQLite by default, PostgreSQL in
production). While it runs its ``active`` column holds 1 under a UNIQUE constraint, so a second
``start`` fails (``TrainingBusy``) on every server, also when two leads press the button at the
same moment; a finished run sets it to NULL (a UNIQUE column takes many). The worker
(``bot.improvement.train_candidate``) reports its stage, percent and time left, which is also its
heartbeat: a run whose heartbeat stopped (a killed worker, a server that died) is failed by
``fail_stale``, which ``start`` calls first, so a dead worker never blocks a retry.

``launch`` starts the worker as a low-priority subprocess without blocking the event loop and
watches it: a worker that exits leaving its run "running" (killed, crashed) fails the run with
its exit status and the last lines of its log. Starting and finishing leave entries in the audit
log, in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.database import VAR, UtcDateTime, open_database
from bot.improvement import tables as improvement_tables
from bot.improvement.labels import append_entry, utc_now

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = VAR / "training"
HEARTBEAT_SECONDS = 5.0  # how often the worker reports while a step runs
STALE_AFTER = timedelta(minutes=2)  # a running run without a heartbeat for this long is dead
HISTORY = 5  # finished runs whose median duration predicts the next one's
ERROR_LINES = 15  # of a log, in a failed run's reason
MAX_ERROR = 2000  # characters of a reason


class RunState(str, Enum):
    """Where a training run stands; all but RUNNING are final."""

    RUNNING = "running"
    PASSED = "passed"  # the candidate passed the gate and was stored, ready to approve
    REFUSED = "refused"  # the candidate was stored, but the gate refused it
    FAILED = "failed"  # no candidate: the error says why


class Stage(str, Enum):
    """The step a run is at (or failed at)."""

    EXPORT = "export"
    TRAIN = "train"
    GATE = "gate"
    STORE = "store"
    DONE = "done"


class TrainingBusy(RuntimeError):
    """A training run is already running (on this server or another)."""


metadata = sa.MetaData()

training_runs = sa.Table(
    "training_runs",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("requested_by", sa.String(64), nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("percent", sa.Integer, nullable=False),
    sa.Column("eta_seconds", sa.Integer),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("version_id", sa.Integer),
    # 1 while running, NULL after: the UNIQUE constraint lets one run at most be active.
    sa.Column("active", sa.Integer, unique=True),
    sa.CheckConstraint("active = 1", name="ck_training_runs_active"),
    sa.Index("ix_training_runs_finished_at", "finished_at"),
)


# What a training database needs: the runs and the improvement loop's tables (the audit log).
_with_audit = sa.MetaData()
for _table in (*improvement_tables.metadata.tables.values(), training_runs):
    _table.to_metadata(_with_audit)


def open_training_database(url: str) -> Engine:
    """An engine on ``url`` (the handoff database's) with the runs and the audit log there."""
    return open_database(url, _with_audit)


@dataclass(frozen=True)
class Run:
    """A training run as stored; ``eta_seconds`` is as of ``heartbeat_at``."""

    run_id: int
    requested_by: str
    requested_at: datetime
    started_at: datetime
    finished_at: datetime | None
    state: RunState
    stage: Stage
    percent: int
    eta_seconds: int | None
    heartbeat_at: datetime
    error: str | None
    version_id: int | None

    @property
    def running(self) -> bool:
        return self.state is RunState.RUNNING

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data for the console (times in ISO 8601, UTC)."""

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "run_id": self.run_id,
            "requested_by": self.requested_by,
            "requested_at": iso(self.requested_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "state": self.state.value,
            "stage": self.stage.value,
            "percent": self.percent,
            "eta_seconds": self.eta_seconds,
            "heartbeat_at": iso(self.heartbeat_at),
            "error": self.error,
            "version_id": self.version_id,
        }


def _run(row: Any) -> Run:
    return Run(
        run_id=row.run_id,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        state=RunState(row.state),
        stage=Stage(row.stage),
        percent=row.percent,
        eta_seconds=row.eta_seconds,
        heartbeat_at=row.heartbeat_at,
        error=row.error,
        version_id=row.version_id,
    )


def clip_error(reason: str) -> str:
    """A reason short enough to show: its end, where the cause usually is."""
    reason = reason.strip()
    return reason if len(reason) <= MAX_ERROR else "…" + reason[-(MAX_ERROR - 1) :]


_RUNNING = training_runs.c.state == RunState.RUNNING.value


class TrainingRuns:
    """The training runs in the handoff database; at most one running across all servers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> TrainingRuns:
        return cls(open_training_database(url))

    def start(self, requested_by: str, stale_after: timedelta = STALE_AFTER) -> Run:
        """A new running run for ``requested_by``; TrainingBusy if one is running.

        A run whose worker stopped reporting for ``stale_after`` is failed first.
        """
        self.fail_stale(stale_after)
        now = utc_now()
        try:
            with self.engine.begin() as connection:
                run_id = connection.execute(
                    training_runs.insert().values(
                        requested_by=requested_by,
                        requested_at=now,
                        started_at=now,
                        state=RunState.RUNNING.value,
                        stage=Stage.EXPORT.value,
                        percent=0,
                        heartbeat_at=now,
                        active=1,
                    )
                ).inserted_primary_key[0]
                append_entry(connection, requested_by, "train", {"run_id": run_id}, now)
        except sa.exc.IntegrityError:
            raise TrainingBusy("a training run is already running") from None
        logger.info("training run %s started by %s", run_id, requested_by)
        run = self.get(run_id)
        assert run is not None
        return run

    def progress(self, run_id: int, stage: Stage, percent: int, eta_seconds: float | None) -> bool:
        """Records the stage, percent and seconds left of a running run (also its heartbeat);
        whether the run is still running (False: it was failed meanwhile, stop working on it)."""
        values = {
            "stage": Stage(stage).value,
            "percent": max(0, min(100, int(percent))),
            "eta_seconds": None if eta_seconds is None else max(0, round(eta_seconds)),
            "heartbeat_at": utc_now(),
        }
        with self.engine.begin() as connection:
            result = connection.execute(
                training_runs.update()
                .where(training_runs.c.run_id == run_id, _RUNNING)
                .values(**values)
            )
        return bool(result.rowcount)

    def finish(
        self,
        run_id: int,
        state: RunState | str,
        error: str | None = None,
        version_id: int | None = None,
    ) -> bool:
        """Ends a running run in ``state`` and frees the lease for the next; False if it was not
        running (finished already, or failed as stale)."""
        state = RunState(state)
        if state is RunState.RUNNING:
            raise ValueError("a run finishes passed, refused or failed")
        if state is RunState.FAILED and not error:
            raise ValueError("a failed run needs its reason")
        with self.engine.begin() as connection:
            return self._finish(connection, run_id, state, error, version_id)

    def _finish(
        self,
        connection: Connection,
        run_id: int,
        state: RunState,
        error: str | None,
        version_id: int | None,
    ) -> bool:
        now = utc_now()
        values: dict[str, Any] = {
            "state": state.value,
            "finished_at": now,
            "heartbeat_at": now,
            "eta_seconds": None,
            "error": None if error is None else clip_error(error),
            "version_id": version_id,
            "active": None,
        }
        if state is not RunState.FAILED:
            values.update(stage=Stage.DONE.value, percent=100)
        requested_by = connection.execute(
            sa.select(training_runs.c.requested_by).where(training_runs.c.run_id == run_id)
        ).scalar_one_or_none()
        # The state in the WHERE clause: of two finishing at once, one only changes the row.
        changed = connection.execute(
            training_runs.update()
            .where(training_runs.c.run_id == run_id, _RUNNING)
            .values(**values)
        ).rowcount
        if requested_by is None or not changed:
            return False
        details: dict[str, Any] = {"run_id": run_id}
        if version_id is not None:
            details["version_id"] = version_id
        if error is not None:
            details["error"] = values["error"]
        append_entry(connection, requested_by, f"train_{state.value}", details, now)
        logger.info("training run %s %s", run_id, state.value)
        return True

    def fail_stale(self, older_than: timedelta = STALE_AFTER) -> int:
        """Fails each running run whose heartbeat is older than ``older_than``; how many."""
        cutoff = utc_now() - older_than
        failed = 0
        with self.engine.begin() as connection:
            stale = connection.execute(
                sa.select(training_runs.c.run_id).where(
                    _RUNNING, training_runs.c.heartbeat_at < cutoff
                )
            ).scalars()
            for run_id in list(stale):
                reason = "the training worker stopped (no progress reported for a while)"
                if self._finish(connection, run_id, RunState.FAILED, reason, None):
                    logger.warning("training run %s failed: its worker stopped", run_id)
                    failed += 1
        return failed

    def get(self, run_id: int) -> Run | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(training_runs).where(training_runs.c.run_id == run_id)
            ).first()
        return None if row is None else _run(row)

    def latest(self) -> Run | None:
        """The newest run (the running one, if any), for the console."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(training_runs).order_by(training_runs.c.run_id.desc()).limit(1)
            ).first()
        return None if row is None else _run(row)

    def expected_seconds(self) -> float | None:
        """How long a run takes: the median of the last few that produced a candidate."""
        query = (
            sa.select(training_runs.c.started_at, training_runs.c.finished_at)
            .where(
                training_runs.c.state.in_([RunState.PASSED.value, RunState.REFUSED.value]),
                training_runs.c.finished_at.is_not(None),
            )
            .order_by(training_runs.c.finished_at.desc())
            .limit(HISTORY)
        )
        with self.engine.connect() as connection:
            durations = [
                (row.finished_at - row.started_at).total_seconds()
                for row in connection.execute(query)
            ]
        return statistics.median(durations) if durations else None


@dataclass(frozen=True)
class Worker:
    """A launched training worker: its process id, its log, and the task that waits for it
    (its result is the exit status)."""

    pid: int
    log_path: Path
    done: asyncio.Task[int]


_watchers: set[asyncio.Task[int]] = set()  # referenced until done, or the loop may drop them


def worker_command(run_id: int, handoff_url: str, extra: Sequence[str] = ()) -> list[str]:
    """The worker's command line, at the lowest CPU priority where ``nice`` exists, so that
    serving keeps its latency while a model trains on the same machine."""
    nice = shutil.which("nice")
    command = [nice, "-n", "19"] if nice else []
    return [
        *command,
        sys.executable,
        "-m",
        "bot.improvement.train_candidate",
        "--run",
        str(run_id),
        "--handoff-url",
        handoff_url,
        *extra,
    ]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colours in Rasa's output


def log_tail(path: Path, lines: int = ERROR_LINES) -> str:
    """The last ``lines`` non-blank lines of a log file ("" if it cannot be read)."""
    try:
        with path.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - 64 * 1024))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    text = _ANSI.sub("", text)
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def exit_description(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


async def launch(
    run: Run,
    handoff_url: str,
    runs: TrainingRuns | None = None,
    *,
    log_dir: Path = LOG_DIR,
    worker_args: Sequence[str] = (),
) -> Worker:
    """Starts the worker for ``run`` and watches it in the background; returns at once.

    Its output goes to ``log_dir/run-<id>.log``, its files to a directory beside it that is
    removed when it exits. If it cannot start, or exits leaving the run
    running, the run fails with the reason. ``worker_args`` are passed on to the worker
    (``--data``, ``--rasa``: see ``bot.improvement.train_candidate``).
    """
    if runs is None:
        runs = await asyncio.to_thread(TrainingRuns.from_url, handoff_url)
    log_path = log_dir / f"run-{run.run_id}.log"
    try:
        log, work = await asyncio.to_thread(_prepare, log_path)
        extra = ["--work-dir", str(work), *worker_args]
        command = worker_command(run.run_id, handoff_url, extra)
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        finally:
            log.close()  # the worker has its own descriptor
    except OSError as error:
        reason = f"the training worker could not start: {error}"
        await asyncio.to_thread(runs.finish, run.run_id, RunState.FAILED, reason)
        raise
    logger.info("training run %s: worker %s, log %s", run.run_id, process.pid, log_path)
    task = asyncio.create_task(_watch(process, run.run_id, runs, log_path, work))
    _watchers.add(task)
    task.add_done_callback(_watchers.discard)
    return Worker(process.pid, log_path, task)


def _prepare(log_path: Path) -> tuple[Any, Path]:
    """The run's log, open to append, and a new working directory beside it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{log_path.stem}-", dir=log_path.parent))
    return log_path.open("ab"), work


async def _watch(
    process: asyncio.subprocess.Process,
    run_id: int,
    runs: TrainingRuns,
    log_path: Path,
    work: Path,
) -> int:
    code = await process.wait()
    # The models and data a killed worker left there.
    await asyncio.to_thread(shutil.rmtree, work, True)
    try:
        await asyncio.to_thread(_after_exit, runs, run_id, code, log_path)
    except sa.exc.SQLAlchemyError:
        # The database is away: the run fails as stale at a later start.
        logger.exception("training run %s: could not record its worker's end", run_id)
    return code


def _after_exit(runs: TrainingRuns, run_id: int, code: int, log_path: Path) -> None:
    run = runs.get(run_id)
    if run is None or not run.running:
        return
    reason = f"the training worker stopped ({exit_description(code)}) at the {run.stage.value} step"
    tail = log_tail(log_path)
    if runs.finish(run_id, RunState.FAILED, f"{reason}\n{tail}" if tail else reason):
        logger.warning("training run %s failed: %s", run_id, reason)
