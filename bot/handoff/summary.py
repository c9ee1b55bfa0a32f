"""Builds the summary an agent reads at a glance from the conversation's events.

Entities count as recognised data only when the NLU found them in what the user wrote, or when
they came with a button the assistant offered. Rasa reads ``/intent{"tx_hash": …}`` typed by
anyone as a payload, so entities of a payload the assistant never offered are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.handoff.records import Summary
from bot.privacy import mask_account_id

RECENT_INTENTS = 5
RECENT_MESSAGES = 5
SKIPPED_INTENTS = {None, "", "nlu_fallback"}


def build_summary(events: Iterable[Mapping[str, Any]], account_id: str | None) -> Summary:
    """Recent intents (newest last), entity values by type, masked account, last user messages."""
    user_events: list[Mapping[str, Any]] = []
    intents: list[str] = []
    entities: dict[str, list[str]] = {}
    offered: set[str] = set()
    for event in events:
        if event.get("event") == "bot":
            buttons = (event.get("data") or {}).get("buttons") or []
            offered = {str(button.get("payload")) for button in buttons if isinstance(button, dict)}
        if event.get("event") != "user":
            continue
        user_events.append(event)
        parse = event.get("parse_data") or {}
        name = (parse.get("intent") or {}).get("name")
        if name not in SKIPPED_INTENTS:
            intents.append(str(name))
        text = str(event.get("text") or "")
        if text.startswith("/") and text not in offered:
            continue  # a payload the user wrote: its entities are their own claim
        for entity in parse.get("entities") or []:
            values = entities.setdefault(str(entity.get("entity")), [])
            value = str(entity.get("value"))
            if value not in values:
                values.append(value)
    texts = [str(event.get("text")) for event in user_events if event.get("text")]
    return Summary(
        intents=intents[-RECENT_INTENTS:],
        entities=entities,
        account=mask_account_id(account_id),
        last_messages=texts[-RECENT_MESSAGES:],
    )
