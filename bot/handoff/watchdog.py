"""The pickup watchdog: tells users nobody picked up within HANDOFF_PICKUP_MINUTES (once per
ticket, on one server) and purges expired agent sessions and old login failures."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sanic import Sanic

from bot.handoff.delivery import Delivery
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HandoffStore

logger = logging.getLogger(__name__)

NO_AGENT = "utter_handoff_no_agent"


class PickupWatchdog:
    """A background task of the Rasa server, one round every HANDOFF_WATCH_SECONDS."""

    def __init__(self, store: HandoffStore, settings: HandoffSettings) -> None:
        self._store = store
        self._settings = settings

    async def run(self, app: Sanic) -> None:
        """Rounds until the server stops; a failed round is logged and tried again next time."""
        while True:
            await asyncio.sleep(self._settings.watch_seconds)
            try:
                await self.check(app)
            except Exception:
                logger.exception("pickup watchdog failed; trying again next round")

    async def check(self, app: Sanic) -> None:
        """One round: purge, then tell each user whose ticket waited too long."""
        store = self._store
        await asyncio.to_thread(store.agents.purge_expired)
        agent = getattr(app.ctx, "agent", None)
        if agent is None:
            return
        pickup = timedelta(minutes=self._settings.pickup_minutes)
        late = await asyncio.to_thread(store.tickets.claim_timeouts, pickup)
        delivery = Delivery(agent, app.ctx.input_channels, store.outbox)
        for ticket in late:
            await delivery.send_response(ticket.conversation_id, NO_AGENT, channel=ticket.channel)
