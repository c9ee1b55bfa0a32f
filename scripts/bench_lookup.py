"""What a wallet look-up adds to the reply time, on the embedded SQLite store.

Starts the Rasa server and the action server on loopback (as `make run` does), then sends
alternating FAQ turns (answered by Rasa alone) and transfer look-up turns (action server +
SQLite: account, transaction, fee quote) through the REST channel, one at a time, and prints
the latencies. It also times the port calls alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bot.identity import IDENTITY_FIELD, sign_identity
from bot.wallet import demo_data
from bot.wallet.sql import SqlWalletService
from scripts.local_stack import LocalStack

SECRET = "benchmark-identity-secret"


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def timed_post(url: str, body: dict[str, object]) -> float:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        replies = json.loads(response.read())
    elapsed = (time.perf_counter() - started) * 1000
    if not replies:
        raise RuntimeError("empty reply")
    return elapsed


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
    parser.add_argument("--turns", type=int, default=200, help="turns of each kind")
    args = parser.parse_args(argv)
    stack = LocalStack(Path(tempfile.mkdtemp(prefix="bench-lookup-")), identity_secret=SECRET)
    stack.seed()
    try:
        stack.start_actions()
        stack.start_rasa()
        faq, lookup = [], []
        for turn in range(-20, args.turns):  # 20 warm-up turns
            sender = f"bench-lookup-{turn}"
            identity = sign_identity(SECRET.encode(), demo_data.ALICE, sender)
            faq_body = {"sender": f"bench-faq-{turn}", "message": "人工客服几点上班"}
            faq_ms = timed_post(stack.rest_url, faq_body)
            lookup_ms = timed_post(
                stack.rest_url,
                {
                    "sender": sender,
                    "message": f"这笔转账一直pending {demo_data.TX_PENDING_LOW_FEE}",
                    "metadata": {IDENTITY_FIELD: identity},
                },
            )
            if turn >= 0:
                faq.append(faq_ms)
                lookup.append(lookup_ms)
    finally:
        stack.stop_all()
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
