"""Builds the summary an agent reads at a glance from the conversation's events."""

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
    user_events = [event for event in events if event.get("event") == "user"]
    intents: list[str] = []
    entities: dict[str, list[str]] = {}
    for event in user_events:
        parse = event.get("parse_data") or {}
        name = (parse.get("intent") or {}).get("name")
        if name not in SKIPPED_INTENTS:
            intents.append(str(name))
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
