"""The held-out set (never trained on) meets the foundation issue's targets."""

from __future__ import annotations

from typing import Any

from rasa.core.agent import Agent

from scripts.evaluate_nlu import evaluate, score
from tests.conftest import ROOT


def test_scoring_counts_fallback_as_not_a_domain_answer() -> None:
    gold = ["out_of_scope", "out_of_scope", "greet", "greet"]
    predicted = ["nlu_fallback", "greet", "nlu_fallback", "greet"]
    scores = score(gold, predicted, (1, 2))
    assert scores.accuracy == 0.5
    assert scores.oos_recall == 0.5
    assert scores.in_scope_false_fallback == 0.5
    assert scores.entity_recall == 0.5


def test_heldout_set_meets_the_targets(agent: Agent, run: Any) -> None:
    scores, _ = run(evaluate(agent, ROOT / "tests" / "nlu" / "heldout.yml"))
    assert scores.examples >= 300
    assert scores.accuracy >= 0.92
    assert scores.oos_recall >= 0.85
    assert scores.in_scope_false_fallback <= 0.05
    assert scores.entity_recall == 1.0
