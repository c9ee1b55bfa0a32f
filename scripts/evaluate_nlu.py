"""Scores the trained model on the held-out sets, per category, and prints what the README quotes.

The held-out sets (``scripts.heldout``) are scored per category of text by ``scripts.nlu_scores``.
The parse time is the NLU alone (``Agent.parse_message``), per message, after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.utils.log_utils import configure_structlog

from scripts.heldout import HELDOUT, Example, load_heldout
from scripts.nlu_scores import Outcome, predict

WARM_UP = 20


async def evaluate(agent: Agent, examples: Iterable[Example]) -> tuple[Outcome, list[float]]:
    """Parses every example with ``agent`` after a warm-up; the outcome and each parse's time
    in milliseconds."""
    chosen = list(examples)
    for example in chosen[:WARM_UP]:
        await agent.parse_message(example.text)
    parse_ms: list[float] = []

    async def timed(text: str) -> dict[str, Any]:
        started = time.perf_counter()
        parsed = await agent.parse_message(text)
        parse_ms.append((time.perf_counter() - started) * 1000)
        return parsed

    return await predict(timed, chosen), parse_ms


def table(outcome: Outcome) -> list[str]:
    """The per-category table, as Markdown rows (the README shows it)."""
    rows = [
        "| category | examples | accuracy | macro-F1 | out-of-scope recall "
        "| false fallback | entity recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for category in [*outcome.categories(), None]:
        s = outcome.scores(category)
        rows.append(
            f"| {category or 'all'} | {s.examples} | {s.accuracy:.3f} | {s.macro_f1:.3f} "
            f"| {s.oos_recall:.3f} | {s.in_scope_false_fallback:.3f} | {s.entity_recall:.3f} |"
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("models/wallet.tar.gz"))
    parser.add_argument("--data", type=Path, default=HELDOUT)
    parser.add_argument("--errors", type=Path, default=Path("results/heldout_errors.json"))
    args = parser.parse_args(argv)
    configure_structlog(logging.WARNING)  # not a debug line per parsed message
    outcome, parse_ms = asyncio.run(evaluate(Agent.load(str(args.model)), load_heldout(args.data)))
    errors = outcome.errors()
    args.errors.parent.mkdir(parents=True, exist_ok=True)
    args.errors.write_text(json.dumps(errors, ensure_ascii=False, indent=1), encoding="utf-8")
    print("\n".join(table(outcome)))
    quantiles = statistics.quantiles(parse_ms, n=100)
    print(
        f"parse time per message: p50 {statistics.median(parse_ms):.2f} ms, "
        f"p95 {quantiles[94]:.2f} ms, p99 {quantiles[98]:.2f} ms   (target p50 <= 4 ms)"
    )
    print(f"misclassified examples written to {args.errors}")
    counts = Counter(f"{e['gold']} -> {e['predicted']}" for e in errors)
    for pair, count in counts.most_common(15):
        print(f"  {count:3d}  {pair}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
