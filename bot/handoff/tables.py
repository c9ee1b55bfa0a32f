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
    # Added after the first version (see _add_new_columns), so nullable: None reads as the
    # default. The team whose queue the ticket is in (bot.handoff.records.Team).
    sa.Column("team", sa.String(16)),
    sa.Column("first_response_at", UtcDateTime),
    sa.Column("last_agent_reply_at", UtcDateTime),
    # Unread counts: the user's messages since the handoff, and how many the agent has seen.
    sa.Column("user_messages", sa.Integer),
    sa.Column("read_messages", sa.Integer),
    sa.Column("user_typing_until", UtcDateTime),
    sa.Column("agent_typing_until", UtcDateTime),
    # The redacted transcript as of the last agent reply or the close, for search.
    sa.Column("transcript", sa.Text),
    # The proven owner's account (bot.identity), for the account panel; never sent to a page.
    sa.Column("account_id", sa.String(64)),
    # When the user last wrote while the ticket was open (the next-response SLA counts from it).
    sa.Column("last_user_message_at", UtcDateTime),
    # The agent the ticket was last taken back from (no reply in time) or who transferred it to a
    # team: assigned elsewhere first.
    sa.Column("returned_from", sa.String(64)),
    sa.Index("ix_handoff_tickets_state", "state", "urgency_rank", "created_at"),
    sa.Index("ix_handoff_tickets_conversation", "conversation_id", "created_at"),
    sa.Index("ix_handoff_tickets_assigned", "assigned_at"),
)

agents = sa.Table(
    "handoff_agents",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    # Set: the agent cannot log in. Added to stores created before it (see _add_new_columns).
    sa.Column("disabled_at", UtcDateTime),
    # bot.handoff.records.Role; empty in stores made before roles: agent; "lead" (the first
    # version's reviewer): supervisor.
    sa.Column("role", sa.String(16)),
    # Comma-separated bot.handoff.records.Team values; empty: the general team.
    sa.Column("teams", sa.String(64)),
    sa.Column("capacity", sa.Integer),
    # What the agent last said they are (online, away, offline) and their last heartbeat.
    sa.Column("presence", sa.String(16)),
    sa.Column("last_seen", UtcDateTime),
    # When automatic assignment last gave them a ticket: equal loads go round-robin.
    sa.Column("last_assigned_at", UtcDateTime),
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

# Everyone who held a ticket (claimed, assigned, transferred to): whose search finds it.
ticket_agents = sa.Table(
    "handoff_ticket_agents",
    metadata,
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey(tickets.c.ticket_id), primary_key=True),
    sa.Column("username", sa.String(64), primary_key=True),
)

notes = sa.Table(
    "handoff_notes",
    metadata,
    sa.Column("note_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey(tickets.c.ticket_id), nullable=False),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    # A transfer's destination: "agent:<username>" or "team:<team>".
    sa.Column("target", sa.String(80)),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_handoff_notes_ticket", "ticket_id", "note_id"),
)

ticket_tags = sa.Table(
    "handoff_ticket_tags",
    metadata,
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey(tickets.c.ticket_id), primary_key=True),
    sa.Column("tag", sa.String(32), primary_key=True),
)

