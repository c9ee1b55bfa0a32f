"""The handoff database's tables (SQLAlchemy Core), opening the database with them, and the
clock their timestamps come from.

Shared by the action server (which opens tickets) and the Rasa server (agent console, delivery),
so they live in a database: SQLite by default, PostgreSQL in production. The insight report reads
``tickets`` directly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.database import UtcDateTime, open_database

logger = logging.getLogger(__name__)

metadata = sa.MetaData()

tickets = sa.Table(
    "handoff_tickets",
    metadata,
    sa.Column("ticket_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("urgency", sa.String(16), nullable=False),
    sa.Column("urgency_rank", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("assigned_at", UtcDateTime),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("agent", sa.String(64)),
    sa.Column("close_note", sa.Text),
    sa.Column("rating", sa.Integer),
    sa.Column("cancelled", sa.Boolean, nullable=False, default=False),
    sa.Column("timeout_notified", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_handoff_tickets_state", "state", "urgency_rank", "created_at"),
    sa.Index("ix_handoff_tickets_conversation", "conversation_id", "created_at"),
)

agents = sa.Table(
    "handoff_agents",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    # Set: the agent cannot log in. Added to stores created before it (see _add_new_columns).
    sa.Column("disabled_at", UtcDateTime),
    # "agent" or "lead" (bot.handoff.directory.ROLES); empty in stores made before roles: agent.
    sa.Column("role", sa.String(16)),
)

sessions = sa.Table(
    "handoff_agent_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), sa.ForeignKey(agents.c.username), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

# One row per throttled key ("user:" or "address:" and a hash of the value): the failures counted
# since window_start, and the time a locked key opens again.
login_failures = sa.Table(
    "handoff_login_failures",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_start", UtcDateTime, nullable=False),
    sa.Column("locked_until", UtcDateTime),
)

outbox = sa.Table(
    "handoff_outbox",
    metadata,
    sa.Column("message_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_handoff_outbox_conversation", "conversation_id", "message_id"),
)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def open_handoff_database(url: str) -> Engine:
    """An engine on ``url`` with the handoff tables there, in this version's shape."""
    engine = open_database(url, metadata)
    _add_new_columns(engine)
    return engine


def _add_new_columns(engine: Engine) -> None:
    """Adds columns this version gave existing tables (nullable ones: no value to fill in).

    ``create_all`` creates missing tables only; stores made by an older version lack them.
    """
    for table, column in [(agents, agents.c.disabled_at), (agents, agents.c.role)]:
        for attempt in range(2):
            present = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
            if column.name in present:
                break
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as connection:
                    connection.exec_driver_sql(
                        f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"
                    )
                logger.info("added column %s.%s", table.name, column.name)
            except (sa.exc.OperationalError, sa.exc.ProgrammingError):
                # Another server starting at the same time added it first.
                if attempt:
                    raise
