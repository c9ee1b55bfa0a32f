"""Links a Telegram or WeChat user to a wallet account through a one-time code from the app.

The in-app widget (authenticated by the wallet backend's JWT) issues a 6-digit code to the
proven account owner; the user sends "绑定 123456" to the bot on Telegram/WeChat, and from then
on that platform user's messages carry the account's signed identity. Codes are single-use,
expire after BINDING_CODE_MINUTES and are stored hashed; an unbound user gets general help only.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.database import UtcDateTime, open_database, sqlite_in_var

MAX_DRAWS = 20
BIND_COMMAND = re.compile(r"^\s*(?:绑定|綁定|/bind|bind)\s*[:：]?\s*(\d{6})\s*$", re.IGNORECASE)

metadata = sa.MetaData()

bindings = sa.Table(
    "channel_bindings",
    metadata,
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("platform_user_id", sa.String(128), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("bound_at", UtcDateTime, nullable=False),
)

codes = sa.Table(
    "channel_binding_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def bind_code_in(text: str) -> str | None:
    """The code of a "绑定 123456" message, if that is what the message is."""
    match = BIND_COMMAND.match(text or "")
    return match[1] if match else None


class BindingStore:
    """Binding codes and the platform users bound to accounts."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> BindingStore:
        return cls(open_database(url, metadata))

    def issue_code(self, account_id: str, lifetime: timedelta) -> str:
        """A fresh single-use code for the account's owner, replacing its earlier ones."""
        now = datetime.now(timezone.utc)
        with self._engine.begin() as connection:
            stale = (codes.c.expires_at <= now) | (codes.c.account_id == account_id)
            connection.execute(codes.delete().where(stale))
            for _ in range(MAX_DRAWS):
                code = f"{secrets.randbelow(1_000_000):06d}"
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
        return code

    def redeem(self, code: str, platform: str, platform_user_id: str) -> str | None:
        """Binds the platform user to the code's account; None for a wrong or expired code."""
        now = datetime.now(timezone.utc)
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

    def account_for(self, platform: str, platform_user_id: str) -> str | None:
        """The account the platform user is bound to, if any."""
        query = sa.select(bindings.c.account_id).where(
            bindings.c.platform == platform, bindings.c.platform_user_id == platform_user_id
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return str(row[0]) if row else None


def binding_db_url() -> str:
    """The channels' database: BINDING_DB_URL, default var/bindings.db (SQLite)."""
    return os.environ.get("BINDING_DB_URL") or sqlite_in_var("bindings.db")


@lru_cache(maxsize=1)
def binding_store() -> BindingStore:
    """The process-wide store, in the channels' database."""
    return BindingStore.from_url(binding_db_url())
