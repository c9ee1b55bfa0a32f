"""`make bench-training`: serving latency while a candidate model trains on the same machine.

Starts the embedded stack (one Rasa server, one action server, SQLite) as `make bench` does and
drives `make bench`'s mixed load (conversations of ten turns, REST and socket.io, FAQ, look-ups
and unsure messages) twice: once with nothing else running, and once while the improvement loop
trains a candidate (one new label in the handoff database, a run of ``TrainingRuns`` and its
niced worker, as the review page starts one). The second load starts as soon as the worker is
at the train stage and is driven again round after round while the run is running; a round
counts only if the run was still running when it ended, so no turn served after training is
counted. Prints messages, msg/s, p50/p95/p99 and errors for both, and the run's time from start
to end (and of its train stage) and the gate's verdict. A failed run prints its reason and
exits 1.

Then it releases that candidate on the production stack (two servers, PostgreSQL, Redis): the
candidate is stored in its handoff database, approved as the review page approves it, and the
time until both servers report it on ``/metrics`` (``im_model_info``) is printed; the same for
the rollback to the model they started with.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.improvement.inbox import grouping_key
from bot.improvement.labels import LabelStore
from bot.improvement.launcher import launch
from bot.improvement.models import IN_SERVICE, ModelStore, digest_of
from bot.improvement.training import Run, RunState, Stage, TrainingRuns
from scripts.bench import FAQ, IDENTITY_SECRET, UNLIMITED, Tally, aligned, drive, percentile, serial
from scripts.local_stack import ROOT, LocalStack
from scripts.production_stack import ProductionStack
from tests.support.http import Http

# Something the candidate has not seen, so that the run trains rather than reuses everything.
LABEL = ("能不能装下我的小猫币", "supported_coins")
LEAD = "bench"
POLL_SECONDS = 0.2


@dataclass
class Load:
    """Rounds of the mixed load: their replies together, and the seconds they took."""

    tally: Tally = field(default_factory=Tally)
    seconds: float = 0.0
    rounds: int = 0

    def add(self, other: Load) -> None:
        self.tally.merge(other.tally)
        self.seconds += other.seconds
        self.rounds += other.rounds

    @property
    def messages(self) -> int:
        return len(self.tally.latencies) + self.tally.unanswered

    def cells(self, setup: str) -> list[str]:
        ms = self.tally.latencies
        if not ms:
            return [setup, "0", "-", "-", "-", "-", str(self.tally.errors)]
        return [
            setup,
            str(self.messages),
            f"{self.messages / self.seconds:.0f}",
            f"{statistics.median(ms):.0f}",
            f"{percentile(ms, 0.95):.0f}",
            f"{percentile(ms, 0.99):.0f}",
            str(self.tally.errors + self.tally.unanswered),
        ]


async def load_round(stack: LocalStack, args: argparse.Namespace, prefix: str) -> Load:
    """One round of `make bench`'s mixed load on the embedded stack."""
    rest, sockets, seconds = await drive(
        [stack.rest_url], [stack.base_url], args.conversations, args.concurrency, prefix
    )
    load = Load(seconds=seconds, rounds=1)
    load.tally.merge(rest)
    load.tally.merge(sockets)
    return load


