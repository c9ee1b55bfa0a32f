"""A support lead's labels on misunderstood messages, and the checks and audit entry every
change of the review's records goes through (flags: ``flags.py``; the log: ``audit.py``).

A label says which intent a message should have had (``out_of_scope``, or ``ignore`` for a
message that is no training material), with optional entity spans. It is checked before it is
stored, since labelled texts end up in ``data/nlu/reviewed.yml`` and in git: a known intent,
spans that fit the text, and no secret (the secret guard; markers such as [已隐藏的助记词] are
fine). One label is active per grouping key: a new one replaces the earlier, which stays as
history. Every change leaves an entry in the append-only audit log, in the same transaction.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.improvement.tables import audit, labels, open_improvement_database
from bot.secret_guard import find_secrets

logger = logging.getLogger(__name__)

OUT_OF_SCOPE = "out_of_scope"
IGNORE = "ignore"  # not training material: hidden from the inbox, left out of the export

MAX_NAME = 64  # actors, intents and entity names (the columns' size)
MAX_ACTION = 32
MAX_TEXT_KEY = 255
ATTEMPTS = 3  # to store a label while other leads label the same key
ENTITY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Characters YAML reads as the end of a line: a span may not hold one, the export writes a space.
LINE_BREAKS = "\n\r\x85\u2028\u2029\v\f"
# What else a YAML file cannot hold (its printable set), and a byte order mark.
_UNWRITABLE = re.compile(
    "[^\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


class LabelError(ValueError):
    """A label, flag or export refused; the message says why, in words for operators."""


@dataclass(frozen=True)
class EntitySpan:
    """An entity in a labelled text: ``text[start:end]``, of type ``entity``, meaning ``value``."""

    start: int
    end: int
    entity: str
    value: str


@dataclass(frozen=True)
class Label:
    """An active label: what ``text`` (grouped under ``text_key``) should have been read as."""

    label_id: int
    text: str
    text_key: str
    intent: str
    entities: tuple[EntitySpan, ...]
    pinned: bool
    labelled_by: str
    labelled_at: datetime


def writable(text: str) -> str:
    """``text`` with each line break and character a YAML file cannot hold replaced by a space
    (one for one, so spans keep their offsets)."""
    return _UNWRITABLE.sub(" ", text)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def refuse_secrets(text: str, what: str) -> None:
    """Raises LabelError if the secret guard finds a secret in ``text`` (named ``what``)."""
    findings = find_secrets(text)
    if not findings:
        return
    if all(finding.uncertain for finding in findings):
        raise LabelError(
            f"{what} holds a hash-like string that may be a private key; "
            "it cannot become training data"
        )
    kinds = ", ".join(sorted({finding.kind.value for finding in findings}))
    raise LabelError(f"{what} holds a secret ({kinds}); it cannot become training data")


def check_entities(text: str, entities: Sequence[EntitySpan]) -> tuple[EntitySpan, ...]:
    """The spans in text order, if each fits ``text`` and the export can write it; else LabelError.

    Rasa reads entities from ``[text](entity)`` markup, so a span holds no bracket nor line break,
    and no unclosed ``[`` comes before it (Rasa would read the markup from there).
    """
    spans = tuple(sorted(entities, key=lambda span: (span.start, span.end)))
    previous_end = 0
    for span in spans:
        where = f"entity span {span.start}-{span.end}"
        if not 0 <= span.start < span.end <= len(text):
            raise LabelError(f"{where} is outside the text ({len(text)} characters)")
        if span.start < previous_end:
            raise LabelError(f"{where} overlaps another span")
        piece = text[span.start : span.end]
        if piece != piece.strip():
            raise LabelError(f"{where} starts or ends with a space")
        if any(character in "[]" or character in LINE_BREAKS for character in piece):
            raise LabelError(f"{where} holds a bracket or a line break")
        if len(span.entity) > MAX_NAME or not ENTITY_NAME.match(span.entity):
            raise LabelError(f"{where}: {span.entity!r} is not an entity name")
        if not span.value.strip():
            raise LabelError(f"{where} has no value")
        before = text[previous_end : span.start]
        if "[" in before and "]" not in before[before.rindex("[") :]:
            raise LabelError(f"{where} follows an unclosed '['; mark the entity without it")
        previous_end = span.end
    return spans


def check_name(value: str, what: str, size: int = MAX_NAME) -> None:
    if not value or not value.strip():
        raise LabelError(f"{what} is empty")
    if len(value) > size:
        raise LabelError(f"{what} is longer than {size} characters")


def append_entry(
    connection: Connection, actor: str, action: str, details: Mapping[str, Any], at: datetime
) -> None:
    check_name(actor, "the actor")
    check_name(action, "the action", MAX_ACTION)
    connection.execute(
        audit.insert().values(
            at=at,
            actor=actor,
            action=action,
            details=json.dumps(dict(details), ensure_ascii=False, sort_keys=True),
        )
    )


def _label(row: Any) -> Label:
    return Label(
        label_id=row.label_id,
        text=row.text,
        text_key=row.text_key,
        intent=row.intent,
        entities=tuple(EntitySpan(**span) for span in json.loads(row.entities)),
        pinned=bool(row.pinned),
        labelled_by=row.labelled_by,
        labelled_at=row.labelled_at,
    )


_ACTIVE = labels.c.undone_at.is_(None)


def _lock_key(connection: Connection, text_key: str) -> None:
    """Makes labels of one key follow each other, so that no two become active at once.

    On PostgreSQL a lock on the key until the transaction ends; on SQLite the label's first
    statement, an UPDATE, takes the database's write lock.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"review_labels:{text_key}"},
        )


