"""Which queue a handoff goes to: the whole conversation counts, not the last message."""

from __future__ import annotations

from typing import Any

import pytest

from bot.handoff.records import Reason, Team, Urgency
from bot.handoff.routing import Route, route


def user(intent: str) -> dict[str, Any]:
    return {"event": "user", "text": "…", "parse_data": {"intent": {"name": intent}}}


@pytest.mark.parametrize(
    "sign",
    [
        user("account_compromised"),
        user("share_secret"),
        {"event": "action", "name": "action_freeze_account"},
        {"event": "bot", "text": "…", "metadata": {"utter_action": "utter_secret_shared"}},
        # Money sent to a poisoned (lookalike) address, or a drainer's approval named.
        {"event": "bot", "text": "…", "metadata": {"utter_action": "utter_address_poisoned"}},
        {"event": "bot", "text": "…", "metadata": {"utter_action": "utter_lookalike_sent"}},
        {
            "event": "bot",
            "text": "…",
            "metadata": {"utter_action": "utter_theft_approval_suspect"},
        },
    ],
)
def test_any_security_sign_makes_the_ticket_urgent_for_the_security_team(
    sign: dict[str, Any],
) -> None:
    events = [sign, user("greet"), user("request_human")]
    assert route(Reason.REQUESTED, events) == Route(
        Reason.COMPROMISED, Urgency.URGENT, Team.SECURITY
    )


def test_a_complaint_about_a_theft_stays_a_complaint_but_is_urgent() -> None:
    routed = route(Reason.COMPLAINT, [user("account_compromised"), user("complaint")])
    assert (routed.reason, routed.urgency, routed.team) == (
        Reason.COMPLAINT,
        Urgency.URGENT,
        Team.SECURITY,
    )


def test_routine_conversations_keep_their_reason_s_urgency() -> None:
    routed = route(Reason.PENDING_TRANSFER, [user("transfer_pending"), user("request_human")])
    assert (routed.reason, routed.urgency, routed.team) == (
        Reason.PENDING_TRANSFER,
        Urgency.HIGH,
        Team.GENERAL,
    )
