"""`make bench`: reply latency and throughput through the real channels, and a reference.

Drives conversations of about ten turns through the REST channel and the socket.io widget,
mixing FAQ turns (Rasa alone), wallet look-ups (action server and wallet store) and messages the
classifier is unsure about (clarifying buttons), and prints per setup: p50/p95/p99 reply latency,
messages per second, errors, lost and duplicated replies (counted in the conversation store
afterwards: every message sent must be stored exactly once) and the servers' memory. Where the
time of a serial FAQ turn and of a look-up turn goes, stage by stage, is read from the embedded
server's ``im_turn_stage_seconds`` (``/metrics``) before and after those turns.

Setups, in one run: the embedded default (one Rasa server, one action server, SQLite), the
production setup (PostgreSQL and Redis, `scripts/production_stack.py`) with one and with two
servers, and a reference: a bare `rasa init` assistant with Rasa's default configuration
(trained once into var/bench-reference/), driven the same way through its REST channel. With
several servers every message of a conversation goes to the next server in turn, as a
round-robin load balancer without sticky sessions does; a client that cannot reach a server
resends the message, with the same message_id, to the next one.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import socketio
import sqlalchemy as sa

from bot.channels.metrics import ACTION, NLU, POLICIES, STAGES, STORE_SAVE
from bot.channels.widget import conversation_of
from bot.wallet import demo_data
from scripts.local_stack import QUIET, ROOT, LocalStack, free_port, stop, widget_token
from scripts.local_stack import wait_for_http as wait_for
from scripts.production_stack import ProductionStack
from scripts.round_robin import rest_turn

IDENTITY_SECRET = "bench-identity-secret"
REFERENCE_DIR = ROOT / "var" / "bench-reference"
# A conversation's pace is its own: the bench must measure the servers, not the rate limit.
UNLIMITED = {"RATE_LIMIT_BURST": "1000000", "RATE_LIMIT_PER_MINUTE": "1000000"}
FAQ = [
    "人工客服几点上班",
    "怎么备份助记词",
    "矿工费怎么算",
    "你们支持哪些币",
    "怎么创建钱包",
    "充值提币要多久到账",
    "支付密码忘了怎么办",
    "怎么保护账户安全",
]
LOOKUPS = [
    f"这笔转账一直pending {demo_data.TX_PENDING_LOW_FEE}",
    f"帮我查下这笔 {demo_data.TX_CONFIRMED} 到账没有",
    "我的账户被锁了吗",
]
UNSURE = ["嗯嗯那个东西", "蓝色的大象会飞吗", "asdkjh qwe"]
TURN_TIMEOUT = 30.0
# A look-up through REST without an account: no hash the secret guard would hide.
LOOKUP = "我的账户被锁了吗"
# A turn's stages, and Rasa's processing of the message (the reply latency), in /metrics.
TIMES = re.compile(
    r'^im_(turn_stage|reply_latency)_seconds_(sum|count)(?:\{stage="(\w+)"\})? (\S+)$', re.M
)
RASA = "rasa"
IN_RASA = {NLU, POLICIES, ACTION, STORE_SAVE}


@dataclass(frozen=True)
class Turn:
    text: str


def script(index: int, turns: int = 10) -> list[Turn]:
    """A conversation: mostly FAQ, some look-ups, a message the classifier is unsure about."""
    plan: list[Turn] = []
    for turn in range(turns):
        slot = (index + turn) % 10
        if slot in (3, 7):
            plan.append(Turn(LOOKUPS[(index + turn) % len(LOOKUPS)]))
        elif slot == 5:
            plan.append(Turn(UNSURE[(index + turn) % len(UNSURE)]))
        else:
            plan.append(Turn(FAQ[(index + turn) % len(FAQ)]))
    return plan


@dataclass
class Tally:
    """What one run measured."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    unanswered: int = 0
    sent: dict[str, int] = field(default_factory=dict)  # conversation -> messages sent

    def merge(self, other: Tally) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.unanswered += other.unanswered
        self.sent.update(other.sent)


