"""Reads the user messages of the tracker store, and the handoff tickets (with the desk's teams,
replies, tags and the times the SLA is judged by), agents and help-center events of the handoff
store, that the figures are made of. A handoff store made by an older version is read as it is:
what it lacks is left out."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from bot.database import create_engine
from bot.handoff.records import Reason, Urgency
from bot.handoff.sla import SlaPolicy
from bot.handoff.tables import agents, ticket_tags, tickets
from bot.help_center import store as help_store
from bot.help_center.articles import ArticleError, parse_article
from bot.insight.compute import compute_figures
from bot.insight.records import (
    DeskLog,
    Figures,
    HandoffRecord,
    HelpArticle,
    HelpCenterLog,
    HelpEvent,
    UserTurn,
)
from bot.settings import StoreUrls
from bot.support_hours import SupportHours

logger = logging.getLogger(__name__)

UNKNOWN_CHANNEL = "unknown"

# Rasa's SQLTrackerStore table, read only; Rasa creates it.
events = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)
# Events after which a human owns the conversation, and those that give it back to the bot.
PAUSING = {"pause"}
RESUMING = {"resume", "restart", "session_started"}


class InsightError(RuntimeError):
    """A store the figures are read from is missing or unreadable; the message says which."""


def table_exists(engine: Engine, name: str) -> bool:
    """Whether ``name`` is a table of ``engine``'s database (Rasa creates the events table)."""
    return bool(sa.inspect(engine).has_table(name))


def load_turns(engine: Engine, since: datetime | None = None) -> list[UserTurn]:
    """User messages of the tracker store (from ``since`` on), with who they were addressed to."""
    if not table_exists(engine, events.name):
        return []
    wanted = events.c.type_name.in_(["user", *PAUSING, *RESUMING])
    query = sa.select(
        events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.data
    ).where(wanted)
    if since is not None:
        # State changes before the window still say who owns a conversation inside it.
        query = query.where(
            sa.or_(events.c.type_name != "user", events.c.timestamp >= since.timestamp())
        )
    query = query.order_by(events.c.sender_id, events.c.id)
    turns: list[UserTurn] = []
    paused: dict[str, bool] = {}
    with engine.connect() as connection:
        for sender_id, type_name, stamp, raw in connection.execute(query):
            if type_name in PAUSING or type_name in RESUMING:
                paused[sender_id] = type_name in PAUSING
                continue
            turns.append(user_turn(sender_id, stamp, raw, to_bot=not paused.get(sender_id, False)))
    return turns


