"""The model tables of the improvement loop (SQLAlchemy Core) and opening the database with them:
the stored model versions (``bot.improvement.models``) and the model each server loaded last
(``bot.improvement.server_models``).

They live in the handoff database (HANDOFF_DB_URL: SQLite by default, PostgreSQL in
production), beside the review's, with the improvement audit log (``bot.improvement.tables``),
so that a change to a model version writes its audit entry in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.database import UtcDateTime, open_database
from bot.improvement.tables import audit

MAX_SERVER_ID = 255

metadata = sa.MetaData()

versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("version_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.String(64), nullable=False),  # sha256 of the bytes, hex: the ETag
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("verdict", sa.Text),  # the gate's verdict, JSON
    # The version live when the candidate was stored: what the gate compared it with.
    sa.Column("baseline_id", sa.Integer),
    sa.Column("approved_by", sa.String(64)),
    sa.Column("approved_at", UtcDateTime),
    sa.Column("retired_by", sa.String(64)),
    sa.Column("retired_at", UtcDateTime),
    sa.Index("ix_model_versions_state", "state"),
    # One live version, also when two leads approve at once.
    sa.Index(
        "ux_model_versions_live",
        "state",
        unique=True,
        sqlite_where=sa.text("state = 'live'"),
        postgresql_where=sa.text("state = 'live'"),
    ),
)

servers = sa.Table(
    "server_models",
    metadata,
    sa.Column("server_id", sa.String(MAX_SERVER_ID), primary_key=True),  # host:port
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("loaded_at", UtcDateTime, nullable=False),
)

# The audit log (bot.improvement.tables) is created with these tables too: every change to a
# model version writes its entry there in the same transaction.
audit.to_metadata(metadata)


def open_model_database(url: str) -> Engine:
    """An engine on ``url`` (the handoff database's) with the model tables and the audit log."""
    return open_database(url, metadata)
