"""The review inbox: the user messages the assistant missed, near-duplicates grouped into rows.

A message to the bot is listed when it fell back (``nlu_fallback``, or a confidence below the
FallbackClassifier's threshold in config.yml), got the clarification step (``utter_clarify``: no
article fitted, the likely topics were offered), was followed there by "none of these" (intent
``deny``, clicked or typed), led to a ticket (``action_handoff`` and the pause after it),
belongs to the stretch of a conversation the user rated 1–2, or was the last message the bot
answered before an agent flagged the conversation.
A clicked button (stored as its payload, ``/deny``) is no text to label: what it answers is
listed for it, the message the user typed before it.

Messages are read from Rasa's ``events`` table as ``bot.insight.sources`` reads them, texts
exactly as stored: secret markers stay markers. Rows group messages whose ``grouping_key`` is
equal or whose keys' character bigrams overlap by a Jaccard similarity of at least 0.8.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine

from bot.insight.compute import turn_rating
from bot.insight.sources import PAUSING, RESUMING, events, table_exists, user_turn
from bot.nlu.normalisation import normalise

logger = logging.getLogger(__name__)

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config.yml"
FALLBACK_INTENT = "nlu_fallback"
CLARIFY_RESPONSE = "utter_clarify"
HANDOFF_ACTION = "action_handoff"
NONE_OF_THESE_INTENT = "deny"  # the payload of the 都不是 button (bot.dialogue.clarify)
LOW_RATING = 2
SIMILARITY = 0.8
EXAMPLES = 5
CONTEXT_TURNS = 2

REASONS = ("clarification", "fallback", "flagged", "handoff", "low_rating", "none_of_these")


@dataclass(frozen=True)
class ContextTurn:
    """One message around a listed one: ``speaker`` is "user" or "bot"."""

    speaker: str
    text: str


@dataclass(frozen=True)
class InboxRow:
    """A group of near-duplicate messages, shown by its newest example."""

    key: str  # the group's grouping key: stable, usable in a URL once quoted
    text: str  # the newest example, as stored
    examples: tuple[str, ...]  # up to 5 distinct texts of the group, newest first
    count: int
    newest_at: datetime
    reasons: tuple[str, ...]  # sorted, every reason any message of the group was listed for
    intent: str | None  # of the newest example, as are the fields below
    confidence: float | None
    channel: str
    conversation_id: str
    context: tuple[ContextTurn, ...]  # up to 2 turns before and 2 after the newest example


@dataclass
class _Message:
    """A user message the bot answered, with where it sits in its conversation."""

    conversation_id: str
    at: datetime
    text: str
    intent: str | None
    confidence: float | None
    channel: str
    position: int  # its index in the conversation's turns
    reasons: set[str] = field(default_factory=set)


@dataclass
class _Conversation:
    turns: list[ContextTurn] = field(default_factory=list)
    typed: list[_Message] = field(default_factory=list)  # to the bot, not a button, oldest first


@dataclass
class _Group:
    key: str
    bigrams: frozenset[str]
    messages: list[_Message] = field(default_factory=list)
    hidden: bool = False


def grouping_key(text: str) -> str:
    """``text`` as the NLU normalises it (simplified, half-width, Cantonese as Mandarin), in
    lower case, without punctuation and spaces; the normalised text if that leaves nothing."""
    normalised = normalise(text).text.casefold()
    key = "".join(c for c in normalised if not unicodedata.category(c).startswith(("P", "Z")))
    return key or "".join(normalised.split())


def load_inbox(
    tracker_engine: Engine,
    flags: Sequence[tuple[str, datetime]] = (),
    hidden_keys: Collection[str] = (),
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[InboxRow], int]:
    """The page of rows (``offset``, ``limit``) and how many rows there are in all.

    ``flags``: (conversation id, when an agent flagged it); a naive time is taken as UTC.
    ``hidden_keys``: keys already labelled or ignored; their rows, and messages that would
    join them, are left out. ``since``: only messages from then on are listed.

    Rows come newest first (by their newest message), then the most frequent: a lead reviewing
    every day sees what is new before what is old, and among messages of the same moment what
    users say most often.
    """
    conversations = _read_conversations(tracker_engine, since)
    _mark_flagged(conversations, flags)
    start = since.timestamp() if since is not None else None
    listed = [
        message
        for conversation in conversations.values()
        for message in conversation.typed
        if message.reasons and (start is None or message.at.timestamp() >= start)
    ]
    groups = [group for group in _grouped(listed, hidden_keys) if not group.hidden]
    groups.sort(key=lambda g: (-g.messages[0].at.timestamp(), -len(g.messages), g.key))
    offset = max(offset, 0)
    page = groups[offset : offset + limit] if limit > 0 else []
    return [_row(group, conversations) for group in page], len(groups)


def _read_conversations(engine: Engine, since: datetime | None) -> dict[str, _Conversation]:
    """Each conversation's turns and the messages it lists, whole for any message since."""
    if not table_exists(engine, events.name):
        return {}
    columns = events.c
    wanted = ["user", "bot", "action", *PAUSING, *RESUMING]
    query = sa.select(
        columns.sender_id, columns.type_name, columns.timestamp, columns.action_name, columns.data
    ).where(columns.type_name.in_(wanted))
    if since is not None:
        recent = (
            sa.select(columns.sender_id)
            .where(columns.type_name == "user", columns.timestamp >= since.timestamp())
            .distinct()
        )
        query = query.where(columns.sender_id.in_(recent))
    query = query.order_by(columns.sender_id, columns.id)
    with engine.connect() as connection:
        return {
            sender_id: _conversation(sender_id, rows)
            for sender_id, rows in _by_conversation(connection.execute(query))
        }