@dataclass
class Row:
    setup: str
    channel: str
    messages: int
    seconds: float
    tally: Tally
    lost: int | None
    duplicated: int | None
    memory_mb: float | None

    def cells(self) -> list[str]:
        ms = sorted(self.tally.latencies)
        pick = (lambda share: f"{ms[min(int(share * len(ms)), len(ms) - 1)]:.0f}") if ms else None
        return [
            self.setup,
            self.channel,
            str(self.messages),
            f"{self.messages / self.seconds:.0f}",
            f"{statistics.mean(ms):.0f}" if ms else "-",
            f"{statistics.median(ms):.0f}" if ms else "-",
            pick(0.95) if pick else "-",
            pick(0.99) if pick else "-",
            str(self.tally.errors + self.tally.unanswered),
            "-" if self.lost is None else str(self.lost),
            "-" if self.duplicated is None else str(self.duplicated),
            "-" if self.memory_mb is None else f"{self.memory_mb:.0f}",
        ]


HEADER = [
    "setup",
    "channel",
    "messages",
    "msg/s",
    "mean ms",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "errors",
    "lost",
    "dup",
    "RSS MB",
]


async def rest_conversation(
    session: aiohttp.ClientSession, urls: Sequence[str], sender: str, plan: list[Turn]
) -> Tally:
    tally = Tally(sent={sender: 0})
    headers: dict[str, str] = {}
    for number, turn in enumerate(plan):
        body: dict[str, object] = {
            "sender": sender,
            "message": turn.text,
            "message_id": f"{sender}-{number}",
        }
        started = time.perf_counter()
        try:
            replies = await rest_turn(session, urls, number, body, headers)
        except Exception:
            tally.errors += 1
            continue
        tally.sent[sender] += 1
        if not replies:
            tally.unanswered += 1
            continue
        tally.latencies.append((time.perf_counter() - started) * 1000)
    return tally


async def socket_conversation(base_url: str, account: str, plan: list[Turn]) -> Tally:
    conversation = conversation_of(account, IDENTITY_SECRET.encode())
    tally = Tally(sent={conversation: 0})
    replies: asyncio.Queue[object] = asyncio.Queue()
    client = socketio.AsyncClient(reconnection=False)
    client.on("bot_uttered", replies.put_nowait)
    token = widget_token(account, minutes=30)
    try:
        # Long-polling: engine.io's websocket client needs a newer aiohttp than Rasa 3.6 allows.
        # A second or more to connect is slow, not a failure: python-socketio waits only 1 s.
        await client.connect(
            base_url,
            socketio_path="/socket.io",
            auth={"token": token},
            transports=["polling"],
            wait_timeout=TURN_TIMEOUT,
        )
    except Exception:
        tally.errors += len(plan)
        return tally
    try:
        for turn in plan:
            while not replies.empty():  # late extra messages of the turn before
                replies.get_nowait()
            started = time.perf_counter()
            await client.emit("user_uttered", {"message": turn.text})
            tally.sent[conversation] += 1
            try:
                await asyncio.wait_for(replies.get(), TURN_TIMEOUT)
            except asyncio.TimeoutError:
                tally.unanswered += 1
                continue
            tally.latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await client.disconnect()
    return tally


async def drive(
    rest_urls: Sequence[str],
    socket_urls: Sequence[str],
    conversations: int,
    concurrency: int,
    prefix: str,
) -> tuple[Tally, Tally, float]:
    """Runs ``conversations`` conversations, ``concurrency`` at a time, half of them on socket.io
    when ``socket_urls`` is given; returns the REST and socket.io tallies and the seconds taken."""
    gate = asyncio.Semaphore(concurrency)
    rest, sockets = Tally(), Tally()
    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT)
    servers = itertools.cycle(socket_urls or [""])

    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(index: int) -> None:
            async with gate:
                plan = script(index)
                if socket_urls and index % 2:
                    sockets.merge(
                        await socket_conversation(next(servers), f"{prefix}-{index}", plan)
                    )
                else:
                    shift = index % len(rest_urls)
                    urls = [*rest_urls[shift:], *rest_urls[:shift]]
                    rest.merge(await rest_conversation(session, urls, f"{prefix}-{index}", plan))

        started = time.perf_counter()
        await asyncio.gather(*(one(index) for index in range(conversations)))
        return rest, sockets, time.perf_counter() - started


