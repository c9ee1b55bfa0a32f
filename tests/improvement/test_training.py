"""Training runs: one at a time across servers (also when leads start at the same moment, SQLite
and PostgreSQL), progress and its expected duration, a dead worker's run failed so a retry can
start, the audit log; the worker launched for real: bad data and a killed worker fail the run
with the reason and free it, and one full training of the repository's data with a label stores
a judged candidate."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.improvement.audit import AuditLog
from bot.improvement.inbox import grouping_key
from bot.improvement.labels import LabelStore, utc_now
from bot.improvement.launcher import launch
from bot.improvement.models import IN_SERVICE
from bot.improvement.tables import training_runs
from bot.improvement.training import (
    RunState,
    Stage,
    TrainingBusy,
    TrainingRuns,
)

ROOT = Path(__file__).resolve().parents[2]
LIVE_MODEL = ROOT / "models" / "wallet.tar.gz"
REVIEWED = ROOT / "data" / "nlu" / "reviewed.yml"


@pytest.fixture
def runs(url: str) -> Iterator[TrainingRuns]:
    runs = TrainingRuns.from_url(url)
    yield runs
    runs.engine.dispose()


def set_times(runs: TrainingRuns, run_id: int, **times: Any) -> None:
    """Moves a run's clock, as time passing would."""
    with runs.engine.begin() as connection:
        connection.execute(
            training_runs.update().where(training_runs.c.run_id == run_id).values(**times)
        )


def test_one_run_at_a_time_and_finishing_frees_it(runs: TrainingRuns) -> None:
    first = runs.start("lead-wang")
    assert first.state is RunState.RUNNING and first.stage is Stage.EXPORT
    with pytest.raises(TrainingBusy):
        runs.start("lead-li")
    assert runs.latest() == first

    assert runs.finish(first.run_id, RunState.REFUSED, version_id=7)
    assert not runs.finish(first.run_id, RunState.PASSED), "a finished run stays as it ended"
    ended = runs.get(first.run_id)
    assert ended is not None
    assert (ended.state, ended.stage, ended.percent, ended.version_id) == (
        RunState.REFUSED,
        Stage.DONE,
        100,
        7,
    )
    assert ended.finished_at is not None and ended.error is None

    second = runs.start("lead-li")
    assert second.run_id != first.run_id and runs.latest() == second


