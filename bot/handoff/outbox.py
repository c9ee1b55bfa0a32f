"""Messages waiting in the handoff database for a user whose channel cannot push (REST).

An agent's reply or a handoff notice is posted here and handed over with the user's next request,
on whichever server takes it.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.handoff.tables import outbox, utc_now


class Outbox:
    """Per-conversation messages, each handed over once, oldest first."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def post(self, conversation_id: str, message: dict[str, Any]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                outbox.insert().values(
                    conversation_id=conversation_id,
                    message=json.dumps(message, ensure_ascii=False),
                    created_at=utc_now(),
                )
            )

    def collect(self, conversation_id: str) -> list[dict[str, Any]]:
        """Takes the conversation's waiting messages, oldest first, each once."""
        with self._engine.begin() as connection:
            rows = connection.execute(
                sa.select(outbox.c.message_id, outbox.c.message)
                .where(outbox.c.conversation_id == conversation_id)
                .order_by(outbox.c.message_id)
            ).all()
            if rows:
                connection.execute(
                    outbox.delete().where(outbox.c.message_id.in_([row[0] for row in rows]))
                )
        return [json.loads(row[1]) for row in rows]