def _by_conversation(rows: Iterable[Any]) -> Iterable[tuple[str, list[Any]]]:
    current: str | None = None
    batch: list[Any] = []
    for row in rows:
        if row.sender_id != current and batch:
            yield str(current), batch
            batch = []
        current = row.sender_id
        batch.append(row)
    if batch:
        yield str(current), batch


def _conversation(sender_id: str, rows: list[Any]) -> _Conversation:
    """Reads one conversation's events in order and marks the messages to list."""
    conversation = _Conversation()
    paused = False
    current: _Message | None = None  # the message the turn's actions answer
    clarified: _Message | None = None  # the message the last clarification asked about
    handing_off: _Message | None = None  # a ticket is opened for it once the pause follows
    rated_from = 0  # typed messages before this one were judged by an earlier rating
    for row in rows:
        type_name = row.type_name
        if type_name in PAUSING or type_name in RESUMING:
            paused = type_name in PAUSING
            if paused and handing_off is not None:
                handing_off.reasons.add("handoff")
            handing_off = None
            continue
        if type_name == "bot":
            data = _data(row.data, sender_id)
            if data.get("text"):
                conversation.turns.append(ContextTurn("bot", str(data["text"])))
            utter = (data.get("metadata") or {}).get("utter_action")
            if current is not None and utter == CLARIFY_RESPONSE:
                current.reasons.add("clarification")
                clarified = current
            continue
        if type_name == "action":
            if row.action_name == HANDOFF_ACTION:
                handing_off = current
            continue
        turn = user_turn(sender_id, row.timestamp, row.data, to_bot=not paused)
        conversation.turns.append(ContextTurn("user", turn.text))
        answered, clarified, handing_off = clarified, None, None
        rating = turn_rating(turn)
        if rating is not None:
            # It judges what the bot answered since the last rating; it is no text to label.
            if rating <= LOW_RATING:
                for earlier in conversation.typed[rated_from:]:
                    earlier.reasons.add("low_rating")
            rated_from = len(conversation.typed)
        if rating is not None or not turn.to_bot:
            current = None
            continue
        if answered is not None and turn.intent == NONE_OF_THESE_INTENT:
            # 都不是, clicked or typed: what follows answers the message it was asked about.
            answered.reasons.add("none_of_these")
            current = answered
            continue
        if _is_button(turn.text) or not turn.text.strip():
            # What a click answers: the message typed before it.
            current = conversation.typed[-1] if conversation.typed else None
            continue
        confidence = _confidence(row.data, sender_id)
        current = _Message(
            conversation_id=sender_id,
            at=turn.at,
            text=turn.text,
            intent=turn.intent,
            confidence=confidence,
            channel=turn.channel,
            position=len(conversation.turns) - 1,
        )
        if turn.intent == FALLBACK_INTENT or (
            confidence is not None and confidence < load_fallback_threshold()
        ):
            current.reasons.add("fallback")
        conversation.typed.append(current)
    return conversation


