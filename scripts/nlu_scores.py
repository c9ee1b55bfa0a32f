"""What the trained model makes of labelled examples, and its scores per category of text; shared
by ``make eval``, the cross-validation and the tests, and measuring nothing.

An entity counts when the assistant understood its normalised value, wherever it found it in
the text. A prediction of ``nlu_fallback`` is treated as "not a domain answer": correct for
out-of-scope examples, a false fallback for in-scope ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from scripts.heldout import Example

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
NOT_DOMAIN = {OUT_OF_SCOPE, FALLBACK}
Parse = Callable[[str], Awaitable[dict[str, Any]]]


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
    """What the model made of each example."""

    predictions: list[tuple[Example, dict[str, Any]]]

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


async def predict(parse: Parse, examples: Iterable[Example]) -> Outcome:
    """Parses every example with ``parse`` (``Agent.parse_message``, or a caller's wrapper)."""
    return Outcome([(example, await parse(example.text)) for example in examples])
