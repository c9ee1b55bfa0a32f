"""Each platform delivery processed once: one ``channel_deliveries(platform, key)`` table.

Telegram redelivers an update until it gets a 2xx, WeChat a message three times within 15 s; both
may do so after a restart or to another server. A delivery's key (Telegram's ``update_id``, a
digest of WeChat's MsgId) is inserted once per platform: the insert wins or fails on the primary
key, atomically on every server sharing the database (BINDING_DB_URL, default var/bindings.db).
Keys are kept two days, long after either platform gives up redelivering.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.database import Every, UtcDateTime, open_database

RETENTION = timedelta(days=2)
PRUNE_EVERY_SECONDS = 3600.0
MAX_KEY_LENGTH = 64
MAX_PLATFORM_LENGTH = 16

metadata = sa.MetaData()

deliveries = sa.Table(
    "channel_deliveries",
    metadata,
    sa.Column("platform", sa.String(MAX_PLATFORM_LENGTH), primary_key=True),
    sa.Column("key", sa.String(MAX_KEY_LENGTH), primary_key=True),
    sa.Column("received_at", UtcDateTime, nullable=False, index=True),
)


class DeliveryStore:
    """The keys of the deliveries every platform channel has taken for processing."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._prune_due = Every(PRUNE_EVERY_SECONDS)

    @classmethod
    def from_url(cls, url: str) -> DeliveryStore:
        return cls(open_database(url, metadata))

    def claim(self, platform: str, key: str) -> bool:
        """True the first time ``platform`` delivers ``key`` (at most 64 characters), else False."""
        if not 0 < len(key) <= MAX_KEY_LENGTH:
            raise ValueError("a delivery key has 1 to 64 characters")
        now = datetime.now(timezone.utc)
        self._prune(now)
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    deliveries.insert().values(platform=platform, key=key, received_at=now)
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def _prune(self, now: datetime) -> None:
        if not self._prune_due.due():
            return
        with self._engine.begin() as connection:
            connection.execute(
                deliveries.delete().where(deliveries.c.received_at < now - RETENTION)
            )
