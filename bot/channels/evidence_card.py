"""The evidence card of a bot message: a transfer's facts for an exchange's support, copyable.

A domain response carries it in ``custom.evidence_card`` (a title, the copy button's labels,
label/value rows and the explorer link), filled in by the NLG. The widget draws it instead of the
message's text and the agent console shows it in the transcript; Telegram and WeChat send the
response's text, which says the same. ``EvidenceCard.of`` takes only a well-formed card, and an
explorer link only when it is an http(s) address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

FIELD_SEPARATOR = "："  # as the response's own text writes "label：value"


@dataclass(frozen=True)
class CardField:
    """One row of the card."""

    label: str
    value: str


@dataclass(frozen=True)
class EvidenceCard:
    """A card as the pages show it."""

    title: str
    copy_label: str
    copied_label: str
    fields: tuple[CardField, ...]
    explorer_link: str | None

    @classmethod
    def of(cls, custom: Any) -> EvidenceCard | None:
        """The card in a message's ``custom`` part; None when there is none or it is malformed."""
        card = custom.get("evidence_card") if isinstance(custom, Mapping) else None
        if not isinstance(card, Mapping) or not isinstance(card.get("fields"), list):
            return None
        title, copy_label, copied_label = (
            card.get(key) for key in ("title", "copy_label", "copied_label")
        )
        fields = tuple(
            CardField(row["label"], row["value"])
            for row in card["fields"]
            if isinstance(row, Mapping) and _text(row.get("label")) and _text(row.get("value"))
        )
        if not (fields and _text(title) and _text(copy_label) and _text(copied_label)):
            return None
        return cls(
            str(title),
            str(copy_label),
            str(copied_label),
            fields,
            _web_link(card.get("explorer_link")),
        )

    @property
    def copy_text(self) -> str:
        """What the copy button copies: the rows as "label：value" lines."""
        return "\n".join(f"{field.label}{FIELD_SEPARATOR}{field.value}" for field in self.fields)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "copy_label": self.copy_label,
            "copied_label": self.copied_label,
            "fields": [{"label": field.label, "value": field.value} for field in self.fields],
            "explorer_link": self.explorer_link,
            "copy_text": self.copy_text,
        }


def card_json(custom: Any) -> dict[str, Any] | None:
    """The card of a message's ``custom`` part as the widget and the console receive it."""
    card = EvidenceCard.of(custom)
    return card.as_json() if card is not None else None


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _web_link(value: Any) -> str | None:
    """``value`` when it is an http(s) address (a placeholder left unfilled is not)."""
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.netloc else None
