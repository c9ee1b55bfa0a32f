"""Scores the trained model on the held-out sets, per category, and prints what the README quotes.

The held-out sets (``scripts.heldout``) are scored per category of text; an entity counts when
the assistant understood its normalised value, wherever it found it in the text.
A prediction of ``nlu_fallback`` is treated as "not a domain answer": correct for out-of-scope
examples, a false fallback for in-scope ones. The parse time is the NLU alone
(``Agent.parse_message``), per message, after a warm-up.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.utils.log_utils import configure_structlog

from scripts.heldout import HELDOUT, Example, load_heldout

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
NOT_DOMAIN = {OUT_OF_SCOPE, FALLBACK}
WARM_UP = 20


@dataclass(frozen=True)
class Scores:
    """The figures the README quotes, for one category or all of them."""

    examples: int
    accuracy: float
    macro_f1: float
    oos_recall: float
    in_scope_false_fallback: float
    entity_recall: float


def score(gold: Sequence[str], predicted: Sequence[str], entity_hits: tuple[int, int]) -> Scores:
    """Accuracy, macro-F1 (fallback counted as out_of_scope), OOS recall and false fallback rate."""
    normalised = [OUT_OF_SCOPE if p in NOT_DOMAIN else p for p in predicted]
    pairs = list(zip(gold, normalised, strict=True))
    f1s = []
    for label in sorted(set(gold)):
        tp = sum(g == label and p == label for g, p in pairs)
        fp = sum(g != label and p == label for g, p in pairs)
        fn = sum(g == label and p != label for g, p in pairs)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    oos = [p for g, p in pairs if g == OUT_OF_SCOPE]
    in_scope = [p for g, p in pairs if g != OUT_OF_SCOPE]
    found, expected = entity_hits
    return Scores(
        examples=len(gold),
        accuracy=sum(g == p for g, p in pairs) / len(gold),
        macro_f1=sum(f1s) / len(f1s),
        oos_recall=sum(p == OUT_OF_SCOPE for p in oos) / max(len(oos), 1),
        in_scope_false_fallback=sum(p == OUT_OF_SCOPE for p in in_scope) / max(len(in_scope), 1),
        entity_recall=found / expected if expected else 1.0,
    )


@dataclass
class Outcome:
    """What the model made of each example, and how long each parse took."""

    predictions: list[tuple[Example, dict[str, Any]]]
    parse_ms: list[float]

    def scores(self, category: str | None = None) -> Scores:
        chosen = [
            (example, parsed)
            for example, parsed in self.predictions
            if category is None or example.category == category
        ]
        found = expected = 0
        for example, parsed in chosen:
            got = {(e["entity"], str(e["value"])) for e in parsed["entities"]}
            expected += len(example.entities)
            found += len(set(example.entities.items()) & got)
        return score(
            [example.intent for example, _ in chosen],
            [parsed["intent"]["name"] for _, parsed in chosen],
            (found, expected),
        )

    def categories(self) -> list[str]:
        return sorted({example.category for example, _ in self.predictions})

    def errors(self) -> list[dict[str, object]]:
        wrong = []
        for example, parsed in self.predictions:
            intent = parsed["intent"]["name"]
            got = {(e["entity"], str(e["value"])) for e in parsed["entities"]}
            missing = sorted(set(example.entities.items()) - got)
            right = intent == example.intent or (
                example.intent == OUT_OF_SCOPE and intent in NOT_DOMAIN
            )
            if not right or missing:
                wrong.append(
                    {
                        "category": example.category,
                        "text": example.text,
                        "gold": example.intent,
                        "predicted": intent,
                        "confidence": round(parsed["intent"]["confidence"], 3),
                        "missing_entities": missing,
                    }
                )
        return wrong


async def evaluate(agent: Agent, examples: Iterable[Example]) -> Outcome:
    """Parses every example with ``agent``, timing each parse."""
    chosen = list(examples)
    for example in chosen[:WARM_UP]:
        await agent.parse_message(example.text)
    outcome = Outcome([], [])
    for example in chosen:
        started = time.perf_counter()
        parsed = await agent.parse_message(example.text)
        outcome.parse_ms.append((time.perf_counter() - started) * 1000)
        outcome.predictions.append((example, parsed))
    return outcome


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
    outcome = asyncio.run(evaluate(Agent.load(str(args.model)), load_heldout(args.data)))
    errors = outcome.errors()
    args.errors.parent.mkdir(parents=True, exist_ok=True)
    args.errors.write_text(json.dumps(errors, ensure_ascii=False, indent=1), encoding="utf-8")
    print("\n".join(table(outcome)))
    quantiles = statistics.quantiles(outcome.parse_ms, n=100)
    print(
        f"parse time per message: p50 {statistics.median(outcome.parse_ms):.2f} ms, "
        f"p95 {quantiles[94]:.2f} ms, p99 {quantiles[98]:.2f} ms   (target p50 <= 4 ms)"
    )
    print(f"misclassified examples written to {args.errors}")
    counts = Counter(f"{e['gold']} -> {e['predicted']}" for e in errors)
    for pair, count in counts.most_common(15):
        print(f"  {count:3d}  {pair}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