def user_turn(sender_id: str, stamp: float | None, raw: str | None, to_bot: bool) -> UserTurn:
    """A stored user event's row as a ``UserTurn`` (an unreadable one as an empty message)."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        logger.warning("unreadable user event in conversation %s", sender_id)
        data = {}
    if not isinstance(data, dict):
        data = {}
    parse = data.get("parse_data") or {}
    intent = (parse.get("intent") or {}).get("name")
    rating = next(
        (
            entity.get("value")
            for entity in parse.get("entities") or []
            if isinstance(entity, Mapping) and entity.get("entity") == "rating"
        ),
        None,
    )
    when = stamp if stamp is not None else data.get("timestamp") or 0.0
    return UserTurn(
        conversation_id=sender_id,
        at=datetime.fromtimestamp(float(when), timezone.utc),
        channel=str(data.get("input_channel") or UNKNOWN_CHANNEL),
        intent=str(intent) if intent else None,
        text=str(data.get("text") or ""),
        rating_entity=str(rating) if rating is not None else None,
        to_bot=to_bot,
    )


# Tickets' columns the desk added, and those supervision added: a store made before lacks them.
DESK_COLUMNS = ("team", "first_response_at")
MESSAGE_COLUMNS = ("last_user_message_at", "last_agent_reply_at")


def _columns(engine: Engine, table: sa.Table) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns(table.name)}


def load_handoffs(engine: Engine, since: datetime | None = None) -> list[HandoffRecord]:
    """Handoff tickets opened from ``since`` on, oldest first, with their tags."""
    if not table_exists(engine, tickets.name):
        return []
    columns = tickets.c
    present = _columns(engine, tickets)
    desk = [columns[name] for name in (*DESK_COLUMNS, *MESSAGE_COLUMNS) if name in present]
    query = sa.select(
        columns.ticket_id,
        columns.conversation_id,
        columns.channel,
        columns.reason,
        columns.urgency,
        columns.created_at,
        columns.assigned_at,
        columns.closed_at,
        columns.cancelled,
        columns.agent,
        columns.rating,
        *desk,
    ).order_by(columns.created_at, columns.ticket_id)
    if since is not None:
        query = query.where(columns.created_at >= since)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        tags = _tags(connection, since) if table_exists(engine, ticket_tags.name) else {}
    return [
        HandoffRecord(
            conversation_id=row.conversation_id,
            channel=row.channel,
            reason=Reason(row.reason),
            created_at=row.created_at,
            assigned_at=row.assigned_at,
            closed_at=row.closed_at,
            cancelled=bool(row.cancelled),
            agent=row.agent,
            rating=row.rating,
            team=row.team if "team" in present else None,
            first_response_at=row.first_response_at if "first_response_at" in present else None,
            tags=tuple(tags.get(row.ticket_id, ())),
            urgency=_urgency(row.urgency),
            last_user_message_at=_present(row, present, "last_user_message_at"),
            last_agent_reply_at=_present(row, present, "last_agent_reply_at"),
        )
        for row in rows
    ]


def _present(row: sa.Row[Any], present: set[str], name: str) -> datetime | None:
    value = getattr(row, name) if name in present else None
    return value if isinstance(value, datetime) else None


def _urgency(stored: str) -> Urgency:
    """The stored urgency; one this version does not know counts as normal."""
    known = {urgency.value: urgency for urgency in Urgency}
    return known.get(stored, Urgency.NORMAL)


def _tags(connection: Connection, since: datetime | None) -> dict[int, list[str]]:
    """The tags of each ticket opened from ``since`` on that has any."""
    query = (
        sa.select(ticket_tags.c.ticket_id, ticket_tags.c.tag)
        .join(tickets, tickets.c.ticket_id == ticket_tags.c.ticket_id)
        .order_by(ticket_tags.c.ticket_id, ticket_tags.c.tag)
    )
    if since is not None:
        query = query.where(tickets.c.created_at >= since)
    found: dict[int, list[str]] = {}
    for ticket_id, tag in connection.execute(query):
        found.setdefault(int(ticket_id), []).append(str(tag))
    return found


def load_desk_log(engine: Engine) -> DeskLog:
    """The agents' display names, and which of the desk's records the handoff store holds (all
    of them when it has no tickets table: no tickets, nothing missing)."""
    if not table_exists(engine, tickets.name):
        return DeskLog()
    present = _columns(engine, tickets)
    names: dict[str, str] = {}
    if table_exists(engine, agents.name):
        with engine.connect() as connection:
            query = sa.select(agents.c.username, agents.c.display_name)
            names = {row.username: row.display_name for row in connection.execute(query)}
    return DeskLog(
        display_names=names,
        teams_recorded="team" in present,
        first_responses_recorded="first_response_at" in present,
        tags_recorded=table_exists(engine, ticket_tags.name),
        last_messages_recorded=all(name in present for name in MESSAGE_COLUMNS),
    )


def load_help_center(engine: Engine, since: datetime | None = None) -> HelpCenterLog | None:
    """The help center's events from ``since`` on and its articles' titles; None when the
    database has no help-center events table (the help center never ran on it)."""
    if not table_exists(engine, help_store.events.name):
        return None
    recorded = help_store.events.c
    query = sa.select(recorded.at, recorded.kind, recorded.article_id, recorded.question).order_by(
        recorded.at, recorded.event_id
    )
    if since is not None:
        query = query.where(recorded.at >= since)
    kinds = {kind.value: kind for kind in help_store.Event}
    found: list[HelpEvent] = []
    with engine.connect() as connection:
        for row in connection.execute(query):
            kind = kinds.get(row.kind)
            if kind is None:
                logger.warning("help-center event of unknown kind %r skipped", row.kind)
                continue
            found.append(HelpEvent(row.at, kind, row.article_id, row.question))
        titles = (
            _help_articles(connection) if table_exists(engine, help_store.articles.name) else ()
        )
    return HelpCenterLog(tuple(found), titles)


def _help_articles(connection: Connection) -> tuple[HelpArticle, ...]:
    stored = help_store.articles.c
    rows = connection.execute(sa.select(stored.article_id, stored.text, stored.retired))
    found = []
    for row in rows:
        try:
            title = parse_article(row.text).title
        except ArticleError:
            logger.warning("stored help article %s cannot be read: no title", row.article_id)
            continue
        found.append(HelpArticle(row.article_id, title, bool(row.retired)))
    return tuple(found)


@contextmanager
def _opened(url: str) -> Iterator[Engine]:
    """An engine on ``url`` for one read, disposed after it."""
    parsed = make_url(url)
    database = parsed.database
    on_disk = parsed.get_backend_name() == "sqlite" and database not in (None, "", ":memory:")
    # SQLite would create an empty file for a mistyped path and report nothing.
    if on_disk and not Path(str(database)).exists():
        raise InsightError(
            f"no SQLite database at {database} (check TRACKER_DB_URL or HANDOFF_DB_URL)"
        )
    engine = create_engine(url, future=True)
    try:
        yield engine
    finally:
        engine.dispose()


@dataclass(frozen=True)
class InsightSources:
    """Where the figures come from: SQLAlchemy URLs of the tracker store and the handoff store.

    Each read opens its engines and disposes of them after, so nothing is kept between reads:
    a caller may keep one InsightSources or build one per request.
    """

    tracker_url: str
    handoff_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> InsightSources:
        """The stores the servers use: TRACKER_DB_URL and HANDOFF_DB_URL (``StoreUrls``)."""
        stores = StoreUrls.from_env(env)
        return cls(stores.tracker, stores.handoff)

    def figures(
        self,
        since: datetime | None = None,
        zone: tzinfo | None = None,
        sla: SlaPolicy | None = None,
        now: datetime | None = None,
    ) -> Figures:
        """The figures from ``since`` on (everything by default), days in SUPPORT_TIMEZONE, and
        SLA breaches under ``sla`` when given (the server's ``SlaPolicy.of(settings)``, or
        ``SlaPolicy.from_env()``), open tickets judged at ``now`` (by default the time of the
        read)."""
        now = now or datetime.now(timezone.utc)
        try:
            with _opened(self.tracker_url) as tracker, _opened(self.handoff_url) as handoff:
                turns = load_turns(tracker, since)
                handoffs = load_handoffs(handoff, since)
                help_log = load_help_center(handoff, since)
                desk_log = load_desk_log(handoff)
        except sa.exc.SQLAlchemyError as error:
            raise InsightError(f"cannot read the stores: {error.__class__.__name__}") from error
        zone = zone or SupportHours.from_env().timezone
        return compute_figures(turns, handoffs, zone, help_log, desk_log, sla, now)
