"""Which queue a handoff goes to, and how urgent it is, from the whole conversation.

The last message alone misleads: a user who reported stolen funds and then wrote 转人工 asked
for a human, but their matter is the theft. Any sign of theft, a freeze, a leaked secret or
money sent to a poisoned (lookalike) address anywhere in the conversation makes the ticket
urgent and the security team's, whoever asked for the human and however.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.handoff.records import URGENCY_OF, Reason, Team, Urgency

# What marks a conversation as the security team's: what the user said (the NLU's intent),
# what the assistant did about it, and the secret guard's warning (bot.channels.intake).
SECURITY_INTENTS = {"account_compromised", "share_secret"}
SECURITY_ACTIONS = {"action_offer_freeze", "action_freeze_account"}
SECURITY_RESPONSES = {
    "utter_secret_shared",
    "utter_address_poisoned",
    "utter_pasted_address_poisoned",
    "utter_lookalike_sent",
    "utter_theft_approval_suspect",
}
# A generic reason gives way to what the conversation was about.
GENERIC_REASONS = {Reason.REQUESTED, Reason.FALLBACK}


@dataclass(frozen=True)
class Route:
    reason: Reason
    urgency: Urgency
    team: Team


def route(reason: Reason, events: Iterable[Mapping[str, Any]]) -> Route:
    """The ticket's reason, urgency and team for a handoff asked for with ``reason``."""
    if not _about_security(events):
        return Route(reason, URGENCY_OF[reason], Team.GENERAL)
    if reason in GENERIC_REASONS:
        reason = Reason.COMPROMISED
    return Route(reason, Urgency.URGENT, Team.SECURITY)


def _about_security(events: Iterable[Mapping[str, Any]]) -> bool:
    return any(_security_sign(event) for event in events)


def _security_sign(event: Mapping[str, Any]) -> bool:
    kind = event.get("event")
    if kind == "user":
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        return intent in SECURITY_INTENTS
    if kind == "action":
        return event.get("name") in SECURITY_ACTIONS
    if kind == "bot":
        return (event.get("metadata") or {}).get("utter_action") in SECURITY_RESPONSES
    return False
