"""Keeps the held parts of a split mnemonic out of every log line while they are held.

Rasa's debug log writes each message as it arrives, before anyone can know that the next message
completes a mnemonic with it. While ``split`` holds a part, every log record that contains it (as
typed, JSON-escaped as Rasa's structured log writes it, or as logged bytes) gets it replaced by
``WITHHELD``. The log record factory is the one hook every logger and handler share.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.secret_guard.split import SplitMnemonics

WITHHELD = "[withheld]"
_installed: set[int] = set()


def mask_held_parts(held: SplitMnemonics) -> None:
    """Masks ``held``'s parts in every log record created from now on (once per holder)."""
    if id(held) in _installed:
        return
    _installed.add(id(held))
    previous = logging.getLogRecordFactory()
    cached: dict[str, Any] = {"texts": (), "forms": ()}

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        texts = held.texts
        if texts:
            if texts is not cached["texts"]:
                cached.update(texts=texts, forms=forms_of(texts))
            mask(record, cached["forms"])
        return record

    logging.setLogRecordFactory(factory)


def forms_of(texts: tuple[str, ...]) -> tuple[str, ...]:
    """Each text as typed, JSON-escaped once and twice, and as the repr of its UTF-8 bytes."""
    forms: set[str] = set()
    for text in texts:
        once = json.dumps(text)[1:-1]
        forms |= {text, once, json.dumps(once)[1:-1], repr(text.encode())[2:-1]}
    # Longest first, so that no shorter form leaves part of a longer one behind.
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


def mask(record: logging.LogRecord, forms: tuple[str, ...]) -> None:
    """Replaces every form in the record's message by WITHHELD."""
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not fit: logging reports it itself
        return
    if not any(form in message for form in forms):
        return
    for form in forms:
        message = message.replace(form, WITHHELD)
    record.msg, record.args = message, None
