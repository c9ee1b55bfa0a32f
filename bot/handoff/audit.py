"""The desk's audit log and the alerts supervisors get.

Every login, account-panel view and reveal, transfer, close, blocked agent reply, and change to
agents, roles or canned replies is recorded: who, what, on what, when, and a detail (a reveal's
reason). The log is append-only: this module only inserts and reads (a test checks that no
code path updates or deletes it). A write that fails raises ``AuditError``, and callers that must
not act unrecorded (a reveal) refuse: no view without a record.

Viewing more than ``VIEW_ALERT`` account panels within ``VIEW_WINDOW`` raises an alert for the
supervisors, once per window per agent, as do blocked replies (``bot.handoff.guard``).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.handoff.tables import alerts, audit_log, utc_now

logger = logging.getLogger(__name__)

# Actions (the ``action`` column).
LOGIN = "login"
PANEL_VIEW = "panel_view"
PANEL_REVEAL = "panel_reveal"
TRANSFER = "transfer"
CLOSE = "close"
REPLY_BLOCKED = "reply_blocked"
GUARD_APPROVAL = "guard_approval"
TAKEOVER = "takeover"
AGENT_CHANGE = "agent_change"
CANNED_CHANGE = "canned_change"

VIEW_ALERT = 20
VIEW_WINDOW = timedelta(minutes=10)
MAX_DETAIL = 1000
CSV_COLUMNS = ("entry_id", "at", "actor", "action", "target", "detail")


class AuditError(RuntimeError):
    """The audit log could not be written: what needed the record must not happen."""


@dataclass(frozen=True)
class Entry:
    entry_id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Alert:
    alert_id: int
    at: datetime
    kind: str
    actor: str
    ticket_id: int | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "ticket_id": self.ticket_id,
            "detail": self.detail,
        }


class AuditLog:
    """The audit log and alerts in the handoff database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, actor: str, action: str, target: str, detail: str = "") -> Entry:
        """Appends an entry; AuditError if it could not be stored."""
        at = utc_now()
        actor, target, detail = actor[:64], target[:255], detail[:MAX_DETAIL]
        try:
            with self._engine.begin() as connection:
                entry_id = connection.execute(
                    audit_log.insert().values(
                        at=at, actor=actor, action=action, target=target, detail=detail
                    )
                ).inserted_primary_key[0]
        except sa.exc.SQLAlchemyError as error:
            logger.error("audit log write failed: %s", type(error).__name__)
            raise AuditError("the audit log could not be written") from error
        if action == PANEL_VIEW:
            try:
                self._watch_viewing(actor, at)
            except sa.exc.SQLAlchemyError:  # the view is recorded; only its alert is missing
                logger.exception("unusual-viewing check failed")
        return Entry(int(entry_id), at, actor, action, target, detail)

    def entries(
        self, limit: int | None = 100, offset: int = 0, actor: str | None = None
    ) -> list[Entry]:
        """Newest first (``actor``'s only, when given)."""
        query = sa.select(audit_log).order_by(audit_log.c.entry_id.desc())
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        with self._engine.connect() as connection:
            rows = connection.execute(query.limit(limit).offset(offset)).mappings()
            return [_entry(row) for row in rows]

    def count(self, actor: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(audit_log)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def alert(self, kind: str, actor: str, ticket_id: int | None, detail: str) -> Alert:
        at = utc_now()
        with self._engine.begin() as connection:
            alert_id = connection.execute(
                alerts.insert().values(
                    at=at, kind=kind, actor=actor, ticket_id=ticket_id, detail=detail[:MAX_DETAIL]
                )
            ).inserted_primary_key[0]
        logger.warning("desk alert %s about %s", kind, actor)
        return Alert(int(alert_id), at, kind, actor, ticket_id, detail[:MAX_DETAIL])

    def alerts(self, limit: int = 50) -> list[Alert]:
        query = sa.select(alerts).order_by(alerts.c.alert_id.desc()).limit(limit)
        with self._engine.connect() as connection:
            return [_alert(row) for row in connection.execute(query).mappings()]

    def _watch_viewing(self, actor: str, now: datetime) -> None:
        """Alerts once per window when ``actor`` opened more than ``VIEW_ALERT`` panels in it."""
        since = now - VIEW_WINDOW
        with self._engine.connect() as connection:
            viewed = connection.execute(
                sa.select(sa.func.count())
                .select_from(audit_log)
                .where(
                    audit_log.c.actor == actor,
                    audit_log.c.action == PANEL_VIEW,
                    audit_log.c.at > since,
                )
            ).scalar_one()
            told = connection.execute(
                sa.select(alerts.c.alert_id).where(
                    alerts.c.kind == "unusual_viewing", alerts.c.actor == actor, alerts.c.at > since
                )
            ).first()
        if viewed > VIEW_ALERT and told is None:
            self.alert("unusual_viewing", actor, None, f"{viewed} panels in {VIEW_WINDOW}")


def as_csv(entries: Iterable[Entry]) -> str:
    """The entries as CSV (a header row first), for admins' exports."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        row = entry.as_dict()
        # A cell starting with = + - @ is a formula to spreadsheets: kept as text.
        writer.writerow([_cell(str(row[column])) for column in CSV_COLUMNS])
    return buffer.getvalue()


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _entry(row: Any) -> Entry:
    return Entry(
        row["entry_id"], row["at"], row["actor"], row["action"], row["target"], row["detail"]
    )


def _alert(row: Any) -> Alert:
    return Alert(
        row["alert_id"], row["at"], row["kind"], row["actor"], row["ticket_id"], row["detail"]
    )