def add_label(handoff_url: str) -> None:
    """One lead's label, so that the candidate's data differ from the live model's."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    text, intent = LABEL
    LabelStore.from_url(handoff_url).label(
        text, grouping_key(text), intent, LEAD, known_intents=domain["intents"]
    )


@dataclass
class Training:
    """What the load during a training run measured, and the run as it ended."""

    load: Load
    dropped: int  # messages of the round the run ended in, left out
    run: Run
    train_seconds: float | None  # the train stage, as polled


async def during_training(stack: LocalStack, args: argparse.Namespace) -> Training:
    """Starts a training run, drives the load while it runs, and waits for its end."""
    runs = await asyncio.to_thread(TrainingRuns.from_url, stack.handoff_url)
    run = await asyncio.to_thread(runs.start, LEAD)
    worker = await launch(run, stack.handoff_url, runs, log_dir=stack.workdir / "training")
    seen: dict[Stage, float] = {}

    async def current() -> Run:
        latest = await asyncio.to_thread(runs.get, run.run_id)
        assert latest is not None
        seen.setdefault(latest.stage, time.monotonic())
        return latest

    async def watch() -> None:  # when each stage began, for the train stage's time
        while (await current()).running:
            await asyncio.sleep(POLL_SECONDS)

    try:
        while (latest := await current()).running and latest.stage is Stage.EXPORT:
            await asyncio.sleep(POLL_SECONDS)
        watcher = asyncio.create_task(watch())
        load, dropped = Load(), 0
        while latest.running:
            this_round = await load_round(stack, args, f"train-{load.rounds + dropped}")
            latest = await current()
            if latest.running:
                load.add(this_round)
            else:
                dropped += this_round.messages
        await watcher
        await worker.done
        final = await current()
    finally:
        if not worker.done.done():  # interrupted: the worker stops rasa and fails the run
            os.kill(worker.pid, signal.SIGTERM)
            await worker.done
    train_seconds = None
    if Stage.TRAIN in seen and Stage.GATE in seen:
        train_seconds = seen[Stage.GATE] - seen[Stage.TRAIN]
    return Training(load, dropped, final, train_seconds)


def running_everywhere(production: ProductionStack, digest: str, limit: float = 120) -> float:
    """Seconds until every server's /metrics names the model ``digest``."""
    started = time.monotonic()
    wanted = f'im_model_info{{digest="{digest[:12]}"}} 1'
    while not all(
        wanted in Http.to(url).get("/metrics", timeout=10).text for url in production.base_urls
    ):
        if time.monotonic() - started > limit:
            raise RuntimeError(f"the servers did not switch to {digest[:12]} in {limit} s")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def release(work: Path, candidate: bytes) -> tuple[float, float]:
    """Seconds from approval, then from rollback, until both production servers run the model."""
    with ProductionStack(work / "production", servers=2, settings=UNLIMITED) as production:
        store = ModelStore.from_url(production.store_urls["HANDOFF_DB_URL"])
        # As the training worker does before the first candidate: the model in service first.
        started_with = store.adopt((ROOT / "models" / "wallet.tar.gz").read_bytes(), IN_SERVICE)
        assert started_with is not None
        version = store.add_candidate(candidate, LEAD, None, None, passed=True)
        store.approve(version.version_id, LEAD)
        approved = running_everywhere(production, digest_of(candidate))
        store.rollback(LEAD)
        rolled_back = running_everywhere(production, started_with.digest)
    return approved, rolled_back


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="im-bench-training-"))

    print("embedded default: one Rasa server, one action server, SQLite")
    stack = LocalStack(work / "embedded", identity_secret=IDENTITY_SECRET, settings=UNLIMITED)
    stack.seed()
    try:
        stack.start_actions()
        stack.start_rasa()
        serial(stack.rest_url, [FAQ[n % len(FAQ)] for n in range(30)], "warm")
        print("mixed load without training ...")
        idle = asyncio.run(load_round(stack, args, "idle"))
        add_label(stack.handoff_url)
        print("mixed load while a candidate trains ...")
        training = asyncio.run(during_training(stack, args))
    finally:
        stack.stop_all()

    run = training.run
    if run.state is RunState.FAILED:
        print(f"the training run failed at the {run.stage.value} step:\n{run.error}")
        return 1
    print()
    print(
        f"{args.conversations} conversations of 10 turns, {args.concurrency} at a time, "
        "REST + socket.io (FAQ, look-ups, unsure messages):"
    )
    header = ["setup", "messages", "msg/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
    count = training.load.rounds
    rounds = f"during training ({count} round{'' if count == 1 else 's'})"
    table = [header, idle.cells("no training"), training.load.cells(rounds)]
    print("\n".join(aligned(table, left=1)))
    if not training.load.rounds:
        print("the run ended before a whole round of the load: no figures during training")
    if training.dropped:
        print(f"({training.dropped} messages of the round the run ended in are left out)")
    assert run.finished_at is not None
    total = (run.finished_at - run.started_at).total_seconds()
    stage = (
        "" if training.train_seconds is None else f", train stage {training.train_seconds:.0f} s"
    )
    print(
        f"candidate: {total:.0f} s from start to end under the load{stage}; gate: {run.state.value}"
    )
    assert run.version_id is not None
    candidate = ModelStore.from_url(stack.handoff_url).data_of(run.version_id)
    print("releasing the candidate on the production stack (2 servers) ...")
    approved, rolled_back = release(work, candidate)
    print(
        f"approve to both servers running it: {approved:.1f} s; "
        f"rollback to both running the old model: {rolled_back:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
