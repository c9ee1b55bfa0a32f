"""The desk's dispatcher: automatic assignment rounds of the Rasa server.

Every HANDOFF_ASSIGN_SECONDS (and at once after anything that frees an agent or queues a
ticket from the console) a round takes back the tickets nobody answered in time, telling their
users they are queued again, and gives queued tickets to online agents (``bot.handoff.assignment``),
telling the users who joined. A ticket whose agent has not replied within
HANDOFF_REASSIGN_MINUTES of getting it, or whose agent sent no heartbeat for as long, goes back.
Every server runs rounds; the store makes each assignment and take-back happen once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sanic import Sanic

from bot.handoff.delivery import Delivery
from bot.handoff.notes import RETURNED
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HandoffStore

logger = logging.getLogger(__name__)

REASSIGNED = "utter_handoff_reassigned"
JOINED = "utter_agent_joined"


class Dispatcher:
    """Made with the console's routes (which wake it), run once the server has its services."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Runs a round now (an agent came online, freed a place, or queued a ticket)."""
        self._wake.set()

    async def run(self, app: Sanic, store: HandoffStore, settings: HandoffSettings) -> None:
        """Rounds until the server stops; a failed round is logged and tried again next time."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), settings.assign_seconds)
            self._wake.clear()
            try:
                await self.round(app, store, settings)
            except Exception:
                logger.exception("assignment round failed; trying again next round")

    async def round(self, app: Sanic, store: HandoffStore, settings: HandoffSettings) -> None:
        agent = getattr(app.ctx, "agent", None)
        if agent is None:
            return
        delivery = Delivery(agent, app.ctx.input_channels, store.outbox)
        late = timedelta(minutes=settings.reassign_minutes)
        gone = await asyncio.to_thread(store.roster.gone, late)
        for ticket in await asyncio.to_thread(store.tickets.take_back, late, gone):
            logger.info("ticket %d taken back from its agent", ticket.ticket_id)
            await asyncio.to_thread(store.notes.add, ticket.ticket_id, "system", "", RETURNED)
            await delivery.send_response(ticket.conversation_id, REASSIGNED, channel=ticket.channel)
        for made in await asyncio.to_thread(store.assigner.assign):
            logger.info("ticket %d assigned automatically", made.ticket.ticket_id)
            await delivery.send_response(
                made.ticket.conversation_id,
                JOINED,
                channel=made.ticket.channel,
                agent_name=made.agent.display_name,
            )
