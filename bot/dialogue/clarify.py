"""Chooses the topics offered as buttons when the assistant is unsure what the user meant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LABELS_FILE = Path(__file__).resolve().parents[2] / "data" / "intent_labels.yml"
MAX_CANDIDATES = 3


@dataclass(frozen=True)
class IntentLabels:
    """Chinese button titles per intent, and the title of the "none of these" button."""

    titles: Mapping[str, str]
    none_of_these: str


@lru_cache(maxsize=1)
def load_intent_labels(path: Path = LABELS_FILE) -> IntentLabels:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return IntentLabels(titles=dict(raw["intent_labels"]), none_of_these=raw["none_of_these"])


def candidate_intents(
    ranking: Iterable[Mapping[str, Any]], labels: IntentLabels, limit: int = MAX_CANDIDATES
) -> list[str]:
    """The most likely intents that have a button title, best first."""
    ranked = sorted(ranking, key=lambda item: item.get("confidence") or 0.0, reverse=True)
    names = [str(item.get("name")) for item in ranked]
    return [name for name in names if name in labels.titles][:limit]


def clarify_buttons(
    ranking: Iterable[Mapping[str, Any]], labels: IntentLabels
) -> list[dict[str, str]]:
    """Buttons for the likely topics, each sending its intent, then "none of these" (deny)."""
    buttons = [
        {"title": labels.titles[name], "payload": f"/{name}"}
        for name in candidate_intents(ranking, labels)
    ]
    return [*buttons, {"title": labels.none_of_these, "payload": "/deny"}]
