"""Binding codes, bound platform users and the limit on wrong codes, shared by every server.

The in-app widget (authenticated by the wallet backend's JWT) issues a code such as
``K7PM-X4QD`` (8 characters from an alphabet without 0/O/1/I/L) to the proven account owner; the
user sends "绑定 K7PM-X4QD" to the bot on Telegram/WeChat (any case, with or without the dash),
and from then on that platform user's messages carry the account's signed identity. Codes are
single-use, expire after the widget's lifetime and are stored hashed; an unbound user gets
general help only.

Guessing is limited in the store, so every server sees the same counts: a platform user who
sent ``PER_USER`` wrong codes, or everyone together once ``EVERYONE`` wrong codes arrived, is
refused (``TooManyAttempts``) until the oldest failures leave their window. The owner lists and
removes the platform users bound to the account (``bindings_of``, ``unbind``). Platform channels
redeem codes through ``bot.channels.platform``, which keeps every call off the event loop.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.database import Every, UtcDateTime, open_database

logger = logging.getLogger(__name__)

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or typed safely
CODE_LENGTH = 8
CODE_GROUP = 4  # shown as two groups of four: K7PM-X4QD
MAX_DRAWS = 20
PRUNE_EVERY_SECONDS = 60.0
GLOBAL_LOG_EVERY_SECONDS = 60.0
# "绑定 K7PM-X4QD": the command, then one token of letters and digits, with at most one space or
# dash inside. Any token is taken as a code attempt (a wrong one counts), so an old or mistyped
# code never reaches Rasa and its tracker.
BIND_COMMAND = re.compile(
    r"^\s*(?:绑定|綁定|/bind|bind)\s*:?\s*([0-9a-z]+(?:[ \-][0-9a-z]+)?)\s*$", re.IGNORECASE
)


@dataclass(frozen=True)
class FailureLimit:
    """At most ``failures`` wrong codes within ``window``."""

    failures: int
    window: timedelta


PER_USER = FailureLimit(5, timedelta(minutes=15))
EVERYONE = FailureLimit(200, timedelta(minutes=10))


@dataclass(frozen=True)
class Binding:
    """A platform user bound to an account."""

    platform: str
    platform_user_id: str
    bound_at: datetime


class TooManyAttempts(Exception):
    """Codes are refused for now: this user, or everyone (``everyone``), guessed too often."""

    def __init__(self, everyone: bool) -> None:
        super().__init__("everyone" if everyone else "this user")
        self.everyone = everyone


metadata = sa.MetaData()

bindings = sa.Table(
    "channel_bindings",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("platform_user_id", sa.String(128), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False, index=True),
    sa.Column("bound_at", UtcDateTime, nullable=False),
)

codes = sa.Table(
    "channel_binding_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

# One row per redeem attempt in progress or failed; a success or a refused attempt removes its own.
attempts = sa.Table(
    "channel_binding_failures",
    metadata,
    sa.Column("attempt_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("platform_user_id", sa.String(128), nullable=False),
    sa.Column("failed_at", UtcDateTime, nullable=False, index=True),
    sa.Index("ix_channel_binding_failures_user", "platform", "platform_user_id", "failed_at"),
)


def canonical_code(code: str) -> str:
    """The code as issued: full-width forms folded, upper case, no space or dash."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", code)).upper()


def format_code(code: str) -> str:
    """The code as shown to the owner, in groups: K7PM-X4QD."""
    return "-".join(code[i : i + CODE_GROUP] for i in range(0, len(code), CODE_GROUP))


def bind_code_in(text: str) -> str | None:
    """The code of a "绑定 K7PM-X4QD" message (canonical form), if that is what it is."""
    match = BIND_COMMAND.match(unicodedata.normalize("NFKC", text or ""))
    return canonical_code(match[1]) if match else None


def _hash(code: str) -> str:
    return hashlib.sha256(canonical_code(code).encode()).hexdigest()


def _well_formed(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)


