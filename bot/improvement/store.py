"""The review's tables opened once, with their parts: labels, agents' flags, the audit log, the
training runs, the model versions and the model each server runs.

They live in the handoff database (HANDOFF_DB_URL: SQLite by default, PostgreSQL in
production), so every server's console sees the same labels; each server opens them once, in its
services (``bot.services``).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.improvement.audit import AuditLog
from bot.improvement.flags import FlagStore
from bot.improvement.labels import LabelStore
from bot.improvement.models import ModelStore
from bot.improvement.server_models import ServerModels
from bot.improvement.tables import open_improvement_database
from bot.improvement.training import TrainingRuns


class ReviewStore:
    """One engine on the handoff database, shared by all the parts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.labels = LabelStore(engine)
        self.flags = FlagStore(engine)
        self.audit = AuditLog(engine)
        self.training = TrainingRuns(engine)
        self.models = ModelStore(engine)
        self.servers = ServerModels(engine)

    @classmethod
    def from_url(cls, url: str) -> ReviewStore:
        return cls(open_improvement_database(url))
