"""The held-out NLU sets: ``tests/nlu/heldout/``, one file per category of text.

The categories: ordinary, long and story-like, typos and homophones, traditional and Cantonese,
pinyin and English-mixed, near-domain off-topic. The sets were written independently of the
training data and of the augmentation, and are never trained on: an example whose text (ignoring
case and white space) is also a training example or an augmented variant was removed from them,
and ``tests/nlu/test_augmentation.py`` keeps it so.

Each file: ``category``, then ``examples`` of ``{text, intent, entities?}``, where ``entities``
maps an entity type to its normalised value (``{amount: "500", currency: USDT}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

HELDOUT = Path("tests/nlu/heldout")


@dataclass(frozen=True)
class Example:
    """One held-out message with what the assistant should understand."""

    text: str
    intent: str
    category: str
    entities: dict[str, str] = field(default_factory=dict)


def load_heldout(directory: Path = HELDOUT) -> list[Example]:
    """Every example of every category file in ``directory``."""
    examples = []
    for path in sorted(directory.glob("*.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in content["examples"]:
            entities = {str(k): str(v) for k, v in (item.get("entities") or {}).items()}
            examples.append(
                Example(str(item["text"]), str(item["intent"]), content["category"], entities)
            )
    return examples
