"""The gate of the improvement loop: a candidate model scored against the live one, refused when
it is worse.

    python -m bot.improvement.gate --candidate PATH [--live models/wallet.tar.gz]
        [--handoff-url URL] [--json OUT]

Both models read the held-out sets (``scripts.heldout``) and the leads' labels: the regression set
(every active label but "ignore", expecting the label's intent) and the pinned labels among them.
A held-out example whose grouping key (``bot.improvement.inbox.grouping_key``) is a labelled
text's is left out of the held-out scores, since the candidate was trained on it.

The candidate is refused when its overall held-out accuracy drops by more than half a point, a
category's by more than two points, or it misreads any pinned message (``Thresholds``). The
verdict lists every message the two models read differently, worse first. Exit status: 0 passed,
1 refused, 2 when the gate could not run (a model file missing, the labels' store unreadable).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.improvement.inbox import grouping_key
from bot.improvement.labels import IGNORE, LabelStore
from bot.settings import StoreUrls
from scripts.heldout import HELDOUT, Example, load_heldout

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LIVE = Path("models/wallet.tar.gz")

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


class ModelPredict:
    """A trained Rasa model as a ``Predict``: the intent names it gives texts (``nlu_fallback``
    included), parsed one after the other with ``Agent.parse_message`` in an event loop."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.intents: tuple[str, ...] = tuple(agent.domain.intents)

    def __call__(self, texts: Sequence[str]) -> list[str]:
        async def parse_all() -> list[str]:
            return [(await self.agent.parse_message(text))["intent"]["name"] for text in texts]

        return asyncio.run(parse_all())


def model_predict(model_path: Path) -> ModelPredict:
    """Loads the trained model at ``model_path`` as a server does; GateError if it cannot."""
    if not model_path.is_file():
        raise GateError(f"no model file at {model_path}")
    # bot.serving: Rasa without TensorFlow, as the servers import it. A process that has imported
    # Rasa's training modules already has the full Rasa, which loads the model just as well.
    from bot import serving

    with contextlib.suppress(RuntimeError):
        serving.install()
    from rasa.core.agent import Agent

    from bot.services import adapt_rasa

    adapt_rasa()
    try:
        agent = Agent.load(str(model_path))
    except Exception as error:  # Rasa raises many kinds for a file that is no model
        raise GateError(f"cannot load the model {model_path}: {error}") from error
    if not agent.is_ready():
        raise GateError(f"cannot load the model {model_path}")
    return ModelPredict(agent)


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _delta(live: float | None, candidate: float | None) -> str:
    return "" if live is None or candidate is None else f"{candidate - live:+.2f}"


def render(verdict: Verdict) -> str:
    """The verdict as the CLI prints it: scores, left out, changed predictions, the decision."""
    rows = [
        ("held-out, overall", verdict.heldout_examples, verdict.overall_live,
         verdict.overall_candidate),
        *((f"  {s.category}", s.examples, s.live, s.candidate) for s in verdict.categories),
        ("regression (labels)", verdict.regression_examples, verdict.regression_live,
         verdict.regression_candidate),
        ("pinned", verdict.pinned_examples, verdict.pinned_live, verdict.pinned_candidate),
    ]  # fmt: skip
    lines = [f"{'':28}{'examples':>9}{'live':>9}{'candidate':>11}{'change':>9}"]
    for name, examples, live, candidate in rows:
        lines.append(
            f"{name:28}{examples:>9}{_score(live):>9}{_score(candidate):>11}"
            f"{_delta(live, candidate):>9}"
        )
    lines.append(f"left out of held-out (labelled, trained on): {verdict.left_out}")
    lines.append("")
    if verdict.changes:
        lines.append(f"changed predictions ({len(verdict.changes)}), worse first:")
        for change in verdict.changes:
            lines.append(
                f"  {change.direction:7}{change.source:24} expected {change.expected}: "
                f"live {change.live} -> candidate {change.candidate}   {change.text}"
            )
    else:
        lines.append("changed predictions: none")
    lines.append("")
    if verdict.passed:
        lines.append("PASSED")
    else:
        lines.append("REFUSED: " + "; ".join(reason.describe() for reason in verdict.reasons))
    return "\n".join(lines)


def run_gate(
    candidate: Path, live: Path, handoff_url: str, heldout_dir: Path = ROOT / HELDOUT
) -> Verdict:
    """Loads the labels, the held-out sets and both models, then judges; GateError if it cannot."""
    for path in (candidate, live):
        if not path.is_file():
            raise GateError(f"no model file at {path}")
    try:
        regression, pinned = labelled_sets(LabelStore.from_url(handoff_url))
    except (sa.exc.SQLAlchemyError, ValueError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GateError(f"cannot read the labels at {handoff_url}: {first_line}") from error
    heldout = load_heldout(heldout_dir)
    if not heldout:
        raise GateError(f"no held-out examples in {heldout_dir}")
    live_model = model_predict(live)
    same = candidate.resolve() == live.resolve()
    candidate_model = live_model if same else model_predict(candidate)
    return judge(live_model, candidate_model, heldout, regression, pinned)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.improvement.gate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--candidate", type=Path, required=True, help="the new model (.tar.gz)")
    parser.add_argument("--live", type=Path, default=DEFAULT_LIVE, help="the served model")
    parser.add_argument("--handoff-url", help="SQLAlchemy URL of the labels (HANDOFF_DB_URL)")
    parser.add_argument("--json", type=Path, help="also write the verdict to this JSON file")
    args = parser.parse_args(argv)
    try:
        for path in (args.candidate, args.live):
            if not path.is_file():  # said before Rasa takes seconds to import
                raise GateError(f"no model file at {path}")
        from rasa.utils.log_utils import configure_structlog

        # Logs on standard error (Rasa's would go to standard output): the table stays alone there.
        logging.basicConfig(format="%(message)s", stream=sys.stderr, level=logging.WARNING)
        configure_structlog(logging.WARNING)  # not a debug line per parsed message
        verdict = run_gate(
            args.candidate, args.live, args.handoff_url or StoreUrls.from_env().handoff
        )
        if args.json:
            args.json.write_text(
                json.dumps(verdict.as_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
            )
    except (GateError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(render(verdict))
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    from bot import serving

    serving.install()  # before anything imports Rasa: the servers' Rasa, without TensorFlow
    sys.exit(main())
