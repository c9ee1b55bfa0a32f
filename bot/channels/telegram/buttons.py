"""Telegram buttons: inline keyboards, and the payloads too long for a button's 64 bytes.

A button's ``callback_data`` is its payload when that fits Telegram's 64 bytes; a longer one
(``/transfer_pending{"tx_hash": …}``) is stored and the button carries ``#<key>`` instead, which
only the user it was shown to can redeem (python-telegram-bot's ``CallbackDataCache`` does the
same in memory; here it is in the channels' database, so every server and a restart know it).
Stored payloads are kept 30 days.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.database import Every, UtcDateTime, open_database

logger = logging.getLogger(__name__)

MAX_CALLBACK_DATA_BYTES = 64  # Telegram's limit for a button's callback_data
MAX_TITLE_LENGTH = 64
STORED_PAYLOAD_PREFIX = "#"  # callback_data naming a stored payload that did not fit
RETENTION = timedelta(days=30)
PRUNE_EVERY_SECONDS = 3600.0

metadata = sa.MetaData()

button_payloads = sa.Table(
    "telegram_button_payloads",
    metadata,
    sa.Column("token", sa.String(32), primary_key=True),
    sa.Column("platform_user_id", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.Index("ix_telegram_button_payloads_user", "platform_user_id"),
)


class ButtonPayloads:
    """Payloads of buttons shown to a user, kept for the buttons that cannot carry them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._prune_due = Every(PRUNE_EVERY_SECONDS)

    @classmethod
    def from_url(cls, url: str) -> ButtonPayloads:
        return cls(open_database(url, metadata))

    def button_data(self, platform_user_id: str, payload: str) -> str:
        """The callback_data for a button: the payload itself, or a key to it when too long."""
        if (
            len(payload.encode()) <= MAX_CALLBACK_DATA_BYTES
            and payload
            and not payload.startswith(STORED_PAYLOAD_PREFIX)
        ):
            return payload
        now = datetime.now(timezone.utc)
        self._prune(now)
        with self._engine.begin() as connection:
            existing = connection.execute(
                sa.select(button_payloads.c.token).where(
                    button_payloads.c.platform_user_id == platform_user_id,
                    button_payloads.c.payload == payload,
                )
            ).first()
            if existing is not None:
                return f"{STORED_PAYLOAD_PREFIX}{existing[0]}"
            token = secrets.token_urlsafe(12)
            connection.execute(
                button_payloads.insert().values(
                    token=token,
                    platform_user_id=platform_user_id,
                    payload=payload,
                    created_at=now,
                )
            )
        return f"{STORED_PAYLOAD_PREFIX}{token}"

    def payload_for(self, platform_user_id: str, data: str) -> str | None:
        """The payload a pressed button stands for; None for an unknown or foreign key."""
        if not data.startswith(STORED_PAYLOAD_PREFIX):
            return data
        query = sa.select(button_payloads.c.payload).where(
            button_payloads.c.token == data[len(STORED_PAYLOAD_PREFIX) :],
            button_payloads.c.platform_user_id == platform_user_id,
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return str(row[0]) if row else None

    def inline_keyboard(
        self, platform_user_id: str, buttons: Iterable[Any]
    ) -> list[list[dict[str, str]]]:
        """Rasa's buttons as an inline keyboard, one per row: https links open, payloads come
        back as callback_data; a button whose payload cannot be stored is left out (logged)."""
        keyboard = []
        for button in buttons:
            if not isinstance(button, dict):
                continue
            payload, url = button.get("payload"), button.get("url")
            title = str(button.get("title") or payload or url or "")[:MAX_TITLE_LENGTH]
            if isinstance(url, str) and url.startswith("https://"):
                keyboard.append([{"text": title, "url": url}])
            elif isinstance(payload, str) and payload:
                try:
                    data = self.button_data(platform_user_id, payload)
                except sa.exc.SQLAlchemyError:
                    # The message still goes out, without this button.
                    logger.exception(
                        "could not store a button payload for telegram:%s", platform_user_id
                    )
                    continue
                keyboard.append([{"text": title, "callback_data": data}])
        return keyboard

    def _prune(self, now: datetime) -> None:
        if not self._prune_due.due():
            return
        with self._engine.begin() as connection:
            connection.execute(
                button_payloads.delete().where(button_payloads.c.created_at < now - RETENTION)
            )
