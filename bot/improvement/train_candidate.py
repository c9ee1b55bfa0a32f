"""The training worker: a run's candidate model from the leads' labels, judged by the gate.

    python -m bot.improvement.train_candidate --run N --handoff-url URL
        [--data DIR] [--rasa PATH] [--work-dir DIR]

Started by ``bot.improvement.training.launch`` for a run ``TrainingRuns.start`` created. Steps:

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
import ctypes
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import sqlalchemy as sa

from bot.improvement.export import reviewed_yaml
from bot.improvement.labels import LabelError, LabelStore, utc_now
from bot.improvement.models import ModelError, ModelStore
from bot.improvement.training import (
    HEARTBEAT_SECONDS,
    ROOT,
    Run,
    RunState,
    Stage,
    TrainingRuns,
    log_tail,
)

logger = logging.getLogger(__name__)

FIRST_GUESS_SECONDS = 180.0  # a run's expected duration before any has finished
DEFAULT_DATA = ROOT / "data"
DEFAULT_LIVE = ROOT / "models" / "wallet.tar.gz"
CANDIDATE_NAME = "candidate"
STOP_GRACE_SECONDS = 10.0  # for a step's process to end after SIGTERM, before SIGKILL
PASSED, REFUSED, FAILED = 0, 1, 2
_PR_SET_PDEATHSIG = 1


class StepFailed(Exception):
    """A step could not produce its result; the message is the run's reason."""


class Abandoned(Exception):
    """The run is no longer running (failed elsewhere as stale): its work is of no use."""


class Stopped(Exception):
    """The worker received a stop signal."""


def default_rasa() -> Path:
    """The ``rasa`` of the interpreter running the worker (the project's ``.venv/bin/rasa``)."""
    return Path(sys.executable).with_name("rasa")


def rasa_cache_directory(environ: dict[str, str] | None = None) -> Path:
    """Rasa's training cache as the Makefile names it (RASA_CACHE_DIRECTORY when set), so a
    candidate reuses what ``make train`` trained: a directory per digest of the NLU code."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get("RASA_CACHE_DIRECTORY"):
        return Path(environ["RASA_CACHE_DIRECTORY"])
    # $(sort $(wildcard bot/nlu/*.py data/jieba/*)) data/lexicon.yml requirements.lock
    relative = sorted(
        {
            path.relative_to(ROOT).as_posix()
            for pattern in ("bot/nlu/*.py", "data/jieba/*")
            for path in ROOT.glob(pattern)
        }
    )
    digest = hashlib.sha256()
    for name in [*relative, "data/lexicon.yml", "requirements.lock"]:
        digest.update((ROOT / name).read_bytes())
    cache_home = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "im-wallet-support" / f"rasa-{digest.hexdigest()[:16]}"


def step_environment() -> dict[str, str]:
    """The environment of ``rasa train`` and the gate: the worker's, with the Makefile's
    settings for Rasa where they are missing."""
    environ = dict(os.environ)
    environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    environ.setdefault("PYTHONWARNINGS", "ignore")
    with contextlib.suppress(OSError):  # without it, Rasa's own default cache: slower, not wrong
        environ["RASA_CACHE_DIRECTORY"] = str(rasa_cache_directory(environ))
    return environ


def _die_with(worker: int) -> Callable[[], None]:
    """Run in a step's process before it starts: killed when the worker dies, so a killed
    worker leaves no training behind (Linux; elsewhere the step runs to its end)."""

    def arrange() -> None:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != worker:  # the worker died before the request took effect
                os._exit(1)

    return arrange


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Progress:
    """Reports a run's stage, percent and seconds left from its elapsed time and the expected
    duration; raises Abandoned once the run is no longer running."""

    def __init__(self, runs: TrainingRuns, run: Run, expected_seconds: float) -> None:
        self.runs = runs
        self.run = run
        self.expected = max(expected_seconds, 1.0)
        self.stage = Stage.EXPORT

    def report(self, stage: Stage | None = None) -> None:
        if stage is not None:
            self.stage = stage
            logger.info("run %s: %s", self.run.run_id, stage.value)
        elapsed = (utc_now() - self.run.started_at).total_seconds()
        left = self.expected - elapsed
        percent = min(99, int(100 * elapsed / self.expected))
        # Past the expected duration the time left is unknown, not zero.
        if not self.runs.progress(self.run.run_id, self.stage, percent, left if left > 0 else None):
            raise Abandoned(f"run {self.run.run_id} is no longer running")


def run_step(command: Sequence[str], log_path: Path, progress: Progress) -> int:
    """Runs ``command`` in the repository with its output to ``log_path``, reporting progress
    while it runs; its exit status. The process is stopped if the worker has to stop."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=step_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with(os.getpid()),  # the worker has one thread: safe
        )
    try:
        while True:
            try:
                return process.wait(timeout=HEARTBEAT_SECONDS)
            except subprocess.TimeoutExpired:
                progress.report()
    except BaseException:
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise
    finally:
        _echo(log_path)


