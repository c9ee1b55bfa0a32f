from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot.dialogue import action_validation

VALID = {
    "events": [{"event": "slot", "name": "complaint_category", "value": None}],
    "responses": [{"response": "utter_complaint_filed", "ticket_number": "C2026112300001"}],
}


@pytest.fixture
def action() -> RemoteAction:
    action_validation.install()
    return RemoteAction("action_submit_complaint", EndpointConfig("http://127.0.0.1:9/webhook"))


def test_valid_responses_pass(action: RemoteAction) -> None:
    assert action._validate_action_result(VALID)


@pytest.mark.parametrize(
    "invalid",
    [{"events": "not a list"}, {"events": [{"name": "no event type"}]}, {"responses": {"text": 1}}],
)
def test_invalid_responses_are_rejected_with_rasas_hint(
    action: RemoteAction, invalid: dict
) -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(invalid)
