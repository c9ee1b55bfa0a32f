"""Conversation tokens of the REST channel: a sender id names a conversation, a token owns it.

REST sender ids are chosen by clients, so anyone who learns one could read the agent's replies
waiting in its outbox, cancel its handoff or read its tickets. The server therefore gives a
random token on a conversation's first turn (``X-Conversation-Token`` response header); those
three need it back on later requests (the same request header). Only a hash is stored, in the
handoff database beside the outbox, so every server sees the same tokens. A token is checked on
every REST turn: each statement is its own transaction (autocommit), one round trip on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from enum import Enum

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.database import UtcDateTime, open_database

TOKEN_HEADER = "X-Conversation-Token"

metadata = sa.MetaData()

conversations = sa.Table(
    "rest_conversations",
    metadata,
    sa.Column("sender_id", sa.String(128), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)


_TOKEN_HASH = sa.select(conversations.c.token_hash).where(
    conversations.c.sender_id == sa.bindparam("sender_id")
)


class Standing(str, Enum):
    """What a request's token says about its sender's conversation."""

    NEW = "new"  # no conversation has this sender id yet
    OWNER = "owner"  # the token of the conversation
    STRANGER = "stranger"  # no token, or another one


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConversationTokens:
    """The token hashes of REST conversations."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def from_url(cls, url: str) -> ConversationTokens:
        return cls(open_database(url, metadata, isolation_level="AUTOCOMMIT"))

    def standing(self, sender_id: str, token: str | None) -> Standing:
        with self._engine.connect() as connection:
            row = connection.execute(_TOKEN_HASH, {"sender_id": sender_id}).first()
        if row is None:
            return Standing.NEW
        if token and hmac.compare_digest(_hash(token), str(row[0])):
            return Standing.OWNER
        return Standing.STRANGER

    def issue(self, sender_id: str) -> str | None:
        """A token for a new conversation; None if another request started it first."""
        token = secrets.token_urlsafe(24)
        try:
            with self._engine.connect() as connection:
                connection.execute(
                    conversations.insert().values(
                        sender_id=sender_id,
                        token_hash=_hash(token),
                        created_at=datetime.now(timezone.utc),
                    )
                )
        except sa.exc.IntegrityError:
            return None
        return token
