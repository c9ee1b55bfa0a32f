"""The handoff store (SQLAlchemy Core): tickets, agents, agent sessions, login throttling and the
REST outbox.

Shared by the action server (which opens tickets) and the Rasa server (agent console, delivery),
so it lives in a database: SQLite by default, PostgreSQL in production. Failed agent logins are
counted here too, per typed username and per client address, so a lockout holds on every server.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.database import UtcDateTime, open_database
from bot.handoff.passwords import hash_password, needs_rehash, verify_nothing, verify_password
from bot.handoff.records import URGENCY_OF, Reason, State, Summary, Ticket, Urgency
from bot.handoff.settings import HandoffSettings

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


_OPEN = tickets.c.state.in_([State.QUEUED.value, State.ASSIGNED.value])


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed logins a username or a client address gets, and for how long it is locked.

    Failures within ``window`` are counted; the attempt that makes ``max_failures`` locks the key
    for ``lock``, and every failure before it is answered a little later than the one before.
    """

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)
    first_delay: float = 0.25
    max_delay: float = 4.0

    def delay(self, failures: int) -> float:
        """Seconds to hold the answer to the ``failures``-th failure in a row."""
        return min(self.first_delay * 2 ** max(failures - 1, 0), self.max_delay)


LOGIN_POLICY = LoginPolicy()


@dataclass(frozen=True)
class LoginAttempt:
    """Whether a login may be tried now: if so, how many failures it makes should it fail."""

    admitted: bool
    failures: int = 0
    retry_after: float = 0.0


def _throttle_keys(username: str, address: str | None) -> list[str]:
    """The keys of a login, in one order (locks are taken in it); values are stored hashed."""

    def key(kind: str, value: str) -> str:
        return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:64]}"

    keys = [key("user", username)]
    if address is not None:
        keys.append(key("address", address))
    return sorted(keys)


