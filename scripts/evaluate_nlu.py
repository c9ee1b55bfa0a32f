"""Scores the trained model on the held-out NLU set and prints the figures the README quotes.

A prediction of ``nlu_fallback`` is treated as "not a domain answer": correct for out-of-scope
examples, a false fallback for in-scope ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.loading import load_data

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
NOT_DOMAIN = {OUT_OF_SCOPE, FALLBACK}


@dataclass(frozen=True)
class Scores:
    """The figures the README and the foundation issue quote."""

    examples: int
    accuracy: float
    macro_f1: float
    oos_recall: float
    in_scope_false_fallback: float
    entity_recall: float


def score(gold: Sequence[str], predicted: Sequence[str], entity_hits: tuple[int, int]) -> Scores:
    """Accuracy, macro-F1 (fallback counted as out_of_scope), OOS recall and false fallback rate."""
    normalised = [OUT_OF_SCOPE if p in NOT_DOMAIN else p for p in predicted]
    correct = [g == p for g, p in zip(gold, normalised, strict=True)]
    labels = sorted(set(gold))
    f1s = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, normalised, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, normalised, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, normalised, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    oos = [p for g, p in zip(gold, normalised, strict=True) if g == OUT_OF_SCOPE]
    in_scope = [p for g, p in zip(gold, normalised, strict=True) if g != OUT_OF_SCOPE]
    found, expected = entity_hits
    return Scores(
        examples=len(gold),
        accuracy=sum(correct) / len(gold),
        macro_f1=sum(f1s) / len(f1s),
        oos_recall=sum(p == OUT_OF_SCOPE for p in oos) / max(len(oos), 1),
        in_scope_false_fallback=sum(p == OUT_OF_SCOPE for p in in_scope) / max(len(in_scope), 1),
        entity_recall=found / expected if expected else 1.0,
    )


async def evaluate(agent: Agent, data: Path) -> tuple[Scores, list[dict[str, object]]]:
    """Parses every held-out example with ``agent`` and scores the predictions."""
    examples = [m for m in load_data(str(data)).intent_examples]
    gold, predicted, errors = [], [], []
    entities_found = entities_expected = 0
    for example in examples:
        parsed = await agent.parse_message(example.get("text"))
        intent = parsed["intent"]["name"]
        gold.append(example.get("intent"))
        predicted.append(intent)
        expected = {(e["entity"], e["value"]) for e in example.get("entities") or []}
        got = {(e["entity"], e["value"]) for e in parsed["entities"]}
        entities_expected += len(expected)
        entities_found += len(expected & got)
        wrong_intent = not (
            intent == example.get("intent")
            or (example.get("intent") == OUT_OF_SCOPE and intent in NOT_DOMAIN)
        )
        if wrong_intent or not expected <= got:
            errors.append(
                {
                    "text": example.get("text"),
                    "gold": example.get("intent"),
                    "predicted": intent,
                    "confidence": round(parsed["intent"]["confidence"], 3),
                    "missing_entities": sorted(expected - got),
                }
            )
    return score(gold, predicted, (entities_found, entities_expected)), errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("models/wallet.tar.gz"))
    parser.add_argument("--data", type=Path, default=Path("tests/nlu/heldout.yml"))
    parser.add_argument("--errors", type=Path, default=Path("results/heldout_errors.json"))
    args = parser.parse_args(argv)
    scores, errors = asyncio.run(evaluate(Agent.load(str(args.model)), args.data))
    args.errors.parent.mkdir(parents=True, exist_ok=True)
    args.errors.write_text(json.dumps(errors, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"held-out examples:        {scores.examples}")
    print(f"intent accuracy:          {scores.accuracy:.3f}   (target >= 0.92)")
    print(f"macro-F1:                 {scores.macro_f1:.3f}")
    print(f"out-of-scope recall:      {scores.oos_recall:.3f}   (target >= 0.85)")
    print(f"in-scope false fallback:  {scores.in_scope_false_fallback:.3f}   (target <= 0.05)")
    print(
        f"entity recall:            {scores.entity_recall:.3f}   (tx_hash, address, ticket_number)"
    )
    print(f"misclassified examples written to {args.errors}")
    counts = Counter(f"{e['gold']} -> {e['predicted']}" for e in errors)
    for pair, count in counts.most_common(12):
        print(f"  {count:3d}  {pair}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
