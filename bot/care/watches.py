"""Transfer watches: a user asked to be told when a pending transfer of theirs settles.

A watch lives in the handoff database (SQLite by default, PostgreSQL in production), so it
survives a restart and every server sees it. Its life:

    active            waiting for the transfer to leave PENDING (``new_status`` is None)
    active + status   the change feed showed the new status; the user is still to be told
    notifying         one server claimed it and is telling the user (until ``claimed_until``)
    done / expired    the user was told the new status / that the watch ended after
                      TRANSFER_WATCH_HOURS

Every step is a conditional UPDATE, so two servers never claim one watch; a failed delivery
puts the watch back (``release``) and a server that died while telling the user leaves a claim
that lapses, so a change seen is never lost. The change feed's position (``cursor``) is stored
too: a restarted watcher goes on where the last poll left off.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.database import UtcDateTime, open_database
from bot.settings import ConfigError, positive_number
from bot.wallet.records import Transaction, TxStatus

logger = logging.getLogger(__name__)

FEED = "wallet_changes"  # the cursor row of the wallet port's change feed
# How far a new watch pulls the feed's cursor back: the action read the transfer as pending a
# moment before the watch was stored, and the backend's clock may run behind ours.
START_OVERLAP = timedelta(minutes=1)


class WatchState(str, Enum):
    ACTIVE = "active"
    NOTIFYING = "notifying"
    DONE = "done"
    EXPIRED = "expired"


OPEN_STATES = (WatchState.ACTIVE.value, WatchState.NOTIFYING.value)

metadata = sa.MetaData()

watches = sa.Table(
    "care_watches",
    metadata,
    sa.Column("watch_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("tx_hash", sa.String(100), nullable=False),
    # The hash as the feed is matched on: hashes are compared case-insensitively, as the port does.
    sa.Column("tx_key", sa.String(100), nullable=False),
    sa.Column("chain", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # the transfer's status at the start
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    # The status the feed showed after PENDING; set while the user is still to be told.
    sa.Column("new_status", sa.String(16)),
    sa.Column("claimed_until", UtcDateTime),
    sa.Column("notified_at", UtcDateTime),
    sa.Index("ix_care_watches_match", "tx_key", "account_id"),
    sa.Index("ix_care_watches_due", "state", "expires_at"),
    # One open watch per conversation and transfer: two starts at once insert one row.
    sa.Index(
        "ux_care_watches_open",
        "conversation_id",
        "tx_key",
        unique=True,
        sqlite_where=sa.text("state IN ('active', 'notifying')"),
        postgresql_where=sa.text("state IN ('active', 'notifying')"),
    ),
)

cursors = sa.Table(
    "care_watch_cursors",
    metadata,
    sa.Column("feed", sa.String(32), primary_key=True),
    sa.Column("since", UtcDateTime, nullable=False),
)


# A watch starts at a user's message (the 「到账了通知我」 button) and ends within this: so every
# message it sends falls inside WeChat's 48-hour customer-service window, where a push is allowed.
MAX_HOURS = 47.0


@dataclass(frozen=True)
class WatchSettings:
    """TRANSFER_WATCH_POLL_SECONDS (how often the watcher reads the change feed) and
    TRANSFER_WATCH_HOURS (how long a watch lasts before its last message)."""

    poll_seconds: float = 2.0
    hours: float = 24.0

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=self.hours)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WatchSettings:
        hours = positive_number(env, "TRANSFER_WATCH_HOURS", cls.hours)
        if hours > MAX_HOURS:
            raise ConfigError(
                f"TRANSFER_WATCH_HOURS must be at most {MAX_HOURS:g} (WeChat's 48-hour window),"
                f" got {hours:g}"
            )
        return cls(
            poll_seconds=positive_number(env, "TRANSFER_WATCH_POLL_SECONDS", cls.poll_seconds),
            hours=hours,
        )


@dataclass(frozen=True)
class Watch:
    """One user's watch on one of their transfers."""

    watch_id: int
    conversation_id: str
    channel: str
    account_id: str
    tx_hash: str
    chain: str
    status: TxStatus
    created_at: datetime
    expires_at: datetime
    state: WatchState
    new_status: TxStatus | None
    notified_at: datetime | None

    @property
    def settled(self) -> bool:
        """The transfer left PENDING: the user is told its new status (else: the watch expired)."""
        return self.new_status is not None