canned_replies = sa.Table(
    "handoff_canned_replies",
    metadata,
    sa.Column("reply_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("shortcut", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    # A personal reply has its owner; a team's has the team (bot.handoff.records.Team).
    sa.Column("owner", sa.String(64)),
    sa.Column("team", sa.String(16)),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
)

# Append-only (bot.handoff.audit): nothing in the code updates or deletes a row.
audit_log = sa.Table(
    "handoff_audit_log",
    metadata,
    sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_handoff_audit_actor", "actor", "action", "at"),
)

# What supervisors are alerted to (unusual viewing, a blocked agent reply): newest first.
alerts = sa.Table(
    "handoff_alerts",
    metadata,
    sa.Column("alert_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("ticket_id", sa.Integer),
    sa.Column("detail", sa.Text, nullable=False),
)

# Addresses or URLs a supervisor checked and let an agent send in one ticket (bot.handoff.guard).
guard_approvals = sa.Table(
    "handoff_guard_approvals",
    metadata,
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey(tickets.c.ticket_id), primary_key=True),
    sa.Column("value", sa.String(255), primary_key=True),
    sa.Column("approved_by", sa.String(64), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
)

# The supervisors' live view of every open conversation, bot-only ones included (bot.handoff.live).
live_conversations = sa.Table(
    "handoff_live_conversations",
    metadata,
    sa.Column("conversation_id", sa.String(255), primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("last_intent", sa.String(64)),
    sa.Column("confidence", sa.Float),
    # Comma-separated: secret_shared, theft, fallbacks.
    sa.Column("flags", sa.String(128), nullable=False),
    sa.Column("fallbacks_in_row", sa.Integer, nullable=False),
    sa.Column("first_seen_at", UtcDateTime, nullable=False),
    sa.Column("last_user_at", UtcDateTime, nullable=False),
    sa.Index("ix_handoff_live_last_user", "last_user_at"),
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
    with engine.begin() as connection:  # an index this version gave an existing table
        connection.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS ix_handoff_tickets_assigned"
            " ON handoff_tickets (assigned_at)"
        )
    _keep_append_only(engine, audit_log)
    return engine


# Any 64-bit number the application owns: the key of the lock around the trigger's creation.
APPEND_ONLY_LOCK = 0x494D5F6175646974  # "IM_audit"


def _keep_append_only(engine: Engine, table: sa.Table) -> None:
    """Makes the database itself refuse to change or remove ``table``'s rows: not only has the
    code no such path, a statement typed by hand into the database fails too."""
    name = table.name
    if engine.dialect.name == "postgresql":
        statements = [
            # Servers starting together on one database take turns (a transaction-scoped lock).
            f"SELECT pg_advisory_xact_lock({APPEND_ONLY_LOCK})",
            "CREATE OR REPLACE FUNCTION im_append_only() RETURNS trigger AS $$ BEGIN"
            " RAISE EXCEPTION 'append-only table %', TG_TABLE_NAME; END $$ LANGUAGE plpgsql",
            f"DROP TRIGGER IF EXISTS {name}_append_only ON {name}",
            f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name}"
            " FOR EACH ROW EXECUTE FUNCTION im_append_only()",
        ]
    else:
        statements = [
            f"CREATE TRIGGER IF NOT EXISTS {name}_no_update BEFORE UPDATE ON {name}"
            " BEGIN SELECT RAISE(ABORT, 'append-only table'); END",
            f"CREATE TRIGGER IF NOT EXISTS {name}_no_delete BEFORE DELETE ON {name}"
            " BEGIN SELECT RAISE(ABORT, 'append-only table'); END",
        ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))


def _add_new_columns(engine: Engine) -> None:
    """Adds columns this version gave existing tables (nullable ones: no value to fill in).

    ``create_all`` creates missing tables only; stores made by an older version lack them.
    """
    added = {
        agents: [
            "disabled_at",
            "role",
            "teams",
            "capacity",
            "presence",
            "last_seen",
            "last_assigned_at",
        ],
        tickets: [
            "team",
            "first_response_at",
            "last_agent_reply_at",
            "user_messages",
            "read_messages",
            "user_typing_until",
            "agent_typing_until",
            "transcript",
            "returned_from",
            "account_id",
            "last_user_message_at",
        ],
    }
    for table, names in added.items():
        present = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
        for column in [table.c[name] for name in names if name not in present]:
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as connection:
                    connection.exec_driver_sql(
                        f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"
                    )
                logger.info("added column %s.%s", table.name, column.name)
            except (sa.exc.OperationalError, sa.exc.ProgrammingError):
                # Another server starting at the same time added it first.
                fresh = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
                if column.name not in fresh:
                    raise
