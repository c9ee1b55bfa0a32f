"""The held-out sets (never trained on) meet the targets, per category of text."""

from __future__ import annotations

from typing import Any

from rasa.core.agent import Agent

from scripts.heldout import HELDOUT, load_heldout
from scripts.local_stack import ROOT
from scripts.nlu_scores import predict, score


def test_scoring_counts_fallback_as_not_a_domain_answer() -> None:
    gold = ["out_of_scope", "out_of_scope", "greet", "greet"]
    predicted = ["nlu_fallback", "greet", "nlu_fallback", "greet"]
    scores = score(gold, predicted, (1, 2))
    assert scores.accuracy == 0.5
    assert scores.oos_recall == 0.5
    assert scores.in_scope_false_fallback == 0.5
    assert scores.entity_recall == 0.5


def test_every_category_has_enough_examples() -> None:
    examples = load_heldout(ROOT / HELDOUT)
    categories = {example.category for example in examples}
    assert categories == {
        "ordinary",
        "long",
        "typos",
        "traditional",
        "pinyin_english",
        "off_topic",
    }
    for category in categories:
        assert sum(example.category == category for example in examples) >= 40, category


def test_ordinary_heldout_meets_the_targets(agent: Agent, run: Any) -> None:
    outcome = run(predict(agent.parse_message, load_heldout(ROOT / HELDOUT)))
    scores = outcome.scores("ordinary")
    assert scores.accuracy >= 0.92
    assert scores.oos_recall >= 0.85
    assert scores.in_scope_false_fallback <= 0.05
    assert scores.entity_recall >= 0.95
