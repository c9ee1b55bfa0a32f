"""Messages waiting in the handoff database for a user whose channel cannot push (REST).

An agent's reply or a handoff notice is posted here and handed over with the user's next request,
on whichever server takes it. Collecting runs on every REST turn, so it is one statement on a
connection of its own without a transaction (one round trip on PostgreSQL): a ``DELETE …
RETURNING`` takes the messages and removes them at once, so two servers answering requests of
one conversation at the same moment never hand a message over twice. SQLAlchemy 1.4 has no
RETURNING for SQLite (3.35 has), so the statement is written out.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.handoff.tables import outbox, utc_now

_TAKE = sa.text(
    f"DELETE FROM {outbox.name} WHERE conversation_id = :conversation_id "
    "RETURNING message_id, message"
)


class Outbox:
    """Per-conversation messages, each handed over once, oldest first."""

    def __init__(self, engine: Engine) -> None:
        """``engine``: one in autocommit mode (each statement its own transaction)."""
        self._engine = engine

    def post(self, conversation_id: str, message: dict[str, Any]) -> None:
        with self._engine.connect() as connection:
            connection.execute(
                outbox.insert().values(
                    conversation_id=conversation_id,
                    message=json.dumps(message, ensure_ascii=False),
                    created_at=utc_now(),
                )
            )

    def collect(self, conversation_id: str) -> list[dict[str, Any]]:
        """Takes the conversation's waiting messages, oldest first, each once."""
        with self._engine.connect() as connection:
            rows = connection.execute(_TAKE, {"conversation_id": conversation_id}).all()
        return [json.loads(message) for _, message in sorted(rows)]
