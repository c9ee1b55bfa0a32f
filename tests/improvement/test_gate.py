"""The gate: a candidate model is refused when its held-out accuracy drops (overall by more than
half a point, a category by more than two) or it misreads a pinned message; every changed
prediction is listed, worse first; held-out texts the leads labelled are left out. Decided with
fake predictors, then with the trained model, in process and through the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from bot.improvement.gate import ModelPredict, model_predict
from bot.improvement.inbox import grouping_key
from bot.improvement.labels import LabelStore
from bot.improvement.verdict import (
    CATEGORY_DROP,
    OVERALL_DROP,
    PINNED_MISSED,
    Change,
    Expected,
    judge,
    labelled_sets,
)
from scripts.heldout import HELDOUT, Example, load_heldout

ROOT = Path(__file__).resolve().parents[2]


class Fake:
    """A model that reads each text as its dict says (``nlu_fallback`` otherwise), and counts."""

    def __init__(self, answers: Mapping[str, str]) -> None:
        self.answers = dict(answers)
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> list[str]:
        self.calls.append(list(texts))
        return [self.answers.get(text, "nlu_fallback") for text in texts]


def examples(category: str, count: int, intent: str = "network_fee") -> list[Example]:
    return [Example(f"{category} 消息 {i}", intent, category) for i in range(count)]


def right(items: Sequence[Example | Expected]) -> dict[str, str]:
    return {item.text: item.intent for item in items}


def missing(items: Sequence[Example], count: int) -> dict[str, str]:
    """``items`` read right except the first ``count``, read as greet."""
    answers = right(items)
    for item in items[:count]:
        answers[item.text] = "greet"
    return answers


def test_an_equal_or_better_candidate_passes() -> None:
    heldout = examples("ordinary", 100) + examples("typos", 100)
    regression = [Expected("矿工费怎么算", "network_fee")]
    live = Fake({**missing(heldout, 10), **right(regression)})

    same = judge(live, live, heldout, regression, regression)
    assert same.passed and same.reasons == () and same.changes == ()
    assert same.overall_live == same.overall_candidate == 95.0
    assert same.pinned_live == same.pinned_candidate == 100.0

    better = judge(live, Fake({**right(heldout), **right(regression)}), heldout, regression, [])
    assert better.passed
    assert (better.overall_live, better.overall_candidate) == (95.0, 100.0)
    assert [c.direction for c in better.changes] == ["better"] * 10
    assert {c.source for c in better.changes} == {"heldout:ordinary"}
    assert better.as_dict()["changes"][0]["direction"] == "better"


def test_refused_for_an_overall_drop_of_more_than_half_a_point() -> None:
    ordinary, typos = examples("ordinary", 500), examples("typos", 500)
    live = Fake(right(ordinary + typos))

    # 6 of 1000 is 0.6 points overall, 0.6 in each category.
    worse = Fake({**missing(ordinary, 3), **missing(typos, 3)})
    verdict = judge(live, worse, ordinary + typos, [], [])
    assert not verdict.passed
    assert [(r.kind, r.live, r.candidate) for r in verdict.reasons] == [(OVERALL_DROP, 100.0, 99.4)]
    assert len(verdict.changes) == 6 and {c.direction for c in verdict.changes} == {"worse"}

    slightly = Fake({**missing(ordinary, 2), **missing(typos, 2)})  # 0.4 points
    assert judge(live, slightly, ordinary + typos, [], []).passed
    exactly = Fake({**missing(ordinary, 5), **right(typos)})  # 0.5 points: allowed
    assert judge(live, exactly, ordinary + typos, [], []).passed


def test_refused_when_one_category_drops_more_than_two_points() -> None:
    ordinary, typos = examples("ordinary", 1000), examples("typos", 1000)
    live = Fake({**missing(ordinary, 21), **right(typos)})
    # The candidate gains in ordinary what it loses in typos: the overall score is unchanged.
    candidate = Fake({**right(ordinary), **missing(typos, 21)})
    verdict = judge(live, candidate, ordinary + typos, [], [])
    assert verdict.overall_live == verdict.overall_candidate
    assert not verdict.passed
    assert [(r.kind, r.subject) for r in verdict.reasons] == [(CATEGORY_DROP, "typos")]
    reason = verdict.reasons[0]
    assert round(reason.live - reason.candidate, 6) == 2.1
    scores = {s.category: (s.examples, s.live, s.candidate) for s in verdict.categories}
    assert scores == {"ordinary": (1000, 97.9, 100.0), "typos": (1000, 100.0, 97.9)}

    two_points = Fake({**right(ordinary), **missing(typos, 20)})
    assert judge(live, two_points, ordinary + typos, [], []).passed


def test_refused_when_a_pinned_message_is_misread() -> None:
    heldout = examples("ordinary", 200)
    labelled = [Expected("矿工费怎么算", "network_fee"), Expected("你好", "greet")]
    pinned = labelled[:1]
    live = Fake({**right(heldout), **right(labelled)})
    candidate = Fake({**right(heldout), **right(labelled), "矿工费怎么算": "greet"})

    verdict = judge(live, candidate, heldout, labelled, pinned)
    assert not verdict.passed
    assert [(r.kind, r.subject, r.live, r.candidate) for r in verdict.reasons] == [
        (PINNED_MISSED, "矿工费怎么算", 100.0, 0.0)
    ]
    assert (verdict.regression_live, verdict.regression_candidate) == (100.0, 50.0)
    assert (verdict.pinned_live, verdict.pinned_candidate) == (100.0, 0.0)
    # Listed once, as the pinned message it is.
    assert verdict.changes == (
        Change("矿工费怎么算", "network_fee", "network_fee", "greet", "pinned"),
    )

    # The same miss on a label that is not pinned only lowers the regression score.
    assert judge(live, candidate, heldout, labelled, []).passed


def test_changes_are_listed_worse_first_then_better() -> None:
    ordinary, typos = examples("ordinary", 300), examples("typos", 300)
    labelled = [Expected("怎么创建钱包", "create_wallet"), Expected("在吗", "greet")]
    live = Fake(
        {**missing(ordinary, 1), **right(typos), **right(labelled), "在吗": "request_human"}
    )
    candidate = Fake(
        {
            **right(ordinary),
            **missing(typos, 1),
            **right(labelled),
            "怎么创建钱包": "nlu_fallback",
        }
    )
    verdict = judge(live, candidate, ordinary + typos, labelled, [])
    assert [(c.direction, c.source, c.text) for c in verdict.changes] == [
        ("worse", "heldout:typos", typos[0].text),
        ("worse", "regression", "怎么创建钱包"),
        ("better", "heldout:ordinary", ordinary[0].text),
        ("better", "regression", "在吗"),
    ]
    worst = verdict.changes[1]
    assert (worst.expected, worst.live, worst.candidate) == (
        "create_wallet",
        "create_wallet",
        "nlu_fallback",
    )


def test_held_out_texts_the_leads_labelled_are_left_out_and_texts_read_once() -> None:
    ordinary = examples("ordinary", 9)
    # Normalised like the inbox's groups: the same key as the labels below.
    trained_on = [
        Example("你好！", "greet", "ordinary"),
        Example("矿工费 怎么算?", "network_fee", "typos"),
    ]
    labelled = [Expected("你好", "greet"), Expected("矿工费怎么算", "network_fee")]
    assert [grouping_key(e.text) for e in trained_on] == [grouping_key(e.text) for e in labelled]
    heldout = ordinary + trained_on + [ordinary[0]]  # a text twice
    live = Fake(right(ordinary))  # misreads the trained-on texts: they must not count
    candidate = Fake({**right(ordinary), **right(labelled)})

    verdict = judge(live, candidate, heldout, labelled, labelled[1:])
    assert verdict.left_out == 2
    assert verdict.heldout_examples == 10
    assert [(s.category, s.examples) for s in verdict.categories] == [("ordinary", 10)]
    assert verdict.overall_live == verdict.overall_candidate == 100.0
    assert verdict.passed
    for model in (live, candidate):
        assert len(model.calls) == 1
        asked = model.calls[0]
        assert sorted(asked) == sorted({*right(ordinary), *right(labelled)})


# With the trained model.


@pytest.fixture(scope="module")
def model(model_path: Path) -> ModelPredict:
    return model_predict(model_path)


@pytest.fixture
def handoff_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'handoff.db'}"


def label(url: str, model: ModelPredict, text: str, intent: str, pinned: bool = False) -> None:
    store = LabelStore.from_url(url)
    store.label(text, grouping_key(text), intent, "lead", (), pinned, known_intents=model.intents)
    store.engine.dispose()


def test_the_trained_model_against_itself_passes(model: ModelPredict, handoff_url: str) -> None:
    label(handoff_url, model, "你好", "greet")
    label(handoff_url, model, "矿工费怎么算", "network_fee", pinned=True)
    label(handoff_url, model, "asdfgh", "ignore")
    regression, pinned = labelled_sets(LabelStore.from_url(handoff_url))
    assert regression == [Expected("你好", "greet"), Expected("矿工费怎么算", "network_fee")]
    assert pinned == [Expected("矿工费怎么算", "network_fee")]

    verdict = judge(model, model, load_heldout(ROOT / HELDOUT), regression, pinned)
    assert verdict.passed and verdict.reasons == () and verdict.changes == ()
    assert verdict.regression_candidate == verdict.pinned_candidate == 100.0
    assert verdict.heldout_examples > 0 and verdict.overall_candidate is not None
    assert verdict.overall_candidate > 80


def gate(*arguments: str, handoff_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.improvement.gate", *arguments],
        cwd=ROOT,
        env={**os.environ, "HANDOFF_DB_URL": handoff_url},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_command_refuses_a_model_that_misreads_a_pinned_message(
    model: ModelPredict, model_path: Path, handoff_url: str, tmp_path: Path
) -> None:
    label(handoff_url, model, "矿工费怎么算", "greet", pinned=True)
    out = tmp_path / "verdict.json"
    done = gate("--candidate", str(model_path), "--json", str(out), handoff_url=handoff_url)
    assert done.returncode == 1, done.stderr
    assert "REFUSED: pinned message missed: 矿工费怎么算" in done.stdout
    assert "Traceback" not in done.stderr
    verdict = out.read_text(encoding="utf-8")
    assert '"pinned_missed"' in verdict and '"passed": false' in verdict


def test_the_command_says_what_it_could_not_read(model_path: Path, tmp_path: Path) -> None:
    absent = tmp_path / "candidate.tar.gz"
    done = gate("--candidate", str(absent), handoff_url=f"sqlite:///{tmp_path / 'h.db'}")
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: no model file at {absent}"

    unreadable = f"sqlite:///{tmp_path / 'no-such-directory' / 'h.db'}"
    done = gate("--candidate", str(model_path), handoff_url=unreadable)
    assert done.returncode == 2
    assert "error: cannot read the labels at" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
