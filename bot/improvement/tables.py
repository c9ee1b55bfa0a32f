"""The improvement loop's tables (SQLAlchemy Core) and opening the database with them: labels,
agents' flags, the audit log, training runs, model versions and the servers' loaded models.

They live in the handoff database (HANDOFF_DB_URL: SQLite by default, PostgreSQL in
production) beside the agents and tickets, so every server and the export read the same labels;
one metadata, so a change writes its audit entry in the same transaction on the same engine.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.database import UtcDateTime, open_database

metadata = sa.MetaData()

# A lead's decision about a message: the intent it should have had (or "out_of_scope", or
# "ignore": not training material), with optional entity spans. Texts are as stored, secret
# markers included. A row is never deleted: a replaced or undone label gets undone_by/undone_at.
labels = sa.Table(
    "review_labels",
    metadata,
    sa.Column("label_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("text_key", sa.String(255), nullable=False),
    sa.Column("intent", sa.String(64), nullable=False),
    sa.Column("entities", sa.Text, nullable=False),  # JSON list of {start, end, entity, value}
    sa.Column("pinned", sa.Boolean, nullable=False, default=False),
    sa.Column("labelled_by", sa.String(64), nullable=False),
    sa.Column("labelled_at", UtcDateTime, nullable=False),
    sa.Column("undone_by", sa.String(64)),
    sa.Column("undone_at", UtcDateTime),
    sa.Index("ix_review_labels_text_key", "text_key"),
    # At most one active label per key, also when two leads label the same row at once.
    sa.Index(
        "ux_review_labels_active_key",
        "text_key",
        unique=True,
        sqlite_where=sa.text("undone_at IS NULL"),
        postgresql_where=sa.text("undone_at IS NULL"),
    ),
)

# An agent's "the assistant got this wrong" on a conversation, from a ticket or without one.
flags = sa.Table(
    "review_flags",
    metadata,
    sa.Column("flag_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("ticket_id", sa.Integer),
    sa.Column("flagged_by", sa.String(64), nullable=False),
    sa.Column("flagged_at", UtcDateTime, nullable=False),
    sa.Column("note", sa.Text),
    sa.Index("ix_review_flags_flagged_at", "flagged_at"),
)

# Who labelled, flagged, trained, approved and rolled back what, and when. Append-only: no code
# updates or deletes a row.
audit = sa.Table(
    "improvement_audit",
    metadata,
    sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("details", sa.Text, nullable=False),  # JSON object
)


# The candidates' training runs (bot.improvement.training).
training_runs = sa.Table(
    "training_runs",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("requested_by", sa.String(64), nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("percent", sa.Integer, nullable=False),
    sa.Column("eta_seconds", sa.Integer),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("version_id", sa.Integer),
    # 1 while running, NULL after: the UNIQUE constraint lets one run at most be active.
    sa.Column("active", sa.Integer, unique=True),
    sa.CheckConstraint("active = 1", name="ck_training_runs_active"),
    sa.Index("ix_training_runs_finished_at", "finished_at"),
)

# The stored model versions (bot.improvement.models) and the model each server loaded last
# (bot.improvement.server_models).
MAX_SERVER_ID = 255

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


def open_improvement_database(url: str) -> Engine:
    """An engine on ``url`` (the handoff database's) with the improvement tables there."""
    return open_database(url, metadata)
