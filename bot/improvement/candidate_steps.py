"""The steps of a training run, each a function the worker (``bot.improvement.train_candidate``)
calls in turn: ``export`` the labels with a copy of ``data/``, ``train`` the candidate with
``rasa train``, find the ``live_model`` and run the ``gate`` against it, ``store`` the candidate
with its verdict. A step that cannot produce its result raises ``StepFailed``, its message the
run's reason (with the last lines of the failing tool's output).

The tools run as child processes of the worker (``run_step``): in the repository, with the
Makefile's settings for Rasa and its training cache (``step_environment``), their output in the
run's log, ``Progress`` reported while they run (the run's heartbeat), stopped when the worker
has to stop and killed when it dies.
"""

from __future__ import annotations

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.improvement.export import reviewed_yaml
from bot.improvement.labels import LabelError, LabelStore, utc_now
from bot.improvement.launcher import log_tail
from bot.improvement.models import IN_SERVICE, ModelError, ModelStore
from bot.improvement.training import HEARTBEAT_SECONDS, ROOT, Run, Stage, TrainingRuns

logger = logging.getLogger(__name__)

DEFAULT_LIVE = ROOT / "models" / "wallet.tar.gz"
CANDIDATE_NAME = "candidate"
STOP_GRACE_SECONDS = 10.0  # for a step's process to end after SIGTERM, before SIGKILL
_PR_SET_PDEATHSIG = 1


class StepFailed(Exception):
    """A step could not produce its result; the message is the run's reason."""


class Abandoned(Exception):
    """The run is no longer running (failed elsewhere as stale): its work is of no use."""


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
    approved or rolled back while the gate ran, the verdict is about another model. Before the
    first candidate, the repository's model (what the servers run) is stored as the live version.
    """
    try:
        models = ModelStore.from_url(handoff_url)
        live = models.live()
        if (None if live is None else live.digest) != judged_against:
            raise StepFailed(
                "the live model changed while the candidate was judged; train again to judge "
                "it against the new one"
            )
        if live is None:
            # The first candidate: the model the servers run becomes the first version, so
            # that approving the candidate can be rolled back (read here, not in the servers).
            models.adopt(DEFAULT_LIVE.read_bytes(), IN_SERVICE)
        version = models.add_candidate(
            candidate.read_bytes(), run.requested_by, run.run_id, verdict, passed
        )
    except (OSError, ModelError) as error:
        raise StepFailed(f"the candidate could not be stored: {error}") from None
    except sa.exc.SQLAlchemyError as error:
        raise StepFailed(f"the candidate could not be stored: {first_line(error)}") from None
    return version.version_id
