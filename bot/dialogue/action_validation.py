"""Validates action-server responses with a schema compiled once, not on every call.

Rasa 3.6's ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, which first
checks Rasa's constant response schema against the JSON-Schema meta-schema: about 15 ms of every
custom action call on this machine. This replacement validates the same schema the same way
(best-matching error, Rasa's hint appended) with a validator built once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction

HINT = (
    ". Failed to validate Action server response from API, make sure your response from the "
    "Action endpoint is valid."
)


@lru_cache(maxsize=1)
def _response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    return validators.validator_for(schema)(schema)


def validate_action_result(_: RemoteAction, result: dict[str, Any]) -> bool:
    """Raises ``jsonschema.ValidationError`` when ``result`` is not a valid action response."""
    error = exceptions.best_match(_response_validator().iter_errors(result))
    if error is not None:
        error.message += HINT
        raise error
    return True


def install() -> None:
    """Makes Rasa's remote actions use the compiled validator."""
    RemoteAction._validate_action_result = validate_action_result