class LabelStore:
    """The labels a lead gave in the review inbox, with their history."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> LabelStore:
        return cls(open_improvement_database(url))

    def label(
        self,
        text: str,
        text_key: str,
        intent: str,
        by: str,
        entities: Sequence[EntitySpan] = (),
        pinned: bool = False,
        *,
        known_intents: Collection[str],
    ) -> Label:
        """Stores ``by``'s label for ``text``, replacing the active one of ``text_key``.

        ``known_intents`` are the model's intents (the domain's); a label on any other, or on a
        text the export could not write safely, raises LabelError.
        """
        if intent not in known_intents and intent not in (OUT_OF_SCOPE, IGNORE):
            raise LabelError(f"unknown intent {intent!r}")
        if not writable(text).strip():
            raise LabelError("the text is empty")
        check_name(text_key, "the text key", MAX_TEXT_KEY)
        check_name(by, "the lead's name")
        spans = check_entities(text, entities)
        refuse_secrets(text, "the text")
        for span in spans:
            refuse_secrets(span.value, f"the value of entity span {span.start}-{span.end}")
        for attempt in range(ATTEMPTS):
            try:
                return self._replace(text, text_key, intent, by, spans, pinned)
            except sa.exc.IntegrityError:
                # Another lead labelled the same key at the same moment; the later one wins.
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _replace(
        self,
        text: str,
        text_key: str,
        intent: str,
        by: str,
        spans: tuple[EntitySpan, ...],
        pinned: bool,
    ) -> Label:
        now = utc_now()
        with self.engine.begin() as connection:
            _lock_key(connection, text_key)
            connection.execute(
                labels.update()
                .where(labels.c.text_key == text_key, _ACTIVE)
                .values(undone_by=by, undone_at=now)
            )
            replaced = connection.execute(
                sa.select(labels.c.label_id).where(
                    labels.c.text_key == text_key,
                    labels.c.undone_at == now,
                    labels.c.undone_by == by,
                )
            ).scalar()
            entities = [
                {"start": s.start, "end": s.end, "entity": s.entity, "value": s.value}
                for s in spans
            ]
            result = connection.execute(
                labels.insert().values(
                    text=text,
                    text_key=text_key,
                    intent=intent,
                    entities=json.dumps(entities, ensure_ascii=False),
                    pinned=pinned,
                    labelled_by=by,
                    labelled_at=now,
                )
            )
            label_id = int(result.inserted_primary_key[0])
            details = {
                "label_id": label_id,
                "text_key": text_key,
                "intent": intent,
                "entities": len(spans),
                "pinned": pinned,
                "replaced": replaced,
            }
            append_entry(connection, by, "label", details, now)
        logger.info("label %s: %s by %s", label_id, intent, by)
        return Label(label_id, text, text_key, intent, spans, pinned, by, now)

    def undo(self, label_id: int, by: str) -> bool:
        """Undoes an active label; False if there is none with this id."""
        check_name(by, "the lead's name")
        now = utc_now()
        with self.engine.begin() as connection:
            row = connection.execute(
                sa.select(labels.c.text_key, labels.c.intent).where(
                    labels.c.label_id == label_id, _ACTIVE
                )
            ).first()
            if row is None:
                return False
            done = connection.execute(
                labels.update()
                .where(labels.c.label_id == label_id, _ACTIVE)
                .values(undone_by=by, undone_at=now)
            ).rowcount
            if not done:
                return False
            details = {"label_id": label_id, "text_key": row.text_key, "intent": row.intent}
            append_entry(connection, by, "undo", details, now)
        return True

    def pin(self, label_id: int, pinned: bool, by: str) -> bool:
        """Pins an active label (the gate refuses a model that misreads it) or unpins it; False
        if there is no active label with this id."""
        check_name(by, "the lead's name")
        now = utc_now()
        with self.engine.begin() as connection:
            done = connection.execute(
                labels.update().where(labels.c.label_id == label_id, _ACTIVE).values(pinned=pinned)
            ).rowcount
            if not done:
                return False
            append_entry(connection, by, "pin" if pinned else "unpin", {"label_id": label_id}, now)
        return True

    def active(self) -> list[Label]:
        """The labels not replaced nor undone, oldest first."""
        return self._select(_ACTIVE)

    def pinned(self) -> list[Label]:
        """The active labels the lead pinned, oldest first."""
        return self._select(_ACTIVE, labels.c.pinned.is_(True))

    def handled_keys(self) -> set[str]:
        """The text keys with an active label ("ignore" included): the inbox leaves them out."""
        with self.engine.connect() as connection:
            return set(
                connection.execute(sa.select(labels.c.text_key).where(_ACTIVE)).scalars().all()
            )

    def _select(self, *conditions: Any) -> list[Label]:
        query = (
            sa.select(labels).where(*conditions).order_by(labels.c.labelled_at, labels.c.label_id)
        )
        with self.engine.connect() as connection:
            return [_label(row) for row in connection.execute(query)]