def stored_counts(tracker_url: str, senders: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Per conversation: user messages stored, and of those distinct message ids."""
    engine = sa.create_engine(tracker_url)
    counts: dict[str, tuple[int, int]] = {}
    with engine.connect() as connection:
        for sender in senders:
            rows = connection.execute(
                sa.text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user'"),
                {"s": sender},
            ).fetchall()
            ids = {json.loads(row[0]).get("message_id") for row in rows}
            counts[sender] = (len(rows), len(ids))
    engine.dispose()
    return counts


def settled_counts(
    tracker_url: str, sent: dict[str, int], settle_seconds: float = 10.0
) -> dict[str, tuple[int, int]]:
    """``stored_counts`` once every message ``sent`` is stored, or after ``settle_seconds``.

    The widget's replies reach the client while the turn runs, before the server stores it, so
    the last turns may still be on their way to the store when the clients are done: a message
    counts as lost only when it is still missing after ``settle_seconds``.
    """
    deadline = time.monotonic() + settle_seconds
    while True:
        counts = stored_counts(tracker_url, list(sent))
        if not losses(sent, counts)[0] or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


def losses(sent: dict[str, int], counts: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """Of the messages ``sent`` per conversation: those never stored, and those stored twice."""
    lost = sum(max(number - counts[sender][1], 0) for sender, number in sent.items())
    duplicated = sum(counts[sender][0] - counts[sender][1] for sender in sent)
    return lost, duplicated


def lost_and_duplicated(tracker_url: str, tally: Tally) -> tuple[int, int]:
    return losses(tally.sent, settled_counts(tracker_url, tally.sent))


def channel_rows(
    setup: str, tracker_url: str, rest: Tally, sockets: Tally, seconds: float, memory: float
) -> list[Row]:
    """One row for both channels together (with the servers' memory), then one for each."""
    both = Tally()
    both.merge(rest)
    both.merge(sockets)
    counts = settled_counts(tracker_url, both.sent)
    rows = []
    for name, part in (("REST+socket.io", both), ("REST", rest), ("socket.io", sockets)):
        lost, duplicated = losses(part.sent, counts)
        count = len(part.latencies) + part.unanswered
        rows.append(
            Row(
                setup,
                name,
                count,
                seconds,
                part,
                lost,
                duplicated,
                memory if part is both else None,
            )
        )
    return rows


def rss_mb(pids: Sequence[int]) -> float:
    """Resident memory of the processes (and their children), from /proc."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def serial(url: str, texts: Sequence[str], prefix: str, turns: int = 10) -> list[float]:
    """Latencies of messages sent one at a time, ``turns`` per conversation."""

    async def run() -> list[float]:
        timings: list[float] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for number, text in enumerate(texts):
                body = {"sender": f"{prefix}-{number // turns}", "message": text}
                started = time.perf_counter()
                async with session.post(url, json=body) as response:
                    await response.read()
                timings.append((time.perf_counter() - started) * 1000)
        return timings

    return asyncio.run(run())


def stage_totals(base_url: str) -> dict[str, tuple[float, int]]:
    """Seconds and runs so far per stage of a turn, and of Rasa's processing (``RASA``), read
    from the server's /metrics."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    totals = dict.fromkeys([*STAGES, RASA], (0.0, 0))
    for metric, kind, stage, value in TIMES.findall(text):
        key = stage if metric == "turn_stage" else RASA
        seconds, runs = totals[key]
        totals[key] = (float(value), runs) if kind == "sum" else (seconds, int(float(value)))
    return totals


@dataclass(frozen=True)
class Stages:
    """Where the time of serial turns went: the totals of ``stage_totals`` before and after
    them, and their latencies as the client saw them (ms)."""

    before: dict[str, tuple[float, int]]
    after: dict[str, tuple[float, int]]
    latencies: list[float]

    def ms_per_turn(self, key: str) -> float:
        return (self.after[key][0] - self.before[key][0]) * 1000 / len(self.latencies)

    def lines(self) -> list[str]:
        """A table: per stage, ms and share of the turn, and runs per turn; then the rest of
        Rasa's processing (reading the tracker, domain responses, bookkeeping) and the rest
        around it (HTTP, the typed-button check, sending the replies)."""
        turns = len(self.latencies)
        turn_ms = statistics.mean(self.latencies)
        rasa_ms = self.ms_per_turn(RASA)
        entries: list[tuple[str, float, float | None]] = [
            (stage, self.ms_per_turn(stage), (self.after[stage][1] - self.before[stage][1]) / turns)
            for stage in STAGES
        ]
        inside = sum(self.ms_per_turn(stage) for stage in STAGES if stage in IN_RASA)
        around = sum(self.ms_per_turn(stage) for stage in STAGES if stage not in IN_RASA)
        entries += [
            ("other in Rasa", rasa_ms - inside, None),
            ("other around it", turn_ms - rasa_ms - around, None),
            ("turn (client)", turn_ms, None),
        ]
        table = [["stage", "ms/turn", "share", "runs/turn"]] + [
            [name, f"{ms:.2f}", f"{ms / turn_ms:.0%}", "-" if runs is None else f"{runs:.1f}"]
            for name, ms, runs in entries
        ]
        return ["  " + line for line in aligned(table, left=1)]


def staged_serial(base_url: str, texts: Sequence[str], prefix: str) -> Stages:
    """``serial`` turns between two reads of the stages' totals."""
    before = stage_totals(base_url)
    latencies = serial(f"{base_url}/webhooks/rest/webhook", texts, prefix)
    return Stages(before, stage_totals(base_url), latencies)


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def reference_model() -> Path:
    """A bare `rasa init` assistant, trained once with Rasa's default configuration."""
    models = REFERENCE_DIR / "models"
    existing = sorted(models.glob("*.tar.gz")) if models.exists() else []
    if existing:
        return existing[-1]
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    print("training the reference (`rasa init`, Rasa's default configuration) once ...")
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rasa"), "init", "--no-prompt", "--init-dir", "."],
        cwd=REFERENCE_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**QUIET, "PATH": str(ROOT / ".venv" / "bin") + ":/usr/bin:/bin"},
    )
    return sorted(models.glob("*.tar.gz"))[-1]