class WatchStore:
    """The watches and the change feed's cursor in the handoff database."""

    def __init__(self, engine: Engine, lifetime: timedelta) -> None:
        self._engine = engine
        self._lifetime = lifetime

    @classmethod
    def from_url(cls, url: str, settings: WatchSettings) -> WatchStore:
        return cls(open_database(url, metadata), settings.lifetime)

    def start(
        self,
        *,
        conversation_id: str,
        channel: str,
        account_id: str,
        tx_hash: str,
        chain: str,
        status: TxStatus,
        now: datetime,
    ) -> Watch:
        """Starts watching ``tx_hash`` for the conversation; the open watch if it has one.

        The caller has checked that the transfer is ``account_id``'s own."""
        key = tx_hash.lower()
        for _ in range(2):
            existing = self._open(conversation_id, key)
            if existing is not None:
                return existing
            try:
                with self._engine.begin() as connection:
                    watch_id = connection.execute(
                        watches.insert().values(
                            conversation_id=conversation_id,
                            channel=channel,
                            account_id=account_id,
                            tx_hash=tx_hash,
                            tx_key=key,
                            chain=chain,
                            status=status.value,
                            created_at=now,
                            expires_at=now + self._lifetime,
                            state=WatchState.ACTIVE.value,
                        )
                    ).inserted_primary_key[0]
                    # The feed is read again from just before the start: a change between the
                    # action's look at the transfer and this insert is not missed.
                    self._move_cursor_back(connection, now - START_OVERLAP)
                logger.info("watch %d started for conversation %s", watch_id, conversation_id)
                return self._get(int(watch_id))
            except sa.exc.IntegrityError:
                continue  # another start of the same watch won: return that one
        raise RuntimeError(f"watch of conversation {conversation_id} neither found nor stored")

    def get(self, watch_id: int) -> Watch | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(watches).where(watches.c.watch_id == watch_id)
            ).first()
        return _watch(row) if row else None

    def active_count(self) -> int:
        query = sa.select(sa.func.count()).where(watches.c.state.in_(OPEN_STATES))
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def cursor(self, now: datetime) -> datetime:
        """Where the next read of the change feed starts (``now`` the first time)."""
        query = sa.select(cursors.c.since).where(cursors.c.feed == FEED)
        with self._engine.connect() as connection:
            since = connection.execute(query).scalar()
        if since is not None:
            return since
        try:
            with self._engine.begin() as connection:
                connection.execute(cursors.insert().values(feed=FEED, since=now))
        except sa.exc.IntegrityError:  # another server stored the first cursor meanwhile
            with self._engine.connect() as connection:
                return connection.execute(query).scalar_one()
        return now

    def advance(self, read_from: datetime, to: datetime) -> bool:
        """Moves the cursor from ``read_from`` to ``to`` after their changes were recorded; False
        (the cursor left as it is) when it moved meanwhile, as a new watch moves it back."""
        with self._engine.begin() as connection:
            moved = connection.execute(
                cursors.update()
                .where(cursors.c.feed == FEED, cursors.c.since == read_from)
                .values(since=to)
            )
        return bool(moved.rowcount)

    def record(self, changes: Iterable[Transaction]) -> list[int]:
        """Notes on the open watches of these transfers the status they left PENDING for (one
        query for the batch); the ids of the watches that became due."""
        settled = {
            (tx.account_id, tx.tx_hash.lower()): tx.status
            for tx in changes
            if tx.status is not TxStatus.PENDING
        }
        if not settled:
            return []
        waiting = sa.select(watches.c.watch_id, watches.c.account_id, watches.c.tx_key).where(
            sa.tuple_(watches.c.account_id, watches.c.tx_key).in_(list(settled)),
            watches.c.state == WatchState.ACTIVE.value,
            watches.c.new_status.is_(None),
        )
        with self._engine.connect() as connection:
            found = connection.execute(waiting).all()
        if not found:
            return []
        due = []
        # Reads first, then a transaction that starts with its write: SQLite then waits for a
        # writer of another process instead of failing the read transaction's upgrade.
        with self._engine.begin() as connection:
            for watch_id, account_id, key in found:
                noted = connection.execute(
                    watches.update()
                    .where(
                        watches.c.watch_id == watch_id,
                        watches.c.state == WatchState.ACTIVE.value,
                        watches.c.new_status.is_(None),
                    )
                    .values(new_status=settled[(account_id, key)].value)
                )
                if noted.rowcount:
                    due.append(int(watch_id))
        return due

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 100) -> list[Watch]:
        """Claims the watches whose user is to be told something now: a settled transfer, an
        expired watch, or a claim of a server that stopped before it finished. Each is returned
        to one caller only, until ``now + lease``."""
        due = (
            sa.select(watches.c.watch_id)
            .where(
                sa.or_(
                    sa.and_(
                        watches.c.state == WatchState.ACTIVE.value,
                        sa.or_(watches.c.new_status.is_not(None), watches.c.expires_at <= now),
                    ),
                    sa.and_(
                        watches.c.state == WatchState.NOTIFYING.value,
                        watches.c.claimed_until < now,
                    ),
                )
            )
            .order_by(watches.c.watch_id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            candidates = connection.execute(due).scalars().all()
        if not candidates:
            return []
        claimed = []
        with self._engine.begin() as connection:
            for watch_id in candidates:
                taken = connection.execute(
                    watches.update()
                    .where(
                        watches.c.watch_id == watch_id,
                        sa.or_(
                            watches.c.state == WatchState.ACTIVE.value,
                            sa.and_(
                                watches.c.state == WatchState.NOTIFYING.value,
                                watches.c.claimed_until < now,
                            ),
                        ),
                    )
                    .values(state=WatchState.NOTIFYING.value, claimed_until=now + lease)
                )
                if taken.rowcount:
                    claimed.append(watch_id)
            rows = connection.execute(
                sa.select(watches).where(watches.c.watch_id.in_(claimed))
            ).all()
        return sorted((_watch(row) for row in rows), key=lambda watch: watch.watch_id)

    def finish(self, watch: Watch, status: TxStatus | None, now: datetime) -> None:
        """The user was told: ``status`` (done), or that the watch ended (``None``: expired)."""
        values: dict[str, Any] = {"claimed_until": None, "notified_at": now}
        if status is None:
            values["state"] = WatchState.EXPIRED.value
        else:
            values |= {"state": WatchState.DONE.value, "new_status": status.value}
        self._update_claimed(watch, values)

    def release(self, watch: Watch, *, settled: bool = True) -> None:
        """Puts a claimed watch back: a failed delivery is tried again at the next poll. Not
        ``settled``: the transfer is pending again, and the watch waits for its next change."""
        values: dict[str, Any] = {"state": WatchState.ACTIVE.value, "claimed_until": None}
        if not settled:
            values["new_status"] = None
        self._update_claimed(watch, values)

    def _update_claimed(self, watch: Watch, values: dict[str, Any]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                watches.update()
                .where(
                    watches.c.watch_id == watch.watch_id,
                    watches.c.state == WatchState.NOTIFYING.value,
                )
                .values(**values)
            )

    def _open(self, conversation_id: str, key: str) -> Watch | None:
        query = sa.select(watches).where(
            watches.c.conversation_id == conversation_id,
            watches.c.tx_key == key,
            watches.c.state.in_(OPEN_STATES),
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return _watch(row) if row else None

    def _get(self, watch_id: int) -> Watch:
        watch = self.get(watch_id)
        if watch is None:
            raise KeyError(watch_id)
        return watch

    @staticmethod
    def _move_cursor_back(connection: Connection, to: datetime) -> None:
        """The cursor at ``to`` at the latest; stored there if the watcher never read the feed."""
        moved = connection.execute(
            cursors.update().where(cursors.c.feed == FEED, cursors.c.since > to).values(since=to)
        )
        if moved.rowcount:
            return
        stored = connection.execute(sa.select(cursors.c.feed).where(cursors.c.feed == FEED))
        if stored.first() is None:
            connection.execute(cursors.insert().values(feed=FEED, since=to))


def _watch(row: Any) -> Watch:
    return Watch(
        watch_id=int(row.watch_id),
        conversation_id=row.conversation_id,
        channel=row.channel,
        account_id=row.account_id,
        tx_hash=row.tx_hash,
        chain=row.chain,
        status=TxStatus(row.status),
        created_at=row.created_at,
        expires_at=row.expires_at,
        state=WatchState(row.state),
        new_status=TxStatus(row.new_status) if row.new_status else None,
        notified_at=row.notified_at,
    )
