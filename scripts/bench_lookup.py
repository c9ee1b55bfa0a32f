"""What a wallet look-up adds to the reply time, on the embedded SQLite store.

Starts the Rasa server and the action server on loopback (as `make run` does), then sends
alternating FAQ turns (answered by Rasa alone) and transfer look-up turns (action server +
SQLite: account, transaction, fee quote), one at a time, in demo-alice's conversation in the
socket.io widget (REST is anonymous: only a signed-in channel gets a look-up), and prints the
latencies. Both kinds of turn share the one conversation, so its growth weighs on both alike.
It also times the port calls alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bot.wallet import demo_data
from bot.wallet.sql import SqlWalletService
from scripts.bench import IDENTITY_SECRET, UNLIMITED, Turn, socket_conversation
from scripts.local_stack import LocalStack

FAQ = "人工客服几点上班"
LOOKUP = f"这笔转账一直pending {demo_data.TX_PENDING_LOW_FEE}"
WARM_UP = 10  # pairs of turns not measured


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def port_only(service: SqlWalletService, rounds: int) -> list[float]:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        service.account(demo_data.ALICE)
        service.transaction(demo_data.ALICE, demo_data.TX_PENDING_LOW_FEE)
        service.network_fee("ETH")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=100, help="turns of each kind")
    args = parser.parse_args(argv)
    stack = LocalStack(
        Path(tempfile.mkdtemp(prefix="bench-lookup-")),
        identity_secret=IDENTITY_SECRET,
        settings=UNLIMITED,
    )
    stack.seed()
    try:
        stack.start_actions()
        stack.start_rasa()
        plan = [Turn(FAQ), Turn(LOOKUP)] * (WARM_UP + args.turns)
        tally = asyncio.run(socket_conversation(stack.base_url, demo_data.ALICE, plan))
    finally:
        stack.stop_all()
    if tally.errors or tally.unanswered:
        raise SystemExit(f"{tally.errors} errors, {tally.unanswered} turns unanswered")
    measured = tally.latencies[2 * WARM_UP :]
    faq, lookup = measured[0::2], measured[1::2]
    service = SqlWalletService.from_url(stack.wallet_url)
    port = port_only(service, 1000)
    added = statistics.median(lookup) - statistics.median(faq)
    print(f"turns of each kind:            {args.turns}")
    for label, timings in (("FAQ turn (Rasa only)", faq), ("transfer look-up turn", lookup)):
        p50, p95 = statistics.median(timings), percentile(timings, 0.95)
        print(f"{label:30} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")
    print(f"added by the look-up (p50)     {added:6.1f} ms   (target <= 20 ms)")
    print(
        f"SQLite port calls alone        p50 {statistics.median(port):6.2f} ms"
        f"   p95 {percentile(port, 0.95):6.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
