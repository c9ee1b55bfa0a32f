"""The improvement loop's audit log: who labelled, undid, pinned or flagged what, and when.

Append-only: the stores write their entries in the same transaction as their change
(``bot.improvement.labels.append_entry``); ``AuditLog`` adds others and reads them back, and
offers no way to change or remove one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.improvement.labels import append_entry, utc_now
from bot.improvement.tables import audit, open_improvement_database


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who did what, when."""

    entry_id: int
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]


class AuditLog:
    """The append-only log of the improvement loop, for the lead to read.

    It offers ``record`` and ``entries`` only: no entry is ever changed or removed.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> AuditLog:
        return cls(open_improvement_database(url))

    def record(self, actor: str, action: str, details: Mapping[str, Any]) -> None:
        """Appends an entry (``details`` JSON-serialisable) stamped now."""
        with self.engine.begin() as connection:
            append_entry(connection, actor, action, details, utc_now())

    def entries(self, limit: int = 200, offset: int = 0) -> list[AuditEntry]:
        """Up to ``limit`` entries after skipping the ``offset`` newest, newest first."""
        if limit < 1 or offset < 0:
            raise ValueError("limit must be positive and offset not negative")
        query = sa.select(audit).order_by(audit.c.entry_id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as connection:
            return [
                AuditEntry(row.entry_id, row.at, row.actor, row.action, json.loads(row.details))
                for row in connection.execute(query)
            ]
