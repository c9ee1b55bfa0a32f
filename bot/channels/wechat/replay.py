"""Each signed WeChat request used once: a replayed signature with another body is refused.

A signature (timestamp, nonce, signature) is recorded with a digest of the body it came with,
for the 300 s its timestamp stays fresh, in the channels' database that every server shares. The
same body again is WeChat redelivering the message (processed once by the delivery table); the
same signature over another body is a replay.
"""

from __future__ import annotations

import hashlib
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.channels.wechat.crypto import FRESHNESS_SECONDS
from bot.database import Every, open_database

PRUNE_EVERY_SECONDS = 60.0

metadata = sa.MetaData()

used_signatures = sa.Table(
    "wechat_used_signatures",
    metadata,
    sa.Column("request_key", sa.String(64), primary_key=True),
    sa.Column("body_digest", sa.String(64), nullable=False),
    sa.Column("signed_at", sa.BigInteger, nullable=False, index=True),  # the request's timestamp
)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class UsedSignatures:
    """The signatures of recent WeChat requests, with the bodies they came with."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._prune_due = Every(PRUNE_EVERY_SECONDS)

    @classmethod
    def from_url(cls, url: str) -> UsedSignatures:
        return cls(open_database(url, metadata))

    def first_use(self, timestamp: str, nonce: str, signature: str, body: bytes) -> bool:
        """False when this signature already came with another body: a replay.

        The insert either wins or fails on the key, atomically on every server.
        """
        self._prune()
        request_key = digest("\n".join((timestamp, nonce, signature)).encode())
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    used_signatures.insert().values(
                        request_key=request_key, body_digest=digest(body), signed_at=int(timestamp)
                    )
                )
        except IntegrityError:
            query = sa.select(used_signatures.c.body_digest).where(
                used_signatures.c.request_key == request_key
            )
            with self._engine.connect() as connection:
                first = connection.execute(query).scalar_one_or_none()
            return first == digest(body)
        return True

    def _prune(self) -> None:
        if not self._prune_due.due():
            return
        # A timestamp this old fails the freshness check: its signature cannot be used again.
        stale = int(time.time()) - FRESHNESS_SECONDS - 1
        with self._engine.begin() as connection:
            connection.execute(used_signatures.delete().where(used_signatures.c.signed_at < stale))
