"""Complaint categories and how a user's tickets are reported back to them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from bot.dialogue.replies import Reply, shown_time
from bot.wallet.records import Ticket

CATEGORIES_FILE = Path(__file__).resolve().parents[2] / "data" / "complaint_categories.yml"
OTHER = "other"
MIN_DESCRIPTION = 4
MAX_DESCRIPTION = 1000
# Free text at the category question long enough to be the description ("帮我弄一下" is not).
DESCRIPTION_AT_CATEGORY = 12


@dataclass(frozen=True)
class Categories:
    """Complaint categories users pick from, and the names of every ticket category."""

    complaint: dict[str, str]
    names: dict[str, str]

    def code_for(self, text: str) -> str | None:
        """The category whose title the user sent, if any."""
        cleaned = text.strip()
        return next((code for code, title in self.complaint.items() if title == cleaned), None)

    def buttons(self) -> list[dict[str, str]]:
        return [{"title": title, "payload": title} for title in self.complaint.values()]


@lru_cache(maxsize=1)
def load_categories(path: Path = CATEGORIES_FILE) -> Categories:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    complaint = dict(raw["complaint_categories"])
    return Categories(complaint=complaint, names={**complaint, **raw["ticket_categories"]})


def ticket_replies(
    tickets: Sequence[Ticket], categories: Categories, zone: ZoneInfo
) -> list[Reply]:
    """One status line per ticket, newest first; a "none found" reply when there are none."""
    if not tickets:
        return [Reply("utter_no_tickets")]
    return [
        Reply(
            f"utter_ticket_{ticket.state.value}",
            {
                "ticket_number": ticket.number,
                "category": categories.names.get(ticket.category, categories.complaint[OTHER]),
                "created": shown_time(ticket.created_at, zone),
            },
        )
        for ticket in tickets
    ]
