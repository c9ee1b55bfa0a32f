"""The gate's judgement, without a model: both models' readings of the same messages scored, and
the candidate refused when it is worse.

The messages are the held-out sets (``scripts.heldout``) and the leads' labels: the regression set
(every active label but "ignore", expecting the label's intent) and the pinned labels among them
(``labelled_sets``). A held-out example whose grouping key (``bot.improvement.inbox.grouping_key``)
is a labelled text's is left out of the held-out scores, since the candidate was trained on it.

``judge`` refuses the candidate when its overall held-out accuracy drops by more than half a
point, a category's by more than two points, or it misreads any pinned message (``Thresholds``).
The ``Verdict`` lists every message the two models read differently, worse first. A model is any
``Predict``; ``bot.improvement.gate`` loads trained ones and runs this from the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bot.improvement.inbox import grouping_key
from bot.improvement.labels import IGNORE, LabelStore
from scripts.heldout import Example

OVERALL_DROP = "overall_drop"
CATEGORY_DROP = "category_drop"
PINNED_MISSED = "pinned_missed"
REGRESSION = "regression"
PINNED = "pinned"
HELDOUT_SOURCE = "heldout:"  # followed by the category
WORSE, BETTER, OTHER = "worse", "better", "other"
_PRECISION = 6  # decimals of a drop compared with a threshold: 0.5 is 0.5, not 0.5000000001

Predict = Callable[[Sequence[str]], list[str]]
"""Texts to the intent names a model predicts for them, in order."""


class GateError(Exception):
    """The gate could not run; the message says why, in one line for operators."""


@dataclass(frozen=True)
class Expected:
    """A labelled message and the intent it should be read as."""

    text: str
    intent: str


@dataclass(frozen=True)
class Thresholds:
    """How much worse, in accuracy points (0–100), a candidate may be before it is refused."""

    max_overall_drop: float = 0.5
    max_category_drop: float = 2.0


@dataclass(frozen=True)
class CategoryScore:
    """One held-out category's accuracy, in points, for both models."""

    category: str
    examples: int
    live: float
    candidate: float


@dataclass(frozen=True)
class Reason:
    """Why a candidate was refused: ``kind`` is "overall_drop", "category_drop" (``subject`` the
    category) or "pinned_missed" (``subject`` the text; the scores are that message's, 100 or 0)."""

    kind: str
    subject: str
    live: float
    candidate: float

    def describe(self) -> str:
        if self.kind == PINNED_MISSED:
            return f"pinned message missed: {self.subject}"
        what = "overall held-out" if self.kind == OVERALL_DROP else f"category {self.subject}"
        return (
            f"{what} accuracy drops {self.live - self.candidate:.2f} points "
            f"({self.live:.2f} -> {self.candidate:.2f})"
        )


@dataclass(frozen=True)
class Change:
    """A message the two models read differently; ``source`` is "heldout:<category>",
    "regression" or "pinned"."""

    text: str
    expected: str
    live: str
    candidate: str
    source: str

    @property
    def direction(self) -> str:
        """ "worse" (live right, candidate wrong), "better" (the other way) or "other"."""
        if self.live == self.expected:
            return WORSE
        if self.candidate == self.expected:
            return BETTER
        return OTHER