class HandoffStore:
    """Tickets and agents; every value reaches SQL as a bound parameter."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> HandoffStore:
        engine = open_database(url, metadata)
        _add_new_columns(engine)
        return cls(engine)

    # Tickets

    def open_ticket(
        self,
        conversation_id: str,
        channel: str,
        reason: Reason,
        summary: Summary,
        urgency: Urgency | None = None,
    ) -> Ticket:
        """Queues a ticket (at the reason's urgency unless given), or returns the open one."""
        with self._engine.begin() as connection:
            existing = self._open_for(connection, conversation_id)
            if existing is not None:
                return existing
            urgency = urgency or URGENCY_OF[reason]
            ticket_id = connection.execute(
                tickets.insert().values(
                    conversation_id=conversation_id,
                    channel=channel,
                    reason=reason.value,
                    urgency=urgency.value,
                    urgency_rank=urgency.rank,
                    state=State.QUEUED.value,
                    summary=json.dumps(summary.as_dict(), ensure_ascii=False),
                    created_at=utc_now(),
                    cancelled=False,
                    timeout_notified=False,
                )
            ).inserted_primary_key[0]
            return self._require(connection, ticket_id)

    def ticket(self, ticket_id: int) -> Ticket | None:
        with self._engine.connect() as connection:
            return self._get(connection, ticket_id)

    def open_ticket_for(self, conversation_id: str) -> Ticket | None:
        """The conversation's queued or assigned ticket, if any."""
        with self._engine.connect() as connection:
            return self._open_for(connection, conversation_id)

    def last_closed_for(self, conversation_id: str) -> Ticket | None:
        query = (
            sa.select(tickets)
            .where(
                tickets.c.conversation_id == conversation_id,
                tickets.c.state == State.CLOSED.value,
                tickets.c.cancelled.is_(False),
            )
            .order_by(tickets.c.closed_at.desc())
            .limit(1)
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _ticket(row) if row else None

    def queue(self, limit: int | None = None, offset: int = 0) -> list[Ticket]:
        """Open tickets: most urgent first, then longest waiting (``limit`` of them from
        ``offset`` on, or all)."""
        query = (
            sa.select(tickets)
            .where(_OPEN)
            .order_by(tickets.c.urgency_rank.desc(), tickets.c.created_at, tickets.c.ticket_id)
            .limit(limit)
            .offset(offset)
        )
        with self._engine.connect() as connection:
            return [_ticket(row) for row in connection.execute(query).mappings()]

    def queue_size(self) -> int:
        """How many tickets are open (queued or assigned)."""
        query = sa.select(sa.func.count()).select_from(tickets).where(_OPEN)
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def position(self, ticket: Ticket) -> int:
        """1 for the next ticket an agent will take."""
        queued = [t for t in self.queue() if t.state is State.QUEUED]
        ids = [t.ticket_id for t in queued]
        return ids.index(ticket.ticket_id) + 1 if ticket.ticket_id in ids else 0

    def claim(self, ticket_id: int, agent: str) -> Ticket | None:
        """Assigns a queued ticket to ``agent``; None if someone else got it first."""
        with self._engine.begin() as connection:
            updated = connection.execute(
                tickets.update()
                .where(tickets.c.ticket_id == ticket_id, tickets.c.state == State.QUEUED.value)
                .values(state=State.ASSIGNED.value, agent=agent, assigned_at=utc_now())
            )
            return self._get(connection, ticket_id) if updated.rowcount else None

    def close(self, ticket_id: int, agent: str, note: str) -> Ticket | None:
        """Closes the agent's own assigned ticket; None if it is not theirs or not assigned."""
        with self._engine.begin() as connection:
            updated = connection.execute(
                tickets.update()
                .where(
                    tickets.c.ticket_id == ticket_id,
                    tickets.c.agent == agent,
                    tickets.c.state == State.ASSIGNED.value,
                )
                .values(state=State.CLOSED.value, closed_at=utc_now(), close_note=note)
            )
            return self._get(connection, ticket_id) if updated.rowcount else None

    def cancel(self, conversation_id: str) -> Ticket | None:
        """The user gave up waiting: closes their queued (not yet assigned) ticket."""
        with self._engine.begin() as connection:
            ticket = self._open_for(connection, conversation_id)
            if ticket is None or ticket.state is not State.QUEUED:
                return None
            connection.execute(
                tickets.update()
                .where(tickets.c.ticket_id == ticket.ticket_id)
                .values(state=State.CLOSED.value, closed_at=utc_now(), cancelled=True)
            )
            return self._get(connection, ticket.ticket_id)

    def rate(self, conversation_id: str, rating: int) -> Ticket | None:
        """Stores the user's 1–5 rating on their most recently closed ticket."""
        ticket = self.last_closed_for(conversation_id)
        if ticket is None or not 1 <= rating <= 5:
            return None
        with self._engine.begin() as connection:
            connection.execute(
                tickets.update()
                .where(tickets.c.ticket_id == ticket.ticket_id)
                .values(rating=rating)
            )
            return self._get(connection, ticket.ticket_id)

    def claim_timeouts(self, older_than: timedelta) -> list[Ticket]:
        """Queued tickets nobody picked up in time, each returned once (safe across servers)."""
        cutoff = utc_now() - older_than
        waiting = sa.select(tickets.c.ticket_id).where(
            tickets.c.state == State.QUEUED.value,
            tickets.c.created_at <= cutoff,
            tickets.c.timeout_notified.is_(False),
        )
        claimed = []
        with self._engine.begin() as connection:
            for (ticket_id,) in connection.execute(waiting).all():
                updated = connection.execute(
                    tickets.update()
                    .where(tickets.c.ticket_id == ticket_id, tickets.c.timeout_notified.is_(False))
                    .values(timeout_notified=True)
                )
                if updated.rowcount:
                    claimed.append(self._require(connection, ticket_id))
        return claimed

    # Agents

    def add_agent(self, username: str, display_name: str, password: str) -> None:
        """Creates the agent, or replaces their name and password and enables them again.

        Sessions opened with the old password end.
        """
        values = {
            "display_name": display_name,
            "password_hash": hash_password(password),
            "disabled_at": None,
        }
        with self._engine.begin() as connection:
            updated = connection.execute(
                agents.update().where(agents.c.username == username).values(**values)
            )
            if not updated.rowcount:
                connection.execute(agents.insert().values(username=username, **values))
            self._end_sessions(connection, username)

    def disable_agent(self, username: str) -> bool:
        """The agent can no longer log in and their sessions end; False if there is no such
        agent."""
        with self._engine.begin() as connection:
            updated = connection.execute(
                agents.update().where(agents.c.username == username).values(disabled_at=utc_now())
            )
            self._end_sessions(connection, username)
        return bool(updated.rowcount)

    def delete_agent(self, username: str) -> bool:
        """Removes the agent and their sessions (their tickets keep the username); False if
        there is no such agent."""
        with self._engine.begin() as connection:
            self._end_sessions(connection, username)
            deleted = connection.execute(agents.delete().where(agents.c.username == username))
        return bool(deleted.rowcount)

    def display_name(self, username: str) -> str:
        """The name users see for an agent (the username if there is none)."""
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(agents.c.display_name).where(agents.c.username == username)
            ).first()
        return str(row[0]) if row else username

    def login(self, username: str, password: str, lifetime: timedelta) -> str | None:
        """A new session token for valid credentials of an enabled agent, else None.

        Takes as long for an unknown or disabled username as for a wrong password (one scrypt
        run), and re-hashes a password stored at an older cost. No connection is held while
        scrypt runs.
        """
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(agents.c.password_hash, agents.c.disabled_at).where(
                    agents.c.username == username
                )
            ).first()
        if row is None:
            verify_nothing(password)
            return None
        stored, disabled_at = row
        if not verify_password(password, stored) or disabled_at is not None:
            return None
        current = hash_password(password) if needs_rehash(stored) else stored
        token = secrets.token_urlsafe(32)
        with self._engine.begin() as connection:
            if current != stored:
                updated = connection.execute(
                    agents.update()
                    .where(agents.c.username == username, agents.c.password_hash == stored)
                    .values(password_hash=current)
                )
                if updated.rowcount:
                    logger.info("agent password re-hashed at the current scrypt cost")
                else:
                    current = stored  # changed meanwhile: the check below fails
            # Only while the password is still the one checked and the agent still enabled: a
            # password change or a disable that lands during scrypt wins.
            inserted = connection.execute(
                sessions.insert().from_select(
                    ["token_hash", "username", "expires_at"],
                    sa.select(
                        sa.literal(_token_hash(token), sa.String(64)),
                        agents.c.username,
                        sa.literal(utc_now() + lifetime, UtcDateTime()),
                    ).where(
                        agents.c.username == username,
                        agents.c.password_hash == current,
                        agents.c.disabled_at.is_(None),
                    ),
                )
            )
        return token if inserted.rowcount else None

    def agent_for(self, token: str) -> str | None:
        """The agent a session token belongs to, if it is valid and not expired."""
        query = sa.select(sessions.c.username).where(
            sessions.c.token_hash == _token_hash(token), sessions.c.expires_at > utc_now()
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return str(row[0]) if row else None

    def logout(self, token: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(sessions.delete().where(sessions.c.token_hash == _token_hash(token)))

    def purge_expired(self, now: datetime | None = None) -> int:
        """Deletes expired sessions and login failures nobody counts any more; how many."""
        now = now or utc_now()
        stale = now - LOGIN_POLICY.window
        with self._engine.begin() as connection:
            expired = connection.execute(sessions.delete().where(sessions.c.expires_at <= now))
            forgotten = connection.execute(
                login_failures.delete().where(
                    login_failures.c.window_start <= stale,
                    sa.or_(
                        login_failures.c.locked_until.is_(None),
                        login_failures.c.locked_until <= now,
                    ),
                )
            )
        return int(expired.rowcount) + int(forgotten.rowcount)

    def _end_sessions(self, connection: sa.engine.Connection, username: str) -> None:
        connection.execute(sessions.delete().where(sessions.c.username == username))

    # Login throttling

    def begin_login(
        self,
        username: str,
        address: str | None,
        policy: LoginPolicy = LOGIN_POLICY,
        now: datetime | None = None,
    ) -> LoginAttempt:
        """Counts a login of ``username`` from ``address`` (None: not throttled per address) as
        a failure until ``login_succeeded`` says otherwise, or refuses it while a key is locked.

        Counting first means parallel guesses cannot all slip in before the count: each one
        takes the next number, and the one that reaches the limit locks the key.
        """
        now = now or utc_now()
        keys = _throttle_keys(username, address)
        for key in keys:
            self._ensure_failure_row(key, now)
        stale = login_failures.c.window_start <= now - policy.window
        unlocked = sa.or_(
            login_failures.c.locked_until.is_(None), login_failures.c.locked_until <= now
        )
        with self._engine.connect() as connection:
            transaction = connection.begin()
            counted = []
            for key in keys:
                updated = connection.execute(
                    login_failures.update()
                    .where(login_failures.c.key == key, unlocked)
                    .values(
                        failures=sa.case((stale, 1), else_=login_failures.c.failures + 1),
                        window_start=sa.case(
                            (stale, sa.literal(now, UtcDateTime())),
                            else_=login_failures.c.window_start,
                        ),
                    )
                )
                if not updated.rowcount:
                    transaction.rollback()
                    return LoginAttempt(False, retry_after=self._locked_for(key, now))
                counted.append(
                    connection.execute(
                        sa.select(login_failures.c.failures).where(login_failures.c.key == key)
                    ).scalar_one()
                )
            for key, failures in zip(keys, counted, strict=True):
                if failures >= policy.max_failures:
                    connection.execute(
                        login_failures.update()
                        .where(login_failures.c.key == key)
                        .values(locked_until=now + policy.lock)
                    )
            transaction.commit()
        return LoginAttempt(True, failures=max(counted))

    def login_succeeded(
        self, username: str, address: str | None, policy: LoginPolicy = LOGIN_POLICY
    ) -> None:
        """Clears the username's failures and takes this login back from the address's."""
        with self._engine.begin() as connection:
            for key in _throttle_keys(username, address):
                if key.startswith("user:"):
                    connection.execute(login_failures.delete().where(login_failures.c.key == key))
                    continue
                connection.execute(
                    login_failures.update()
                    .where(login_failures.c.key == key, login_failures.c.failures > 0)
                    .values(failures=login_failures.c.failures - 1)
                )
                connection.execute(
                    login_failures.update()
                    .where(
                        login_failures.c.key == key,
                        login_failures.c.failures < policy.max_failures,
                    )
                    .values(locked_until=None)
                )

    def _ensure_failure_row(self, key: str, now: datetime) -> None:
        with self._engine.connect() as connection:
            exists = connection.execute(
                sa.select(login_failures.c.key).where(login_failures.c.key == key)
            ).first()
        if exists:
            return
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    login_failures.insert().values(key=key, failures=0, window_start=now)
                )
        except sa.exc.IntegrityError:
            pass  # another login inserted it first

    def _locked_for(self, key: str, now: datetime) -> float:
        with self._engine.connect() as connection:
            until = connection.execute(
                sa.select(login_failures.c.locked_until).where(login_failures.c.key == key)
            ).scalar_one_or_none()
        return max((until - now).total_seconds(), 0.0) if until else 0.0

    # Outbox for request/response channels

    def post(self, conversation_id: str, message: dict[str, Any]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                outbox.insert().values(
                    conversation_id=conversation_id,
                    message=json.dumps(message, ensure_ascii=False),
                    created_at=utc_now(),
                )
            )

    def collect(self, conversation_id: str) -> list[dict[str, Any]]:
        """Takes the conversation's waiting messages, oldest first, each once."""
        with self._engine.begin() as connection:
            rows = connection.execute(
                sa.select(outbox.c.message_id, outbox.c.message)
                .where(outbox.c.conversation_id == conversation_id)
                .order_by(outbox.c.message_id)
            ).all()
            if rows:
                connection.execute(
                    outbox.delete().where(outbox.c.message_id.in_([row[0] for row in rows]))
                )
        return [json.loads(row[1]) for row in rows]

    def _open_for(self, connection: sa.engine.Connection, conversation_id: str) -> Ticket | None:
        row = (
            connection.execute(
                sa.select(tickets)
                .where(
                    tickets.c.conversation_id == conversation_id,
                    tickets.c.state.in_([State.QUEUED.value, State.ASSIGNED.value]),
                )
                .order_by(tickets.c.created_at.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        return _ticket(row) if row else None

    def _require(self, connection: sa.engine.Connection, ticket_id: int) -> Ticket:
        return _ticket_or_fail(self._get(connection, ticket_id), ticket_id)

    def _get(self, connection: sa.engine.Connection, ticket_id: int) -> Ticket | None:
        row = (
            connection.execute(sa.select(tickets).where(tickets.c.ticket_id == ticket_id))
            .mappings()
            .first()
        )
        return _ticket(row) if row else None


def _add_new_columns(engine: Engine) -> None:
    """Adds columns this version gave existing tables (nullable ones: no value to fill in).

    ``create_all`` creates missing tables only; stores made by an older version lack them.
    """
    for table, column in [(agents, agents.c.disabled_at)]:
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


def _ticket_or_fail(ticket: Ticket | None, ticket_id: int) -> Ticket:
    if ticket is None:
        raise LookupError(f"handoff ticket {ticket_id} vanished")
    return ticket


def _ticket(row: Any) -> Ticket:
    return Ticket(
        ticket_id=row["ticket_id"],
        conversation_id=row["conversation_id"],
        channel=row["channel"],
        reason=Reason(row["reason"]),
        urgency=Urgency(row["urgency"]),
        state=State(row["state"]),
        summary=Summary(**json.loads(row["summary"])),
        created_at=row["created_at"],
        assigned_at=row["assigned_at"],
        closed_at=row["closed_at"],
        agent=row["agent"],
        close_note=row["close_note"],
        rating=row["rating"],
        cancelled=bool(row["cancelled"]),
    )


@lru_cache(maxsize=1)
def handoff_store() -> HandoffStore:
    """The process-wide store, from HANDOFF_DB_URL (default var/handoff.db)."""
    return HandoffStore.from_url(HandoffSettings.from_env().db_url)