def _mark_flagged(
    conversations: dict[str, _Conversation], flags: Sequence[tuple[str, datetime]]
) -> None:
    """Marks, for each flag, the last message the bot answered before it in its conversation."""
    for conversation_id, flagged_at in flags:
        conversation = conversations.get(conversation_id)
        if conversation is None:
            continue
        moment = flagged_at if flagged_at.tzinfo else flagged_at.replace(tzinfo=timezone.utc)
        before = [message for message in conversation.typed if message.at <= moment]
        if before:
            before[-1].reasons.add("flagged")


def _grouped(messages: list[_Message], hidden_keys: Collection[str]) -> list[_Group]:
    """Messages grouped by key, then groups of similar keys merged into the larger (earlier).

    Hidden keys are groups from the start, so that near-duplicates of what was labelled stay
    out. Each key is compared only with groups sharing a bigram with it (an index of them), so
    the cost grows with the number of messages times the groups a key could join.
    """
    exact: dict[str, list[_Message]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: m.at.timestamp(), reverse=True):
        exact[grouping_key(message.text)].append(message)
    groups: list[_Group] = []
    by_key: dict[str, _Group] = {}
    index: dict[str, list[int]] = defaultdict(list)

    def add(group: _Group) -> None:
        by_key[group.key] = group
        for bigram in group.bigrams:
            index[bigram].append(len(groups))
        groups.append(group)

    for key in hidden_keys:
        if key not in by_key:
            add(_Group(key, _bigrams(key), hidden=True))
    ordered = sorted(exact.items(), key=lambda item: (-len(item[1]), item[1][-1].at, item[0]))
    for key, found in ordered:
        same = by_key.get(key)
        if same is None:
            bigrams = _bigrams(key)
            same = _similar(bigrams, groups, index)
            if same is None:
                same = _Group(key, bigrams)
                add(same)
        same.messages.extend(found)
    for group in groups:
        group.messages.sort(key=lambda m: m.at.timestamp(), reverse=True)
    return [group for group in groups if group.messages]


def _similar(
    bigrams: frozenset[str], groups: list[_Group], index: dict[str, list[int]]
) -> _Group | None:
    """The first group whose key's bigrams have a Jaccard similarity of at least 0.8."""
    shared: Counter[int] = Counter()
    for bigram in bigrams:
        shared.update(index.get(bigram, ()))
    for number in sorted(shared):
        overlap = shared[number]
        union = len(bigrams) + len(groups[number].bigrams) - overlap
        if union and overlap / union >= SIMILARITY:
            return groups[number]
    return None


def _bigrams(key: str) -> frozenset[str]:
    return (
        frozenset(key[i : i + 2] for i in range(len(key) - 1)) if len(key) > 1 else frozenset({key})
    )


def _row(group: _Group, conversations: dict[str, _Conversation]) -> InboxRow:
    newest = group.messages[0]
    examples: list[str] = []
    for message in group.messages:
        if message.text not in examples:
            examples.append(message.text)
        if len(examples) == EXAMPLES:
            break
    turns = conversations[newest.conversation_id].turns
    start = max(newest.position - CONTEXT_TURNS, 0)
    after = newest.position + 1
    context = turns[start : newest.position] + turns[after : after + CONTEXT_TURNS]
    return InboxRow(
        key=group.key,
        text=newest.text,
        examples=tuple(examples),
        count=len(group.messages),
        newest_at=newest.at,
        reasons=tuple(sorted(set().union(*(m.reasons for m in group.messages)))),
        intent=newest.intent,
        confidence=newest.confidence,
        channel=newest.channel,
        conversation_id=newest.conversation_id,
        context=tuple(context),
    )


def _is_button(text: str) -> bool:
    """A clicked button: Rasa stores its payload, ``/intent`` with optional entities."""
    return text.startswith("/") and len(text) > 1 and (text[1].isalpha() or text[1] == "_")


def _data(raw: str | None, sender_id: str) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        logger.warning("unreadable event in conversation %s", sender_id)
        return {}
    return data if isinstance(data, dict) else {}


def _confidence(raw: str | None, sender_id: str) -> float | None:
    intent = (_data(raw, sender_id).get("parse_data") or {}).get("intent") or {}
    value = intent.get("confidence") if isinstance(intent, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


@cache
def load_fallback_threshold(path: Path = CONFIG_FILE) -> float:
    """The FallbackClassifier's threshold in config.yml (Rasa's default 0.3 if none is set)."""
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for component in config.get("pipeline") or []:
        if component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", 0.3))
    return 0.3