def test_leads_starting_at_once_get_one_run(runs: TrainingRuns) -> None:
    barrier = threading.Barrier(8)
    started: list[int] = []
    busy: list[str] = []

    def press(lead: str) -> None:
        barrier.wait()
        try:
            started.append(runs.start(lead).run_id)
        except TrainingBusy:
            busy.append(lead)

    threads = [threading.Thread(target=press, args=(f"lead-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 1 and len(busy) == 7


def test_progress_reports_until_the_run_ends(runs: TrainingRuns) -> None:
    run = runs.start("lead-wang")
    assert runs.progress(run.run_id, Stage.TRAIN, 40, 95.4)
    now = runs.get(run.run_id)
    assert now is not None
    assert (now.stage, now.percent, now.eta_seconds) == (Stage.TRAIN, 40, 95)
    assert now.heartbeat_at >= run.heartbeat_at
    assert now.as_dict()["stage"] == "train" and now.as_dict()["state"] == "running"

    assert runs.finish(run.run_id, RunState.FAILED, "rasa train failed (exit code 1)")
    assert not runs.progress(run.run_id, Stage.GATE, 90, 5), "the worker learns to stop"
    failed = runs.get(run.run_id)
    assert failed is not None
    assert failed.stage is Stage.TRAIN, "a failed run shows where it failed"
    assert failed.error == "rasa train failed (exit code 1)"
    with pytest.raises(ValueError):
        runs.finish(run.run_id, RunState.FAILED)  # no reason


def test_a_run_whose_worker_stopped_is_failed_and_a_retry_starts(runs: TrainingRuns) -> None:
    run = runs.start("lead-wang")
    assert runs.fail_stale(timedelta(minutes=2)) == 0, "a recent heartbeat is alive"
    set_times(runs, run.run_id, heartbeat_at=utc_now() - timedelta(minutes=5))
    assert runs.fail_stale(timedelta(minutes=2)) == 1
    failed = runs.get(run.run_id)
    assert failed is not None and failed.state is RunState.FAILED
    assert failed.error is not None and "worker stopped" in failed.error
    retry = runs.start("lead-wang")

    # A server that died mid-run: the next start fails its run first.
    set_times(runs, retry.run_id, heartbeat_at=utc_now() - timedelta(minutes=5))
    third = runs.start("lead-li")
    stale = runs.get(retry.run_id)
    assert stale is not None and stale.state is RunState.FAILED
    assert third.state is RunState.RUNNING


def test_the_expected_duration_is_the_median_of_recent_candidates(runs: TrainingRuns) -> None:
    assert runs.expected_seconds() is None
    durations = [500, 60, 100, 200, 90, 120]  # oldest first; the 500 s one is too old to count
    for seconds in durations:
        run = runs.start("lead-wang")
        runs.finish(run.run_id, RunState.PASSED)
        finished = utc_now() + timedelta(minutes=run.run_id)
        set_times(
            runs,
            run.run_id,
            started_at=finished - timedelta(seconds=seconds),
            finished_at=finished,
        )
    failed = runs.start("lead-wang")  # a failed run produced nothing: it does not count
    runs.finish(failed.run_id, RunState.FAILED, "bad data")
    set_times(runs, failed.run_id, finished_at=utc_now() + timedelta(hours=1))
    assert runs.expected_seconds() == 100.0  # median of 60, 100, 200, 90, 120


def test_starting_and_finishing_are_in_the_audit_log(runs: TrainingRuns, url: str) -> None:
    run = runs.start("lead-wang")
    runs.finish(run.run_id, RunState.PASSED, version_id=3)
    failed = runs.start("lead-li")
    runs.finish(failed.run_id, RunState.FAILED, "the gate could not run")
    log = AuditLog.from_url(url)
    entries = [(e.actor, e.action, e.details) for e in reversed(log.entries())]
    log.engine.dispose()
    assert entries == [
        ("lead-wang", "train", {"run_id": run.run_id}),
        ("lead-wang", "train_passed", {"run_id": run.run_id, "version_id": 3}),
        ("lead-li", "train", {"run_id": failed.run_id}),
        ("lead-li", "train_failed", {"run_id": failed.run_id, "error": "the gate could not run"}),
    ]


# The worker, launched for real.


def file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture
def sqlite_runs(tmp_path: Path) -> Iterator[tuple[str, TrainingRuns]]:
    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    runs = TrainingRuns.from_url(url)
    yield url, runs
    runs.engine.dispose()


@pytest.fixture
def untouched() -> Iterator[None]:
    """Asserts the repository's served model and training data are as before."""
    before = file_digest(LIVE_MODEL), file_digest(REVIEWED)
    yield
    assert (file_digest(LIVE_MODEL), file_digest(REVIEWED)) == before


def broken_data(tmp_path: Path) -> Path:
    """The repository's data with one NLU file Rasa cannot read."""
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    (data / "nlu" / "broken.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: [network_fee\n', encoding="utf-8"
    )
    return data


def test_bad_training_data_fails_the_run_with_rasas_reason(
    sqlite_runs: tuple[str, TrainingRuns],
    tmp_path: Path,
    run: Callable[..., Any],
    untouched: None,
) -> None:
    url, runs = sqlite_runs
    training = runs.start("lead-wang")
    worker = run(
        launch(
            training,
            url,
            runs,
            log_dir=tmp_path / "logs",
            worker_args=["--data", str(broken_data(tmp_path))],
        )
    )
    assert run(asyncio.wait_for(worker.done, 120)) == 2
    failed = runs.get(training.run_id)
    assert failed is not None and failed.state is RunState.FAILED
    assert failed.stage is Stage.TRAIN
    assert failed.error is not None
    assert failed.error.startswith("rasa train failed (exit code 1)")
    assert "broken.yml" in failed.error, "the reason names the file Rasa could not read"
    log = worker.log_path.read_text(encoding="utf-8")
    assert "Traceback" not in log
    assert list((tmp_path / "logs").iterdir()) == [worker.log_path], "no working files left"
    assert runs.start("lead-wang").state is RunState.RUNNING, "a retry can start"


def test_a_worker_that_cannot_run_rasa_fails_the_run(
    sqlite_runs: tuple[str, TrainingRuns], tmp_path: Path, run: Callable[..., Any]
) -> None:
    url, runs = sqlite_runs
    training = runs.start("lead-wang")
    worker = run(
        launch(
            training,
            url,
            runs,
            log_dir=tmp_path,
            worker_args=["--rasa", str(tmp_path / "no-such-rasa")],
        )
    )
    assert run(asyncio.wait_for(worker.done, 60)) == 2
    failed = runs.get(training.run_id)
    assert failed is not None and failed.error is not None
    assert failed.error.startswith("rasa train could not start")
    assert "Traceback" not in worker.log_path.read_text(encoding="utf-8")


def rasa_train_of(pid: int) -> list[int]:
    """The ``rasa train`` processes ``pid`` started."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid and b"train" in command and any(b"rasa" in p for p in command):
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    ("stop", "code", "reason"),
    [
        (
            signal.SIGKILL,
            -signal.SIGKILL,
            "the training worker stopped (killed by SIGKILL) at the train step",
        ),
        (signal.SIGTERM, 2, "the training worker was stopped (SIGTERM)"),
    ],
)
def test_a_killed_worker_fails_the_run_and_leaves_no_training_behind(
    sqlite_runs: tuple[str, TrainingRuns],
    tmp_path: Path,
    run: Callable[..., Any],
    untouched: None,
    stop: signal.Signals,
    code: int,
    reason: str,
) -> None:
    url, runs = sqlite_runs
    training = runs.start("lead-wang")
    worker = run(launch(training, url, runs, log_dir=tmp_path / "logs"))
    try:
        deadline = time.monotonic() + 60
        rasa: list[int] = []
        while not rasa and time.monotonic() < deadline:
            run(asyncio.sleep(0.2))
            rasa = rasa_train_of(worker.pid)
        assert rasa, "the worker started rasa train"
        run(asyncio.sleep(2))  # rasa at work
        current = runs.get(training.run_id)
        assert current is not None and current.stage is Stage.TRAIN
        os.kill(worker.pid, stop)
        assert run(asyncio.wait_for(worker.done, 30)) == code
    finally:
        if not worker.done.done():
            os.kill(worker.pid, signal.SIGKILL)
            run(worker.done)
    failed = runs.get(training.run_id)
    assert failed is not None and failed.state is RunState.FAILED
    assert failed.error is not None
    assert failed.error.startswith(reason)
    deadline = time.monotonic() + 10
    while alive(rasa[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(rasa[0]), "rasa train ended with its worker"
    assert list((tmp_path / "logs").iterdir()) == [worker.log_path], "its files were removed"
    assert runs.start("lead-wang").state is RunState.RUNNING, "a retry can start"


def test_the_worker_refuses_a_run_that_is_not_running(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    runs = TrainingRuns.from_url(url)
    done = runs.start("lead-wang")
    runs.finish(done.run_id, RunState.FAILED, "bad data")
    command = [sys.executable, "-m", "bot.improvement.train_candidate"]
    result = subprocess.run(
        [*command, "--run", str(done.run_id), "--handoff-url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: run {done.run_id} is not a running training run"
    after = runs.get(done.run_id)
    assert after is not None and after.error == "bad data"


# A full training, about two minutes: the repository's data and one label, judged by the gate.


def test_a_real_training_run_stores_a_judged_candidate(
    sqlite_runs: tuple[str, TrainingRuns],
    tmp_path: Path,
    run: Callable[..., Any],
    untouched: None,
) -> None:
    from bot.improvement.models import ModelStore

    url, runs = sqlite_runs
    text = "矿工费怎么突然这么贵了啊"
    LabelStore.from_url(url).label(
        text, grouping_key(text), "network_fee", "lead-wang", known_intents={"network_fee"}
    )
    training = runs.start("lead-wang")
    started = time.monotonic()
    worker = run(launch(training, url, runs, log_dir=tmp_path / "logs"))
    seen: set[tuple[str, int]] = set()
    while not worker.done.done():
        run(asyncio.sleep(1))
        current = runs.get(training.run_id)
        assert current is not None
        seen.add((current.stage.value, current.percent))
    code = worker.done.result()
    elapsed = time.monotonic() - started
    log = worker.log_path.read_text(encoding="utf-8")
    steps = [line for line in log.splitlines() if f"run {training.run_id}:" in line]
    print(f"candidate trained and judged in {elapsed:.1f} s", *steps, sep="\n")
    finished = runs.get(training.run_id)
    assert finished is not None
    assert finished.state in (RunState.PASSED, RunState.REFUSED), finished.error or log[-3000:]
    assert code == (0 if finished.state is RunState.PASSED else 1)
    assert finished.version_id is not None
    assert {stage for stage, _ in seen} >= {"train", "gate"}
    assert len({percent for stage, percent in seen if stage == "train"}) > 1, "progress moved"
    assert runs.expected_seconds() is not None
    store = ModelStore.from_url(url)
    version = store.get(finished.version_id)
    assert version.run_id == training.run_id and version.created_by == "lead-wang"
    assert version.verdict is not None
    assert version.verdict["passed"] is (finished.state is RunState.PASSED)
    assert version.verdict["regression_examples"] == 1, "judged on the lead's label"
    # The model in service became the first version; the candidate waits for a lead's approval.
    live = store.live()
    assert live is not None and live.created_by == IN_SERVICE
    assert live.version_id != finished.version_id
    store.engine.dispose()
