"""The training worker: a run's candidate model from the leads' labels, judged by the gate.

    python -m bot.improvement.train_candidate --run N --handoff-url URL
        [--data DIR] [--rasa PATH] [--work-dir DIR]

Started by ``bot.improvement.launcher.launch`` for a run ``TrainingRuns.start`` created. It runs
the steps of ``bot.improvement.candidate_steps`` in a working directory of its own, removed at the
end:

- export: ``data/`` copied to a temporary directory with the active labels as
  ``nlu/reviewed.yml``, so the repository's files are never changed by the console;
- train: ``rasa train`` on that copy into the temporary directory, with the repository's config
  and domain and Rasa's training cache (``RASA_CACHE_DIRECTORY`` as the Makefile sets it), so
  the parts the labels do not change are not trained again;
- gate: ``python -m bot.improvement.gate`` against the live model (the published one, or
  ``models/wallet.tar.gz`` before any was published);
- store: the candidate and the gate's verdict in the model store, for the lead to approve.

Progress (stage, percent, seconds left, from the median of earlier runs) is reported every few
seconds, which is also the run's heartbeat. Any failure (bad data that Rasa refuses, a full disk,
the gate unable to run, a stop signal) fails the run with a reason for the console, the last
lines of the failing tool's output included; the live model is never touched. Exit status:
0 passed, 1 refused, 2 failed.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

import sqlalchemy as sa

from bot.improvement.candidate_steps import (
    Abandoned,
    Progress,
    StepFailed,
    export,
    first_line,
    gate,
    live_model,
    store,
    train,
)
from bot.improvement.training import ROOT, Run, RunState, Stage, TrainingRuns

logger = logging.getLogger(__name__)

FIRST_GUESS_SECONDS = 180.0  # a run's expected duration before any has finished
DEFAULT_DATA = ROOT / "data"
PASSED, REFUSED, FAILED = 0, 1, 2


class Stopped(Exception):
    """The worker received a stop signal."""


def default_rasa() -> Path:
    """The ``rasa`` of the interpreter running the worker (the project's ``.venv/bin/rasa``)."""
    return Path(sys.executable).with_name("rasa")


@contextlib.contextmanager
def _work_directory(run: Run, given: Path | None) -> Iterator[Path]:
    """``given`` or a temporary directory, removed at the end (``launch`` removes what a killed
    worker left)."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        try:
            yield given
        finally:
            shutil.rmtree(given, ignore_errors=True)
        return
    with tempfile.TemporaryDirectory(
        prefix=f"training-run-{run.run_id}-", ignore_cleanup_errors=True
    ) as directory:
        yield Path(directory)


def work_on(
    run: Run,
    runs: TrainingRuns,
    handoff_url: str,
    data_dir: Path,
    rasa: Path,
    work_dir: Path | None = None,
) -> tuple[RunState, int]:
    """Runs every step; the run's outcome and the stored version (StepFailed on a failure)."""
    progress = Progress(runs, run, runs.expected_seconds() or FIRST_GUESS_SECONDS)
    progress.report(Stage.EXPORT)
    with _work_directory(run, work_dir) as work:
        count = export(handoff_url, data_dir, work / "data")
        logger.info("run %s: %s labels exported", run.run_id, count)
        progress.report(Stage.TRAIN)
        started = time.monotonic()
        candidate = train(rasa, work / "data", work, progress)
        logger.info("run %s: trained in %.1f s", run.run_id, time.monotonic() - started)
        progress.report(Stage.GATE)
        live, live_digest = live_model(handoff_url, work)
        passed, verdict = gate(candidate, live, handoff_url, work, progress)
        progress.report(Stage.STORE)
        version_id = store(candidate, run, handoff_url, verdict, passed, live_digest)
    return (RunState.PASSED if passed else RunState.REFUSED), version_id


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped(f"the training worker was stopped ({signal.Signals(signum).name})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.improvement.train_candidate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--run", type=int, required=True, help="the run (TrainingRuns.start)")
    parser.add_argument("--handoff-url", required=True, help="SQLAlchemy URL (HANDOFF_DB_URL)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="training data to copy")
    parser.add_argument("--rasa", type=Path, default=default_rasa(), help="the rasa command")
    parser.add_argument(
        "--work-dir", type=Path, help="for the data and models (default: a temporary directory)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.INFO, stream=sys.stdout)
    signal.signal(signal.SIGTERM, _stop)
    try:
        runs = TrainingRuns.from_url(args.handoff_url)
        run = runs.get(args.run)
    except sa.exc.SQLAlchemyError as error:
        print(f"error: the training runs could not be read: {first_line(error)}", file=sys.stderr)
        return FAILED
    if run is None or not run.running:
        print(f"error: run {args.run} is not a running training run", file=sys.stderr)
        return FAILED
    try:
        try:
            state, version_id = work_on(
                run, runs, args.handoff_url, args.data, args.rasa, args.work_dir
            )
        except (StepFailed, Stopped) as failure:
            reason = str(failure)
        except KeyboardInterrupt:
            reason = "the training worker was stopped (SIGINT)"
        except Abandoned as abandoned:
            print(f"error: {abandoned}", file=sys.stderr)
            return FAILED
        except Exception as error:  # the run must end with a reason whatever went wrong
            logger.exception("run %s: unexpected failure", run.run_id)
            reason = f"the training failed unexpectedly: {type(error).__name__}: {error}"
        else:
            runs.finish(run.run_id, state, version_id=version_id)
            print(f"run {run.run_id}: {state.value}, model version {version_id}")
            return PASSED if state is RunState.PASSED else REFUSED
        runs.finish(run.run_id, RunState.FAILED, reason)
    except sa.exc.SQLAlchemyError as error:
        print(f"error: the run could not be recorded: {first_line(error)}", file=sys.stderr)
        return FAILED
    print(f"error: {reason}", file=sys.stderr)
    return FAILED


if __name__ == "__main__":
    sys.exit(main())
