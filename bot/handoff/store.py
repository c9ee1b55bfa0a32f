"""The handoff database opened once, with its parts: tickets, the agent directory, presence and
assignment, notes and tags, canned replies, search, the audit log and the outbox.

Shared by the action server (which opens tickets) and the Rasa server (agent console, delivery):
SQLite by default, PostgreSQL in production (HANDOFF_DB_URL); each server opens it once, in its
services (``bot.services``).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.database import create_engine
from bot.handoff.assignment import Assigner
from bot.handoff.audit import AuditLog
from bot.handoff.canned import CannedReplies
from bot.handoff.directory import AgentDirectory
from bot.handoff.notes import NoteBook
from bot.handoff.outbox import Outbox
from bot.handoff.presence import Roster
from bot.handoff.search import TicketSearch
from bot.handoff.tables import open_handoff_database
from bot.handoff.tickets import TicketStore


class HandoffStore:
    """One engine on the handoff database, shared by all parts but the outbox, which, read on
    every REST turn, has an autocommit one (no BEGIN and COMMIT round trips)."""

    def __init__(self, engine: Engine, autocommit: Engine) -> None:
        self.engine = engine
        self.tickets = TicketStore(engine)
        self.agents = AgentDirectory(engine)
        self.roster = Roster(engine)
        self.assigner = Assigner(engine, self.roster)
        self.notes = NoteBook(engine)
        self.canned = CannedReplies(engine)
        self.search = TicketSearch(engine)
        self.audit = AuditLog(engine)
        self.outbox = Outbox(autocommit)

    @classmethod
    def from_url(cls, url: str) -> HandoffStore:
        engine = open_handoff_database(url)
        return cls(engine, create_engine(url, isolation_level="AUTOCOMMIT", future=True))
