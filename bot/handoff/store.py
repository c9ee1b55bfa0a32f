"""The handoff database opened once, with its parts: tickets, the agent directory and the outbox.

Shared by the action server (which opens tickets) and the Rasa server (agent console, delivery):
SQLite by default, PostgreSQL in production (HANDOFF_DB_URL).
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.engine import Engine

from bot.handoff.directory import AgentDirectory
from bot.handoff.outbox import Outbox
from bot.handoff.settings import HandoffSettings
from bot.handoff.tables import open_handoff_database
from bot.handoff.tickets import TicketStore


class HandoffStore:
    """One engine on the handoff database, shared by ``tickets``, ``agents`` and ``outbox``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tickets = TicketStore(engine)
        self.agents = AgentDirectory(engine)
        self.outbox = Outbox(engine)

    @classmethod
    def from_url(cls, url: str) -> HandoffStore:
        return cls(open_handoff_database(url))


@lru_cache(maxsize=1)
def handoff_store() -> HandoffStore:
    """The process-wide store, from HANDOFF_DB_URL (default var/handoff.db)."""
    return HandoffStore.from_url(HandoffSettings.from_env().db_url)