class BindingStore:
    """Binding codes, the platform users bound to accounts, and recent wrong codes."""

    def __init__(
        self,
        engine: Engine,
        per_user: FailureLimit = PER_USER,
        everyone: FailureLimit = EVERYONE,
    ) -> None:
        self._engine = engine
        self._per_user = per_user
        self._everyone = everyone
        self._prune_due = Every(PRUNE_EVERY_SECONDS)
        self._global_logged_at = 0.0

    @classmethod
    def from_url(
        cls, url: str, per_user: FailureLimit = PER_USER, everyone: FailureLimit = EVERYONE
    ) -> BindingStore:
        return cls(open_database(url, metadata), per_user, everyone)

    def issue_code(self, account_id: str, lifetime: timedelta) -> str:
        """A fresh single-use code for the account's owner (K7PM-X4QD), replacing earlier ones."""
        now = datetime.now(timezone.utc)
        with self._engine.begin() as connection:
            stale = (codes.c.expires_at <= now) | (codes.c.account_id == account_id)
            connection.execute(codes.delete().where(stale))
            for _ in range(MAX_DRAWS):
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                exists = connection.execute(
                    sa.select(codes.c.code_hash).where(codes.c.code_hash == _hash(code))
                ).first()
                if exists is None:
                    break
            else:
                raise RuntimeError("no free binding code: too many codes in circulation")
            connection.execute(
                codes.insert().values(
                    code_hash=_hash(code), account_id=account_id, expires_at=now + lifetime
                )
            )
        return format_code(code)

    def redeem(self, code: str, platform: str, platform_user_id: str) -> str | None:
        """Binds the platform user to the code's account; None for a wrong or expired code.

        TooManyAttempts, without looking at the code, when the user or everyone sent too many
        wrong codes lately. The attempt is recorded before the limits are counted, so attempts
        racing on several servers see each other and none slips past a limit.
        """
        now = datetime.now(timezone.utc)
        self._prune(now)
        with self._engine.begin() as connection:
            attempt = connection.execute(
                attempts.insert().values(
                    platform=platform, platform_user_id=platform_user_id, failed_at=now
                )
            ).inserted_primary_key[0]
        try:
            self._check_limits(platform, platform_user_id, now)
            account = self._take_code(canonical_code(code), platform, platform_user_id, now)
        except BaseException:
            self._forget_attempt(attempt)
            raise
        if account is not None:
            self._forget_attempt(attempt)
        return account

    def _check_limits(self, platform: str, platform_user_id: str, now: datetime) -> None:
        mine = sa.select(sa.func.count()).where(
            attempts.c.platform == platform,
            attempts.c.platform_user_id == platform_user_id,
            attempts.c.failed_at > now - self._per_user.window,
        )
        everyone = sa.select(sa.func.count()).where(
            attempts.c.failed_at > now - self._everyone.window
        )
        with self._engine.connect() as connection:
            # Each count includes this attempt: blocked once the earlier ones reach the limit.
            if connection.execute(mine).scalar_one() > self._per_user.failures:
                raise TooManyAttempts(everyone=False)
            total = connection.execute(everyone).scalar_one()
        if total > self._everyone.failures:
            if time.monotonic() - self._global_logged_at > GLOBAL_LOG_EVERY_SECONDS:
                self._global_logged_at = time.monotonic()
                logger.warning(
                    "binding refused for everyone: %s wrong codes in the last %s minutes",
                    total - 1,
                    int(self._everyone.window.total_seconds() // 60),
                )
            raise TooManyAttempts(everyone=True)

    def _take_code(
        self, code: str, platform: str, platform_user_id: str, now: datetime
    ) -> str | None:
        if not _well_formed(code):
            return None
        with self._engine.begin() as connection:
            row = connection.execute(
                sa.select(codes.c.account_id).where(
                    codes.c.code_hash == _hash(code), codes.c.expires_at > now
                )
            ).first()
            if row is None:
                return None
            deleted = connection.execute(codes.delete().where(codes.c.code_hash == _hash(code)))
            if deleted.rowcount != 1:
                return None  # someone redeemed it at the same moment
            key = (bindings.c.platform == platform) & (
                bindings.c.platform_user_id == platform_user_id
            )
            connection.execute(bindings.delete().where(key))
            connection.execute(
                bindings.insert().values(
                    platform=platform,
                    platform_user_id=platform_user_id,
                    account_id=row[0],
                    bound_at=now,
                )
            )
            return str(row[0])

    def _forget_attempt(self, attempt: int) -> None:
        with self._engine.begin() as connection:
            connection.execute(attempts.delete().where(attempts.c.attempt_id == attempt))

    def _prune(self, now: datetime) -> None:
        if not self._prune_due.due():
            return
        oldest = now - max(self._per_user.window, self._everyone.window)
        with self._engine.begin() as connection:
            connection.execute(attempts.delete().where(attempts.c.failed_at <= oldest))
            connection.execute(codes.delete().where(codes.c.expires_at <= now))

    def account_for(self, platform: str, platform_user_id: str) -> str | None:
        """The account the platform user is bound to, if any."""
        query = sa.select(bindings.c.account_id).where(
            bindings.c.platform == platform, bindings.c.platform_user_id == platform_user_id
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return str(row[0]) if row else None

    def bindings_of(self, account_id: str) -> list[Binding]:
        """The platform users bound to the account, oldest first."""
        query = (
            sa.select(bindings.c.platform, bindings.c.platform_user_id, bindings.c.bound_at)
            .where(bindings.c.account_id == account_id)
            .order_by(bindings.c.bound_at, bindings.c.platform, bindings.c.platform_user_id)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [Binding(str(row[0]), str(row[1]), row[2]) for row in rows]

    def unbind(self, account_id: str, platform: str, platform_user_id: str) -> bool:
        """Unbinds the platform user from the account; False if it was not bound to it."""
        with self._engine.begin() as connection:
            deleted = connection.execute(
                bindings.delete().where(
                    bindings.c.account_id == account_id,
                    bindings.c.platform == platform,
                    bindings.c.platform_user_id == platform_user_id,
                )
            )
        return deleted.rowcount == 1
