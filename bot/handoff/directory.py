"""Agent accounts of the console: role, teams and capacity, passwords (``bot.handoff.passwords``),
sessions and the login policy.

Failed logins are counted in the handoff database, per typed username and per client address, so
a lockout holds on every server. Session tokens are stored hashed.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.database import UtcDateTime
from bot.handoff.passwords import hash_password, needs_rehash, verify_nothing, verify_password
from bot.handoff.records import Role, Team
from bot.handoff.tables import agents, login_failures, sessions, utc_now

logger = logging.getLogger(__name__)


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


DEFAULT_CAPACITY = 3
MAX_CAPACITY = 20
# The first version's reviewer role, read as a supervisor.
LEGACY_ROLES = {"lead": Role.SUPERVISOR}


def role_of(stored: str | None) -> Role:
    """The role a stored value means: empty (stores made before roles) is an agent."""
    if stored in LEGACY_ROLES:
        return LEGACY_ROLES[stored]
    return Role(stored) if stored in {role.value for role in Role} else Role.AGENT


def teams_of(stored: str | None) -> tuple[Team, ...]:
    """The teams a stored value names: empty (or nothing known) is the general team."""
    known = {team.value for team in Team}
    teams = tuple(Team(name) for name in (stored or "").split(",") if name in known)
    return teams or (Team.GENERAL,)


def stored_teams(teams: tuple[Team, ...]) -> str:
    return ",".join(sorted({team.value for team in teams}))


class AgentDirectory:
    """Agents, their sessions and their failed logins; every value reaches SQL bound."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Accounts

    def add(
        self,
        username: str,
        display_name: str,
        password: str,
        role: Role = Role.AGENT,
        teams: tuple[Team, ...] = (Team.GENERAL,),
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        """Creates the agent, or replaces their name, password, role, teams and capacity and
        enables them again.

        Sessions opened with the old password end.
        """
        values = {
            "display_name": display_name,
            "password_hash": hash_password(password),
            "disabled_at": None,
            "role": Role(role).value,
            "teams": stored_teams(teams),
            "capacity": _capacity(capacity),
        }
        with self._engine.begin() as connection:
            updated = connection.execute(
                agents.update().where(agents.c.username == username).values(**values)
            )
            if not updated.rowcount:
                connection.execute(agents.insert().values(username=username, **values))
            _end_sessions(connection, username)

    def update(
        self,
        username: str,
        display_name: str | None = None,
        role: Role | None = None,
        teams: tuple[Team, ...] | None = None,
        capacity: int | None = None,
    ) -> bool:
        """Changes what is given (not the password); a changed role ends the agent's sessions.
        False if there is no such agent."""
        values: dict[str, object] = {}
        if display_name is not None:
            values["display_name"] = display_name
        if role is not None:
            values["role"] = role.value
        if teams is not None:
            values["teams"] = stored_teams(teams)
        if capacity is not None:
            values["capacity"] = _capacity(capacity)
        with self._engine.begin() as connection:
            before = connection.execute(
                sa.select(agents.c.role).where(agents.c.username == username)
            ).first()
            if before is None:
                return False
            if values:
                connection.execute(
                    agents.update().where(agents.c.username == username).values(**values)
                )
            if role is not None and role_of(before[0]) is not role:
                _end_sessions(connection, username)
        return True

    def disable(self, username: str) -> bool:
        """The agent can no longer log in and their sessions end; False if there is no such
        agent."""
        with self._engine.begin() as connection:
            updated = connection.execute(
                agents.update().where(agents.c.username == username).values(disabled_at=utc_now())
            )
            _end_sessions(connection, username)
        return bool(updated.rowcount)

    def delete(self, username: str) -> bool:
        """Removes the agent and their sessions (their tickets keep the username); False if
        there is no such agent."""
        with self._engine.begin() as connection:
            _end_sessions(connection, username)
            deleted = connection.execute(agents.delete().where(agents.c.username == username))
        return bool(deleted.rowcount)

    def display_name(self, username: str) -> str:
        """The name users see for an agent (the username if there is none)."""
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(agents.c.display_name).where(agents.c.username == username)
            ).first()
        return str(row[0]) if row else username

    def role(self, username: str) -> Role | None:
        """The agent's role, None if there is no such agent."""
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(agents.c.role).where(agents.c.username == username)
            ).first()
        return role_of(row[0]) if row else None

    # Sessions

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


def _capacity(value: int) -> int:
    if not 1 <= value <= MAX_CAPACITY:
        raise ValueError(f"capacity must be 1-{MAX_CAPACITY}")
    return value


def _end_sessions(connection: Connection, username: str) -> None:
    connection.execute(sessions.delete().where(sessions.c.username == username))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _throttle_keys(username: str, address: str | None) -> list[str]:
    """The keys of a login, in one order (locks are taken in it); values are stored hashed."""

    def key(kind: str, value: str) -> str:
        return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:64]}"

    keys = [key("user", username)]
    if address is not None:
        keys.append(key("address", address))
    return sorted(keys)
