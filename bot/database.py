"""What every SQL store shares: opening a database with its tables, the default SQLite files
under ``var/``, and a column type for aware datetimes."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

VAR = Path(__file__).resolve().parents[1] / "var"


def sqlite_in_var(filename: str) -> str:
    """The URL of an embedded SQLite database in ``var/`` (created on demand)."""
    VAR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{VAR / filename}"


def open_database(url: str, metadata: sa.MetaData) -> Engine:
    """An engine on ``url`` with ``metadata``'s tables created if they are missing."""
    engine = sa.create_engine(url, future=True)
    metadata.create_all(engine)
    return engine


class UtcDateTime(sa.types.TypeDecorator):
    """Aware datetimes stored as UTC (SQLite drops offsets)."""

    impl = sa.DateTime()
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)
