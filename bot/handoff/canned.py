"""Canned replies (快捷回复): an agent's own and their teams', found by ``/shortcut`` in the reply
box and filled in with the ticket's values before the agent sends them.

Edits carry the revision they started from: saving over someone else's newer edit is refused
(``EditConflict``), as in the help center's editor, so two editors never silently overwrite each
other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.handoff.records import CannedReply, Team
from bot.handoff.tables import canned_replies, utc_now

MAX_TEXT = 2000
SHORTCUT = re.compile(r"[\w\-]{1,32}")
# The values a canned reply can hold, filled in from the ticket (bot.handoff.desk).
VARIABLES = ("user_display", "ticket_number", "masked_account", "tx_hash", "explorer_link")
_VARIABLE = re.compile(r"\{(" + "|".join(VARIABLES) + r")\}")


class CannedError(ValueError):
    """A canned reply the desk does not keep; the message says why."""


class EditConflict(Exception):
    """The reply changed (or was deleted) since the editor loaded it."""


class CannedReplies:
    """Canned replies in the handoff database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def visible_to(
        self, username: str, teams: tuple[Team, ...], query: str = ""
    ) -> list[CannedReply]:
        """``username``'s own replies and their teams', those whose shortcut or text holds
        ``query``; shortcuts starting with it first."""
        scope = sa.or_(
            canned_replies.c.owner == username,
            sa.and_(
                canned_replies.c.owner.is_(None),
                canned_replies.c.team.in_([team.value for team in teams]),
            ),
        )
        select = sa.select(canned_replies).where(canned_replies.c.deleted.is_(False), scope)
        with self._engine.connect() as connection:
            found = [_reply(row) for row in connection.execute(select).mappings()]
        needle = query.strip().lower()
        matching = [r for r in found if needle in r.shortcut.lower() or needle in r.text.lower()]
        return sorted(
            matching, key=lambda r: (not r.shortcut.lower().startswith(needle), r.shortcut)
        )

    def get(self, reply_id: int) -> CannedReply | None:
        with self._engine.connect() as connection:
            row = (
                connection.execute(
                    sa.select(canned_replies).where(
                        canned_replies.c.reply_id == reply_id, canned_replies.c.deleted.is_(False)
                    )
                )
                .mappings()
                .first()
            )
        return _reply(row) if row else None

    def create(self, author: str, shortcut: str, text: str, team: Team | None) -> CannedReply:
        """A new reply: the team's when ``team`` is given, else the author's own."""
        values = {
            **_checked(shortcut, text),
            "owner": None if team else author,
            "team": team.value if team else None,
            "revision": 1,
            "updated_by": author,
            "updated_at": utc_now(),
            "deleted": False,
        }
        with self._engine.begin() as connection:
            reply_id = connection.execute(
                canned_replies.insert().values(**values)
            ).inserted_primary_key[0]
        found = self.get(int(reply_id))
        assert found is not None
        return found

    def update(
        self, reply_id: int, author: str, shortcut: str, text: str, revision: int
    ) -> CannedReply:
        """Saves an edit made on ``revision``; EditConflict if the reply changed since."""
        values = {
            **_checked(shortcut, text),
            "revision": revision + 1,
            "updated_by": author,
            "updated_at": utc_now(),
        }
        self._change(reply_id, revision, values)
        found = self.get(reply_id)
        assert found is not None
        return found

    def delete(self, reply_id: int, author: str, revision: int) -> None:
        self._change(
            reply_id,
            revision,
            {
                "deleted": True,
                "revision": revision + 1,
                "updated_by": author,
                "updated_at": utc_now(),
            },
        )

    def _change(self, reply_id: int, revision: int, values: Mapping[str, Any]) -> None:
        with self._engine.begin() as connection:
            updated = connection.execute(
                canned_replies.update()
                .where(
                    canned_replies.c.reply_id == reply_id,
                    canned_replies.c.revision == revision,
                    canned_replies.c.deleted.is_(False),
                )
                .values(**values)
            )
        if not updated.rowcount:
            raise EditConflict(f"canned reply {reply_id} changed since revision {revision}")


def fill(text: str, values: Mapping[str, str | None]) -> tuple[str, list[str]]:
    """``text`` with each known variable that has a value filled in; the variables without one
    stay as written and are listed (the agent completes them before sending)."""
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = values.get(name)
        if found:
            return found
        if name not in missing:
            missing.append(name)
        return match.group(0)

    return _VARIABLE.sub(value, text), missing


def _checked(shortcut: str, text: str) -> dict[str, str]:
    shortcut, text = shortcut.strip().lstrip("/"), text.strip()
    if not SHORTCUT.fullmatch(shortcut):
        raise CannedError("shortcut must be 1-32 letters, digits, _ or -")
    if not text or len(text) > MAX_TEXT:
        raise CannedError(f"text must be 1-{MAX_TEXT} characters")
    return {"shortcut": shortcut, "text": text}


def _reply(row: Any) -> CannedReply:
    return CannedReply(
        reply_id=row["reply_id"],
        shortcut=row["shortcut"],
        text=row["text"],
        owner=row["owner"],
        team=Team(row["team"]) if row["team"] else None,
        revision=row["revision"],
        updated_by=row["updated_by"],
        updated_at=row["updated_at"],
    )