def _echo(log_path: Path) -> None:
    """Copies a step's output to the worker's own (the run's log)."""
    sys.stdout.flush()
    try:
        with log_path.open("rb") as log:
            shutil.copyfileobj(log, sys.stdout.buffer)
    except OSError:
        pass
    sys.stdout.flush()


def export(handoff_url: str, data_dir: Path, target: Path) -> int:
    """``data_dir`` copied to ``target`` with the active labels as ``nlu/reviewed.yml``; how
    many labels."""
    try:
        labels = LabelStore.from_url(handoff_url).active()
        content = reviewed_yaml(labels)
    except LabelError as error:
        raise StepFailed(f"a label cannot become training data: {error}") from None
    except sa.exc.SQLAlchemyError as error:
        raise StepFailed(f"the labels could not be read: {first_line(error)}") from None
    try:
        if not data_dir.is_dir():
            raise StepFailed(f"no training data directory at {data_dir}")
        shutil.copytree(data_dir, target)
        (target / "nlu").mkdir(exist_ok=True)
        (target / "nlu" / "reviewed.yml").write_text(content, encoding="utf-8", newline="\n")
    except OSError as error:
        raise StepFailed(f"the training data could not be prepared: {error}") from None
    return len(labels)


def train(rasa: Path, data: Path, work: Path, progress: Progress) -> Path:
    """The candidate model trained from ``data`` into ``work``."""
    command = [
        str(rasa),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        str(data),
        "--out",
        str(work),
        "--fixed-model-name",
        CANDIDATE_NAME,
    ]
    log_path = work / "train.log"
    try:
        code = run_step(command, log_path, progress)
    except OSError as error:
        raise StepFailed(f"rasa train could not start: {error}") from None
    candidate = work / f"{CANDIDATE_NAME}.tar.gz"
    if code != 0:
        raise StepFailed(f"rasa train failed (exit code {code}):\n{log_tail(log_path)}")
    if not candidate.is_file():
        raise StepFailed(f"rasa train wrote no model:\n{log_tail(log_path)}")
    return candidate


def live_model(handoff_url: str, work: Path) -> tuple[Path, str | None]:
    """The model serving now: the published one written to ``work`` and its digest, or the
    repository's (None: nothing was published)."""
    try:
        live = ModelStore.from_url(handoff_url).live_data()
    except sa.exc.SQLAlchemyError as error:
        raise StepFailed(f"the live model could not be read: {first_line(error)}") from None
    if live is None:
        return DEFAULT_LIVE, None
    digest, data = live
    path = work / "live.tar.gz"
    try:
        path.write_bytes(data)
    except OSError as error:
        raise StepFailed(f"the live model could not be written: {error}") from None
    logger.info("live model: published %s", digest[:12])
    return path, digest


def gate(
    candidate: Path, live: Path, handoff_url: str, work: Path, progress: Progress
) -> tuple[bool, dict[str, Any]]:
    """Whether the gate passed the candidate, and its verdict."""
    verdict_path = work / "verdict.json"
    log_path = work / "gate.log"
    command = [
        sys.executable,
        "-m",
        "bot.improvement.gate",
        "--candidate",
        str(candidate),
        "--live",
        str(live),
        "--handoff-url",
        handoff_url,
        "--json",
        str(verdict_path),
    ]
    try:
        code = run_step(command, log_path, progress)
    except OSError as error:
        raise StepFailed(f"the gate could not start: {error}") from None
    if code not in (0, 1):
        raise StepFailed(f"the gate could not run (exit code {code}):\n{log_tail(log_path)}")
    try:
        verdict = json.loads(verdict_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StepFailed(f"the gate's verdict could not be read: {error}") from None
    return code == 0, verdict


def store(
    candidate: Path,
    run: Run,
    handoff_url: str,
    verdict: dict[str, Any],
    passed: bool,
    judged_against: str | None,
) -> int:
    """The candidate and its verdict in the model store; its version id.

    The store records the version live now as the one the verdict compares with: if a lead
    approved or rolled back while the gate ran, the verdict is about another model.
    """
    try:
        models = ModelStore.from_url(handoff_url)
        live = models.live()
        if (None if live is None else live.digest) != judged_against:
            raise StepFailed(
                "the live model changed while the candidate was judged; train again to judge "
                "it against the new one"
            )
        version = models.add_candidate(
            candidate.read_bytes(), run.requested_by, run.run_id, verdict, passed
        )
    except (OSError, ModelError) as error:
        raise StepFailed(f"the candidate could not be stored: {error}") from None
    except sa.exc.SQLAlchemyError as error:
        raise StepFailed(f"the candidate could not be stored: {first_line(error)}") from None
    return version.version_id


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