@dataclass(frozen=True)
class Verdict:
    """The gate's decision with the scores behind it; an accuracy is None when its set is empty."""

    passed: bool
    reasons: tuple[Reason, ...]
    categories: tuple[CategoryScore, ...]
    overall_live: float | None
    overall_candidate: float | None
    regression_live: float | None
    regression_candidate: float | None
    pinned_live: float | None
    pinned_candidate: float | None
    changes: tuple[Change, ...]
    left_out: int
    heldout_examples: int = 0
    regression_examples: int = 0
    pinned_examples: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The verdict as JSON-ready data; each change also gives its direction."""
        data = asdict(self)
        data["reasons"] = [{**asdict(r), "description": r.describe()} for r in self.reasons]
        data["categories"] = [asdict(score) for score in self.categories]
        data["changes"] = [{**asdict(c), "direction": c.direction} for c in self.changes]
        return data


def labelled_sets(store: LabelStore) -> tuple[list[Expected], list[Expected]]:
    """The regression set (every active label but "ignore") and its pinned labels, oldest first."""
    regression = [Expected(label.text, label.intent) for label in store.active()]
    pinned = [Expected(label.text, label.intent) for label in store.pinned()]
    return (
        [item for item in regression if item.intent != IGNORE],
        [item for item in pinned if item.intent != IGNORE],
    )


def _points(right: int, total: int) -> float | None:
    return 100.0 * right / total if total else None


def _drop(live: float | None, candidate: float | None) -> float:
    if live is None or candidate is None:
        return 0.0
    return round(live - candidate, _PRECISION)


def judge(
    live: Predict,
    candidate: Predict,
    heldout: Sequence[Example],
    regression: Sequence[Expected],
    pinned: Sequence[Expected],
    thresholds: Thresholds = Thresholds(),
) -> Verdict:
    """Scores both models on the same messages and decides; each model reads each distinct text
    once, in one call."""
    labelled_keys = {grouping_key(item.text) for item in (*regression, *pinned)}
    kept = [example for example in heldout if grouping_key(example.text) not in labelled_keys]
    cases: list[tuple[str, str, str]] = [  # (text, expected intent, source)
        (example.text, example.intent, HELDOUT_SOURCE + example.category) for example in kept
    ]
    cases += [(item.text, item.intent, REGRESSION) for item in regression]
    cases += [(item.text, item.intent, PINNED) for item in pinned]
    texts = list(dict.fromkeys(text for text, _, _ in cases))
    live_reads = _predictions(live, texts, "live")
    candidate_reads = _predictions(candidate, texts, "candidate")

    def scores(source: Callable[[str], bool]) -> tuple[int, float | None, float | None]:
        chosen = [(text, expected) for text, expected, where in cases if source(where)]
        live_right = sum(live_reads[text] == expected for text, expected in chosen)
        candidate_right = sum(candidate_reads[text] == expected for text, expected in chosen)
        total = len(chosen)
        return total, _points(live_right, total), _points(candidate_right, total)

    categories = []
    for category in dict.fromkeys(example.category for example in kept):
        examples, live_score, candidate_score = scores((HELDOUT_SOURCE + category).__eq__)
        assert live_score is not None and candidate_score is not None
        categories.append(CategoryScore(category, examples, live_score, candidate_score))
    heldout_examples, overall_live, overall_candidate = scores(
        lambda where: where.startswith(HELDOUT_SOURCE)
    )
    regression_examples, regression_live, regression_candidate = scores(
        lambda where: where == REGRESSION
    )
    pinned_examples, pinned_live, pinned_candidate = scores(lambda where: where == PINNED)

    reasons = []
    if _drop(overall_live, overall_candidate) > thresholds.max_overall_drop:
        assert overall_live is not None and overall_candidate is not None
        reasons.append(Reason(OVERALL_DROP, "heldout", overall_live, overall_candidate))
    for score in categories:
        if _drop(score.live, score.candidate) > thresholds.max_category_drop:
            reasons.append(Reason(CATEGORY_DROP, score.category, score.live, score.candidate))
    for item in pinned:
        if candidate_reads[item.text] != item.intent:
            live_score = 100.0 if live_reads[item.text] == item.intent else 0.0
            reasons.append(Reason(PINNED_MISSED, item.text, live_score, 0.0))

    return Verdict(
        passed=not reasons,
        reasons=tuple(reasons),
        categories=tuple(categories),
        overall_live=overall_live,
        overall_candidate=overall_candidate,
        regression_live=regression_live,
        regression_candidate=regression_candidate,
        pinned_live=pinned_live,
        pinned_candidate=pinned_candidate,
        changes=_changes(cases, live_reads, candidate_reads),
        left_out=len(heldout) - len(kept),
        heldout_examples=heldout_examples,
        regression_examples=regression_examples,
        pinned_examples=pinned_examples,
    )


def _predictions(predict: Predict, texts: list[str], which: str) -> dict[str, str]:
    intents = list(predict(texts)) if texts else []
    if len(intents) != len(texts):
        raise GateError(f"the {which} model gave {len(intents)} intents for {len(texts)} texts")
    return dict(zip(texts, intents, strict=True))


def _changes(
    cases: Iterable[tuple[str, str, str]], live: dict[str, str], candidate: dict[str, str]
) -> tuple[Change, ...]:
    """Every case the models read differently, worse first, then better, then other; a pinned
    label is listed as pinned only, not again as a regression case."""
    cases = list(cases)
    pinned = {(text, expected) for text, expected, source in cases if source == PINNED}
    changes = [
        Change(text, expected, live[text], candidate[text], source)
        for text, expected, source in dict.fromkeys(cases)
        if live[text] != candidate[text]
        and not (source == REGRESSION and (text, expected) in pinned)
    ]
    order = {WORSE: 0, BETTER: 1, OTHER: 2}
    return tuple(sorted(changes, key=lambda change: order[change.direction]))
