"""Starting a training run's worker and watching it.

``launch`` starts ``bot.improvement.train_candidate`` as a low-priority subprocess without
blocking the event loop and watches it: a worker that exits leaving its run "running" (killed,
crashed) fails the run with its exit status and the last lines of its log, and the working
directory it leaves is removed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.database import VAR
from bot.improvement.training import ROOT, Run, RunState, TrainingRuns

logger = logging.getLogger(__name__)

LOG_DIR = VAR / "training"
ERROR_LINES = 15  # of a log, in a failed run's reason


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
