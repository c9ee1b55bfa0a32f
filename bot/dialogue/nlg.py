"""Response generator that fills operator settings (agent hours) into every response.

Configured in endpoints.yml (``nlg: type: bot.dialogue.nlg.SupportNLG``), so the values come from
the Rasa server's own configuration and never depend on the action server being up.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.dialogue import action_validation
from bot.support_hours import SupportHours


class SupportNLG(TemplatedNaturalLanguageGenerator):
    """domain.yml responses, with {agent_open}, {agent_close} and {agent_timezone} filled in."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None):
        super().__init__((domain or Domain.empty()).responses)
        self._hours = SupportHours.from_env()
        action_validation.install()  # the NLG is built once per server: our start-up hook

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        values = self._hours.response_values(datetime.now(timezone.utc))
        return await super().generate(utter_action, tracker, output_channel, **{**values, **kwargs})
