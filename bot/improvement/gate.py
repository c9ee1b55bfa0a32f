"""The gate of the improvement loop from the command line: a candidate model file scored against
the live one, refused when it is worse.

    python -m bot.improvement.gate --candidate PATH [--live models/wallet.tar.gz]
        [--handoff-url URL] [--json OUT]

It loads both trained models as a server does (``model_predict``), the leads' labels from the
handoff database and the held-out sets (``scripts.heldout``), and prints the verdict of
``bot.improvement.verdict.judge``: the candidate is refused when its overall held-out accuracy
drops by more than half a point, a category's by more than two points, or it misreads any pinned
message; every message the two models read differently is listed, worse first. Exit status: 0
passed, 1 refused, 2 when the gate could not run (a model file missing, the labels' store
unreadable).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.improvement.labels import LabelStore
from bot.improvement.verdict import GateError, Verdict, judge, labelled_sets
from bot.settings import StoreUrls
from scripts.heldout import HELDOUT, load_heldout

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LIVE = Path("models/wallet.tar.gz")


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
