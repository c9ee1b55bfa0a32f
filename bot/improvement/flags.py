"""Agents' flags on conversations the assistant misunderstood ("机器人答错了" on a ticket): the
review inbox lists the message the bot answered last before each flag. Each flag is recorded in
the audit log in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.improvement.labels import append_entry, check_name, refuse_secrets, utc_now
from bot.improvement.tables import flags, open_improvement_database


@dataclass(frozen=True)
class Flag:
    """An agent's mark on a conversation the assistant got wrong."""

    flag_id: int
    conversation_id: str
    ticket_id: int | None
    flagged_by: str
    flagged_at: datetime
    note: str | None


class FlagStore:
    """Agents' flags on conversations the assistant misunderstood (the inbox lists them)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> FlagStore:
        return cls(open_improvement_database(url))

    def flag(
        self, conversation_id: str, ticket_id: int | None, by: str, note: str | None = None
    ) -> Flag:
        """Records ``by``'s flag; a note holding a secret raises LabelError (the lead reads it)."""
        check_name(conversation_id, "the conversation id", 255)
        check_name(by, "the agent's name")
        if note is not None:
            refuse_secrets(note, "the note")
        now = utc_now()
        with self.engine.begin() as connection:
            result = connection.execute(
                flags.insert().values(
                    conversation_id=conversation_id,
                    ticket_id=ticket_id,
                    flagged_by=by,
                    flagged_at=now,
                    note=note,
                )
            )
            flag_id = int(result.inserted_primary_key[0])
            details = {
                "flag_id": flag_id,
                "conversation_id": conversation_id,
                "ticket_id": ticket_id,
            }
            append_entry(connection, by, "flag", details, now)
        return Flag(flag_id, conversation_id, ticket_id, by, now, note)

    def flags(self, since: datetime | None = None) -> list[Flag]:
        """The flags (those from ``since`` on, if given), oldest first."""
        query = sa.select(flags).order_by(flags.c.flagged_at, flags.c.flag_id)
        if since is not None:
            query = query.where(flags.c.flagged_at >= since)
        with self.engine.connect() as connection:
            return [
                Flag(
                    row.flag_id,
                    row.conversation_id,
                    row.ticket_id,
                    row.flagged_by,
                    row.flagged_at,
                    row.note,
                )
                for row in connection.execute(query)
            ]
