"""Training runs of the improvement loop: one at a time across all servers, with progress.

A run is a row of ``training_runs`` in the handoff database (SQLite by default, PostgreSQL in
production). While it runs its ``active`` column holds 1 under a UNIQUE constraint, so a second
``start`` fails (``TrainingBusy``) on every server, also when two leads press the button at the
same moment; a finished run sets it to NULL (a UNIQUE column takes many). The worker
(``bot.improvement.train_candidate``) reports its stage, percent and time left, which is also its
heartbeat: a run whose heartbeat stopped (a killed worker, a server that died) is failed by
``fail_stale``, which ``start`` calls first, so a dead worker never blocks a retry.

``bot.improvement.launcher`` starts the worker and watches it. Starting and finishing leave
entries in the audit log, in the same transaction.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.improvement.labels import append_entry, utc_now
from bot.improvement.tables import open_improvement_database, training_runs

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_SECONDS = 5.0  # how often the worker reports while a step runs
STALE_AFTER = timedelta(minutes=2)  # a running run without a heartbeat for this long is dead
HISTORY = 5  # finished runs whose median duration predicts the next one's
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
        return cls(open_improvement_database(url))

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
