"""What agents add to a ticket and users never see: internal notes (a transfer's note among
them) and tags, which the insight report counts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.handoff.records import Note
from bot.handoff.tables import notes, ticket_tags, utc_now

MAX_NOTE = 4000
MAX_TAG = 32
MAX_TAGS = 10
NOTE, TRANSFER, RETURNED = "note", "transfer", "returned"


class NoteError(ValueError):
    """A note or tag the desk does not keep; the message says why (for the agent)."""


class NoteBook:
    """Notes and tags of tickets in the handoff database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self, ticket_id: int, author: str, text: str, kind: str = NOTE, target: str | None = None
    ) -> Note:
        text = text.strip()
        if not text and kind == NOTE:
            raise NoteError("note must not be empty")
        if len(text) > MAX_NOTE:
            raise NoteError(f"note must be at most {MAX_NOTE} characters")
        now = utc_now()
        with self._engine.begin() as connection:
            note_id = connection.execute(
                notes.insert().values(
                    ticket_id=ticket_id,
                    author=author,
                    kind=kind,
                    target=target,
                    text=text,
                    created_at=now,
                )
            ).inserted_primary_key[0]
        return Note(int(note_id), ticket_id, author, kind, text, now, target)

    def notes(self, ticket_id: int) -> list[Note]:
        query = sa.select(notes).where(notes.c.ticket_id == ticket_id).order_by(notes.c.note_id)
        with self._engine.connect() as connection:
            return [_note(row) for row in connection.execute(query).mappings()]

    def set_tags(self, ticket_id: int, tags: list[str]) -> list[str]:
        """Replaces the ticket's tags; the tags as stored (trimmed, each once, in order)."""
        clean = list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
        if len(clean) > MAX_TAGS:
            raise NoteError(f"a ticket has at most {MAX_TAGS} tags")
        if any(len(tag) > MAX_TAG or "," in tag for tag in clean):
            raise NoteError(f"a tag is at most {MAX_TAG} characters, without commas")
        with self._engine.begin() as connection:
            connection.execute(ticket_tags.delete().where(ticket_tags.c.ticket_id == ticket_id))
            for tag in clean:
                connection.execute(ticket_tags.insert().values(ticket_id=ticket_id, tag=tag))
        return clean

    def tags(self, ticket_id: int) -> list[str]:
        return self.tags_of([ticket_id]).get(ticket_id, [])

    def tags_of(self, ticket_ids: list[int]) -> dict[int, list[str]]:
        """The tags of each of ``ticket_ids`` that has any."""
        if not ticket_ids:
            return {}
        query = (
            sa.select(ticket_tags.c.ticket_id, ticket_tags.c.tag)
            .where(ticket_tags.c.ticket_id.in_(ticket_ids))
            .order_by(ticket_tags.c.ticket_id, ticket_tags.c.tag)
        )
        found: dict[int, list[str]] = {}
        with self._engine.connect() as connection:
            for ticket_id, tag in connection.execute(query):
                found.setdefault(int(ticket_id), []).append(str(tag))
        return found


def _note(row: Any) -> Note:
    return Note(
        note_id=row["note_id"],
        ticket_id=row["ticket_id"],
        author=row["author"],
        kind=row["kind"],
        text=row["text"],
        created_at=row["created_at"],
        target=row["target"],
    )
