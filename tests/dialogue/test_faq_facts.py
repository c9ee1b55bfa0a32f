"""The FAQ answers in domain.yml agree with the product facts: every variant of each response in
tests/dialogue/faq_facts.yml states its facts and none of the wrong claims the table lists."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.support_hours import SupportHours

ROOT = Path(__file__).resolve().parents[2]
FACTS: dict[str, Any] = yaml.safe_load(
    (Path(__file__).with_name("faq_facts.yml")).read_text(encoding="utf-8")
)
RESPONSES: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (ROOT / "domain.yml").read_text(encoding="utf-8")
)["responses"]
# The values the support-hours placeholders take with the default settings (09:00-21:00, UTC+8).
HOURS = SupportHours.from_env({}).response_values(datetime(2026, 1, 15, tzinfo=timezone.utc))


def rendered(text: str) -> str:
    """A response text as a user reads it by default: hours filled, other placeholders kept."""
    return re.sub(r"\{(\w+)\}", lambda match: HOURS.get(match[1], match[0]), text)


def texts(name: str) -> list[str]:
    """Every variant's text of the response ``name``, rendered."""
    return [rendered(variant["text"]) for variant in RESPONSES[name] if "text" in variant]


def forbidden(entries: dict[str, dict[str, str]]) -> list[tuple[str, str, str]]:
    """(fact, pattern, wrong answer) for each "must_not" entry."""
    return [(fact, entry["pattern"], entry["wrong"]) for fact, entry in entries.items()]


TABLE: dict[str, dict[str, Any]] = FACTS["responses"]
EVERYWHERE = forbidden(FACTS["every_response"]["must_not"])
REQUIRED = [
    (name, fact, pattern)
    for name, facts in TABLE.items()
    for fact, pattern in facts["must"].items()
]
EXCLUDED = [
    (name, fact, pattern, wrong)
    for name, facts in TABLE.items()
    for fact, pattern, wrong in forbidden(facts.get("must_not", {}))
]

REQUIRED_IDS = [f"{name}: {fact}" for name, fact, _ in REQUIRED]
EXCLUDED_IDS = [f"{name}: {fact}" for name, fact, _, _ in EXCLUDED]
EVERYWHERE_IDS = [f"every response: {fact}" for fact, _, _ in EVERYWHERE]


def test_the_table_names_responses_of_the_domain() -> None:
    assert set(TABLE) - set(RESPONSES) == set()
    assert all(texts(name) for name in TABLE)


@pytest.mark.parametrize(("name", "fact", "pattern"), REQUIRED, ids=REQUIRED_IDS)
def test_every_variant_states_the_fact(name: str, fact: str, pattern: str) -> None:
    for text in texts(name):
        assert re.search(pattern, text), f"{name} should say: {fact}\n{text}"


@pytest.mark.parametrize(("name", "fact", "pattern", "wrong"), EXCLUDED, ids=EXCLUDED_IDS)
def test_no_variant_makes_the_wrong_claim(name: str, fact: str, pattern: str, wrong: str) -> None:
    for text in texts(name):
        found = re.search(pattern, text)
        assert not found, f"{name} contradicts: {fact} ({found[0] if found else ''!r})\n{text}"


@pytest.mark.parametrize(("fact", "pattern", "wrong"), EVERYWHERE, ids=EVERYWHERE_IDS)
def test_no_response_makes_the_wrong_claim(fact: str, pattern: str, wrong: str) -> None:
    for name in RESPONSES:
        for text in texts(name):
            found = re.search(pattern, text)
            assert not found, f"{name} contradicts: {fact} ({found[0] if found else ''!r})\n{text}"


@pytest.mark.parametrize(
    ("fact", "pattern", "wrong"),
    [*EVERYWHERE, *((fact, pattern, wrong) for _, fact, pattern, wrong in EXCLUDED)],
    ids=[*EVERYWHERE_IDS, *EXCLUDED_IDS],
)
def test_each_forbidden_pattern_catches_its_wrong_answer(
    fact: str, pattern: str, wrong: str
) -> None:
    assert re.search(pattern, wrong), f"the check for {fact!r} misses {wrong!r}"


@pytest.mark.parametrize(("name", "fact", "pattern"), REQUIRED, ids=REQUIRED_IDS)
def test_each_required_pattern_needs_the_fact(name: str, fact: str, pattern: str) -> None:
    # A pattern that also matches a reply without the fact could never fail.
    for unrelated in ("", *texts("utter_default"), *texts("utter_clarify")):
        assert not re.search(pattern, unrelated), f"{name}: {fact!r} matches {unrelated!r}"
