"""The model versions of the improvement loop: candidates, the live model and the retired ones.

Every trained candidate is stored here with its bytes (a Rasa ``.tar.gz``, about 6 MB) and the
gate's verdict: "candidate" when the gate passed it, "refused" when not. A lead approves a
candidate: it becomes "live" and the version live before it "retired"; a rollback makes the live
version "retired" and the one retired most recently "live" again.

A candidate remembers the version that was live when it was stored (``baseline_id``): the model
the gate compared it with. It can be approved only while that version is still live, since a
verdict against another model says nothing about the live one. So when two leads approve at
once, the same candidate or two, exactly one succeeds and the other gets a ``ModelError``,
whatever the timing: one after the other, the second finds the live model changed; truly at
once, the conditional updates in one transaction (and a partial unique index on the live state,
the last word) refuse the second. Every server pulls the live version
(``bot.improvement.pulling``) and records what it loaded (``bot.improvement.server_models``).

The versions live in the handoff database (HANDOFF_DB_URL: SQLite by default, PostgreSQL in
production; ``bot.improvement.tables``), beside the review's, and every change writes its
entry in the improvement audit log in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.improvement.labels import MAX_NAME, append_entry, utc_now
from bot.improvement.tables import open_improvement_database, versions

logger = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"


class ModelState(str, Enum):
    """Where a model version is in its life; equal to its name as a string."""

    CANDIDATE = "candidate"  # the gate passed it: a lead may approve it
    REFUSED = "refused"  # the gate refused it: it never goes live
    LIVE = "live"  # what every server runs (at most one version)
    RETIRED = "retired"  # was live; a rollback may bring the latest back


# Every column but the bytes: what a listing reads.
_SUMMARY = [column for column in versions.c if column.name != "data"]


IN_SERVICE = "model in service"  # the actor of the first version: the model servers started with


class ModelError(ValueError):
    """A model version could not be stored, approved or rolled back, or a server's model not
    recorded (``bot.improvement.server_models``); the message says why."""


@dataclass(frozen=True)
class ModelVersion:
    """A stored model (without its bytes: ``ModelStore.data_of``)."""

    version_id: int
    digest: str
    state: ModelState
    created_at: datetime
    created_by: str
    run_id: int | None
    verdict: dict[str, Any] | None
    approved_by: str | None
    approved_at: datetime | None
    baseline_id: int | None = None
    retired_by: str | None = None
    retired_at: datetime | None = None


def digest_of(data: bytes) -> str:
    """The sha256 of a model's bytes, hex: its version's digest and its ETag."""
    return hashlib.sha256(data).hexdigest()


class ModelStore:
    """Model versions, in the handoff database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> ModelStore:
        return cls(open_improvement_database(url))

    def add_candidate(
        self,
        data: bytes,
        created_by: str,
        run_id: int | None,
        verdict: Mapping[str, Any] | None,
        passed: bool,
    ) -> ModelVersion:
        """Stores a trained model: a "candidate" if the gate ``passed`` it, else "refused"."""
        _check_actor(created_by)
        if not data.startswith(GZIP_MAGIC):
            raise ModelError("the model is not a Rasa model archive (.tar.gz)")
        state = ModelState.CANDIDATE if passed else ModelState.REFUSED
        digest, now = digest_of(data), utc_now()
        verdict_json = None if verdict is None else json.dumps(dict(verdict), ensure_ascii=False)
        with self.engine.begin() as connection:
            live = _live_row(connection)
            version_id = connection.execute(
                versions.insert().values(
                    digest=digest,
                    data=data,
                    state=state.value,
                    created_at=now,
                    created_by=created_by,
                    run_id=run_id,
                    verdict=verdict_json,
                    baseline_id=None if live is None else live.version_id,
                )
            ).inserted_primary_key[0]
            details = {
                "version": version_id,
                "digest": digest,
                "state": state.value,
                "run_id": run_id,
                "bytes": len(data),
            }
            append_entry(connection, created_by, "candidate", details, now)
            return _version(_summary(connection, version_id))

    def adopt(self, data: bytes, by: str) -> ModelVersion | None:
        """Makes ``data`` (the model the servers started with) the live version when none is, so
        that the first approval has a model to roll back to; None when one is live already
        (or another worker adopted it meanwhile)."""
        _check_actor(by)
        if not data.startswith(GZIP_MAGIC):
            raise ModelError("the model is not a Rasa model archive (.tar.gz)")
        digest, now = digest_of(data), utc_now()
        try:
            with self.engine.begin() as connection:
                if _live_row(connection) is not None:
                    return None
                version_id = connection.execute(
                    versions.insert().values(
                        digest=digest,
                        data=data,
                        state=ModelState.LIVE.value,
                        created_at=now,
                        created_by=by,
                        approved_by=by,
                        approved_at=now,
                    )
                ).inserted_primary_key[0]
                details = {"version": version_id, "digest": digest, "bytes": len(data)}
                append_entry(connection, by, "adopt", details, now)
                return _version(_summary(connection, version_id))
        except sa.exc.IntegrityError:
            return None  # the live index: another worker adopted it first

    def approve(self, version_id: int, by: str) -> ModelVersion:
        """Makes candidate ``version_id`` live and retires the live version, at once.

        ModelError if the version is no candidate (refused, live, retired or unknown), or if
        another lead approved or rolled back meanwhile.
        """
        _check_actor(by)
        try:
            approved, retired = self._approve(version_id, by, utc_now())
        except sa.exc.IntegrityError as error:
            # The live index: another candidate went live while nothing was live before.
            raise _meanwhile(version_id) from error
        logger.info("model version %s approved by %s (retired: %s)", version_id, by, retired)
        return approved

    def _approve(self, version_id: int, by: str, now: datetime) -> tuple[ModelVersion, int | None]:
        with self.engine.begin() as connection:
            row = _summary(connection, version_id)
            if row is None:
                raise ModelError(f"model version {version_id} does not exist")
            if row.state != ModelState.CANDIDATE:
                raise ModelError(_not_approvable(version_id, ModelState(row.state)))
            live = _live_row(connection)
            retired = None if live is None else live.version_id
            if row.baseline_id != retired:
                raise ModelError(_stale(version_id, row.baseline_id, retired))
            if live is not None and not _retire(connection, live.version_id, by, now):
                raise _meanwhile(version_id)
            promoted = connection.execute(
                versions.update()
                .where(
                    versions.c.version_id == version_id,
                    versions.c.state == ModelState.CANDIDATE.value,
                )
                .values(state=ModelState.LIVE.value, approved_by=by, approved_at=now)
            )
            if promoted.rowcount != 1:
                raise _meanwhile(version_id)
            details = {"version": version_id, "digest": row.digest, "retired": retired}
            append_entry(connection, by, "approve", details, now)
            return _version(_summary(connection, version_id)), retired

    def rollback(self, by: str) -> ModelVersion:
        """Retires the live version and brings back the one retired most recently before it;
        ModelError when nothing is live or no version was live before it."""
        _check_actor(by)
        try:
            version, retired = self._rollback(by, utc_now())
        except sa.exc.IntegrityError as error:
            raise _meanwhile(None, "rolled back") from error
        logger.info(
            "model rolled back by %s: version %s live again, %s retired",
            by,
            version.version_id,
            retired,
        )
        return version

    def _rollback(self, by: str, now: datetime) -> tuple[ModelVersion, int]:
        with self.engine.begin() as connection:
            live = _live_row(connection)
            if live is None:
                raise ModelError("no model version is live: there is nothing to roll back")
            previous = connection.execute(
                sa.select(*_SUMMARY)
                .where(
                    versions.c.state == ModelState.RETIRED.value,
                    versions.c.version_id != live.version_id,
                )
                .order_by(versions.c.retired_at.desc(), versions.c.version_id.desc())
                .limit(1)
            ).first()
            if previous is None:
                raise ModelError(
                    f"model version {live.version_id} is the first to go live: "
                    "there is no previous model to roll back to"
                )
            if not _retire(connection, live.version_id, by, now):
                raise _meanwhile(previous.version_id, "rolled back")
            restored = connection.execute(
                versions.update()
                .where(
                    versions.c.version_id == previous.version_id,
                    versions.c.state == ModelState.RETIRED.value,
                )
                .values(state=ModelState.LIVE.value, retired_by=None, retired_at=None)
            )
            if restored.rowcount != 1:
                raise _meanwhile(previous.version_id, "rolled back")
            details = {
                "version": previous.version_id,
                "digest": previous.digest,
                "retired": live.version_id,
            }
            append_entry(connection, by, "rollback", details, now)
            return _version(_summary(connection, previous.version_id)), live.version_id

    def live(self) -> ModelVersion | None:
        """The live version, if one is."""
        with self.engine.connect() as connection:
            row = _live_row(connection)
        return None if row is None else _version(row)

    def live_data(self) -> tuple[str, bytes] | None:
        """The live version's digest and bytes, if one is live."""
        query = sa.select(versions.c.digest, versions.c.data).where(
            versions.c.state == ModelState.LIVE.value
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else (row.digest, bytes(row.data))

    def get(self, version_id: int) -> ModelVersion:
        """Version ``version_id``; ModelError if there is none."""
        with self.engine.connect() as connection:
            row = _summary(connection, version_id)
        if row is None:
            raise ModelError(f"model version {version_id} does not exist")
        return _version(row)

    def data_of(self, version_id: int) -> bytes:
        """The bytes of version ``version_id`` (a .tar.gz); ModelError if there is none."""
        query = sa.select(versions.c.data).where(versions.c.version_id == version_id)
        with self.engine.connect() as connection:
            data = connection.execute(query).scalar()
        if data is None:
            raise ModelError(f"model version {version_id} does not exist")
        return bytes(data)

    def versions(self, limit: int = 20) -> list[ModelVersion]:
        """Up to ``limit`` versions, newest first."""
        if limit < 1:
            raise ValueError("limit must be positive")
        query = sa.select(*_SUMMARY).order_by(versions.c.version_id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [_version(row) for row in connection.execute(query)]


def _check_actor(actor: str) -> None:
    if not actor or not actor.strip():
        raise ModelError("who did it is missing")
    if len(actor) > MAX_NAME:
        raise ModelError(f"a name is at most {MAX_NAME} characters")


def _not_approvable(version_id: int, state: ModelState) -> str:
    if state is ModelState.REFUSED:
        return f"model version {version_id} was refused by the gate: it cannot go live"
    if state is ModelState.LIVE:
        return f"model version {version_id} is live already"
    return (
        f"model version {version_id} was retired: only a candidate can be approved "
        "(a rollback brings back the previous model)"
    )


def _stale(version_id: int, baseline: int | None, live: int | None) -> str:
    compared = "no live model" if baseline is None else f"model version {baseline}"
    now = "no version" if live is None else f"version {live}"
    return (
        f"model version {version_id} was not approved: the gate compared it with {compared}, "
        f"and {now} is live now (approved or rolled back by someone else meanwhile); "
        "train a new candidate to compare it with the live model"
    )


def _meanwhile(version_id: int | None, what: str = "approved") -> ModelError:
    subject = "the model" if version_id is None else f"model version {version_id}"
    return ModelError(
        f"{subject} was not {what}: another lead approved or rolled back a model meanwhile; "
        "look at the versions again"
    )


def _summary(connection: Connection, version_id: int) -> Any:
    query = sa.select(*_SUMMARY).where(versions.c.version_id == version_id)
    return connection.execute(query).first()


def _live_row(connection: Connection) -> Any:
    query = sa.select(*_SUMMARY).where(versions.c.state == ModelState.LIVE.value)
    return connection.execute(query).first()


def _retire(connection: Connection, version_id: int, by: str, now: datetime) -> bool:
    """Whether live version ``version_id`` was retired (False: it was not live any more)."""
    result = connection.execute(
        versions.update()
        .where(versions.c.version_id == version_id, versions.c.state == ModelState.LIVE.value)
        .values(state=ModelState.RETIRED.value, retired_by=by, retired_at=now)
    )
    return bool(result.rowcount == 1)


def _version(row: Any) -> ModelVersion:
    return ModelVersion(
        version_id=row.version_id,
        digest=row.digest,
        state=ModelState(row.state),
        created_at=row.created_at,
        created_by=row.created_by,
        run_id=row.run_id,
        verdict=None if row.verdict is None else json.loads(row.verdict),
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        baseline_id=row.baseline_id,
        retired_by=row.retired_by,
        retired_at=row.retired_at,
    )
