"""`make leak-check`: whether one server's memory stays flat over 50,000 turns.

Starts the embedded default (one Rasa server, one action server, SQLite) and drives `make bench`'s
conversations through it, 10 turns each, half through REST and half through the socket.io
widget, 20 at a time, in rounds of 10,000 turns. After each round it prints the servers' resident
memory (Rasa and action server together). The checks are issue 15's: at most 600 MB after
10,000 turns, and after 50,000 turns within 5 % of that. It exits 1 when either fails, or when a
turn got no answer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.bench import IDENTITY_SECRET, UNLIMITED, drive, rss_mb
from scripts.local_stack import LocalStack

TURNS_PER_CONVERSATION = 10
TOLERANCE = 0.05
LIMIT_MB = 600


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --turns turns")
    parser.add_argument("--turns", type=int, default=10_000, help="turns per round")
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args(argv)
    conversations = args.turns // TURNS_PER_CONVERSATION
    work = Path(tempfile.mkdtemp(prefix="im-leak-"))
    stack = LocalStack(work / "embedded", identity_secret=IDENTITY_SECRET, settings=UNLIMITED)
    stack.seed()
    memory: list[float] = []
    failures = 0
    try:
        stack.start_actions()
        stack.start_rasa()
        pids = [p.pid for p in (stack.rasa, stack.actions) if p is not None]
        print(f"after start-up: {rss_mb(pids):.0f} MB")
        for number in range(1, args.rounds + 1):
            started = time.perf_counter()
            rest, sockets, _ = asyncio.run(
                drive(
                    [stack.rest_url],
                    [stack.base_url],
                    conversations,
                    args.concurrency,
                    f"leak-{number}",
                )
            )
            failed = sum(t.errors + t.unanswered for t in (rest, sockets))
            failures += failed
            memory.append(rss_mb(pids))
            print(
                f"after {number * args.turns:>6} turns: {memory[-1]:.0f} MB "
                f"({time.perf_counter() - started:.0f} s, {failed} failed)",
                flush=True,
            )
    finally:
        stack.stop_all()
    growth = memory[-1] / memory[0] - 1
    print(
        f"memory after {args.turns} turns: {memory[0]:.0f} MB (at most {LIMIT_MB}); after "
        f"{args.rounds * args.turns}: {growth:+.1%} (at most {TOLERANCE:.0%}); failed: {failures}"
    )
    return 0 if memory[0] <= LIMIT_MB and abs(growth) <= TOLERANCE and failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