def start_reference(model: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "rasa"),
            "run",
            "--model",
            str(model),
            "--port",
            str(port),
            "--interface",
            "127.0.0.1",
            "--credentials",
            "credentials.yml",
        ],
        cwd=REFERENCE_DIR,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        env={**QUIET, "PATH": str(ROOT / ".venv" / "bin") + ":/usr/bin:/bin"},
    )
    wait_for(f"http://127.0.0.1:{port}/", timeout=180)
    return process


def aligned(table: Sequence[Sequence[str]], left: int = 0) -> list[str]:
    """The rows of ``table`` in columns: the first ``left`` flush left, the others flush right."""
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]))]
    return [
        "  ".join(
            cell.ljust(width) if column < left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    ]


def print_table(rows: Sequence[Row]) -> None:
    print("\n".join(aligned([HEADER, *(row.cells() for row in rows)])))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--serial", type=int, default=300, help="serial FAQ turns")
    parser.add_argument("--lookups", type=int, default=50, help="serial look-up turns")
    parser.add_argument("--skip-production", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="im-bench-"))
    rows: list[Row] = []
    serial_texts = [FAQ[n % len(FAQ)] for n in range(args.serial)]
    warm = [FAQ[n % len(FAQ)] for n in range(30)]

    print("embedded default: one Rasa server, one action server, SQLite")
    stack = LocalStack(work / "embedded", identity_secret=IDENTITY_SECRET, settings=UNLIMITED)
    stack.seed()
    try:
        stack.start_actions()
        stack.start_rasa()
        serial(stack.rest_url, warm, "warm")
        faq_stages = staged_serial(stack.base_url, serial_texts, "serial")
        ours = faq_stages.latencies
        lookup_stages = staged_serial(stack.base_url, [LOOKUP] * args.lookups, "lookup")
        first_turns, fiftieth = [], []
        for repeat in range(5):
            long_talk = [FAQ[n % len(FAQ)] for n in range(50)]
            timings = serial(stack.rest_url, long_talk, f"long-{repeat}", turns=50)
            first_turns.append(statistics.median(timings[:5]))
            fiftieth.append(statistics.median(timings[-5:]))
        rest, sockets, seconds = asyncio.run(
            drive([stack.rest_url], [stack.base_url], args.conversations, args.concurrency, "emb")
        )
        memory = rss_mb([p.pid for p in (stack.rasa, stack.actions) if p is not None])
        tracker_url = f"sqlite:///{stack.workdir / 'tracker.db'}"
        rows += channel_rows("embedded", tracker_url, rest, sockets, seconds, memory)
        embedded_rest_only = asyncio.run(
            drive([stack.rest_url], [], args.conversations, args.concurrency, "emb-rest")
        )
    finally:
        stack.stop_all()
    rest_only, _, rest_seconds = embedded_rest_only
    rest_only_row = Row(
        "embedded",
        "REST only",
        len(rest_only.latencies) + rest_only.unanswered,
        rest_seconds,
        rest_only,
        *lost_and_duplicated(f"sqlite:///{stack.workdir / 'tracker.db'}", rest_only),
        None,
    )
    rows.append(rest_only_row)

    print("reference: a bare `rasa init` assistant with Rasa's default configuration")
    model = reference_model()
    port = free_port()
    reference = start_reference(model, port, work / "reference.log")
    reference_url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    try:
        serial(reference_url, warm, "warm")
        theirs = serial(reference_url, serial_texts, "serial")
        ref_tally, _, ref_seconds = asyncio.run(
            drive([reference_url], [], args.conversations, args.concurrency, "ref")
        )
        ref_memory = rss_mb([reference.pid])
    finally:
        stop(reference)
    reference_row = Row(
        "reference",
        "REST only",
        len(ref_tally.latencies) + ref_tally.unanswered,
        ref_seconds,
        ref_tally,
        None,
        None,
        ref_memory,
    )
    rows.append(reference_row)

    if not args.skip_production:
        for servers in (1, 2):
            print(f"production setup: PostgreSQL, Redis, {servers} server(s)")
            settings = {**UNLIMITED, "IDENTITY_SECRET": IDENTITY_SECRET}
            with ProductionStack(
                work / f"production-{servers}", servers=servers, settings=settings
            ) as production:
                for node in production.nodes:
                    serial(node.rest_url, warm, f"warm-{node.rasa_port}")
                rest, sockets, seconds = asyncio.run(
                    drive(
                        production.rest_urls,
                        production.base_urls,
                        args.conversations,
                        args.concurrency,
                        f"prod{servers}",
                    )
                )
                pids = [p.pid for n in production.nodes for p in (n.rasa, n.actions) if p]
                rows += channel_rows(
                    f"production x{servers}",
                    production.postgres.url("tracker"),
                    rest,
                    sockets,
                    seconds,
                    rss_mb(pids),
                )

    print()
    print(f"serial FAQ turns through REST ({args.serial}, one at a time), ms:")
    for name, timings in (("embedded default", ours), ("reference", theirs)):
        print(
            f"  {name:18} p50 {statistics.median(timings):6.1f}   p95 "
            f"{percentile(timings, 0.95):6.1f}   p99 {percentile(timings, 0.99):6.1f}"
        )
    print(
        f"  conversation growth (embedded): turns 1-5 p50 {statistics.median(first_turns):.1f} ms,"
        f" turns 46-50 p50 {statistics.median(fiftieth):.1f} ms"
    )
    for name, stages in (("serial FAQ", faq_stages), ("look-up", lookup_stages)):
        print()
        print(f"where the time of a {name} turn goes (embedded, {len(stages.latencies)} turns):")
        print("\n".join(stages.lines()))
    print()
    print(
        f"{args.conversations} conversations of 10 turns, {args.concurrency} at a time "
        "(FAQ, look-ups, unsure messages):"
    )
    print_table(rows)
    ratio = (rest_only_row.messages / rest_only_row.seconds) / (
        reference_row.messages / reference_row.seconds
    )
    p50_ratio = statistics.median(ours) / statistics.median(theirs)
    print()
    print(
        f"embedded vs reference through REST: {ratio:.1f}x the throughput, "
        f"{p50_ratio:.2f}x the serial p50"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
