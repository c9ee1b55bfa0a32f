"""Response generator: operator settings (agent hours) filled in, the text in the user's script.

Configured in endpoints.yml (``nlg: type: bot.dialogue.nlg.SupportNLG``), so the values come from
the Rasa server's own configuration and never depend on the action server being up. Every channel
renders responses here, so a user who writes traditional Chinese reads them in traditional
(``bot.dialogue.script``); an agent's own messages do not pass through and stay as written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.dialogue.script import convert_response, latest_script
from bot.support_hours import SupportHours


class SupportNLG(TemplatedNaturalLanguageGenerator):
    """domain.yml responses, hours filled in, in the script of the user's latest messages."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None):
        super().__init__((domain or Domain.empty()).responses)
        self._hours = SupportHours.from_env()

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        values = self._hours.response_values(datetime.now(timezone.utc))
        message = await super().generate(
            utter_action, tracker, output_channel, **{**values, **kwargs}
        )
        if message is None:
            return None
        return convert_response(message, latest_script(_user_texts(tracker)))


def _user_texts(tracker: DialogueStateTracker) -> Iterator[str]:
    """What the user wrote, newest first."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered) and event.text:
            yield event.text
