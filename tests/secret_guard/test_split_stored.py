"""The earlier part of a split mnemonic, already stored, becomes the marker where it was stored:
in the user message and in anything later that holds it, on SQLite (no trace left in the files)
and on PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot.tracking import SupportTrackerStore
from scripts.production_stack import Postgres
from scripts.secret_samples import mnemonic_words

MARKER = "[已隐藏的助记词]"
DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [out_of_scope]
slots:
  note:
    type: text
    mappings: [{type: custom}]
"""
)
WORDS = mnemonic_words(random.Random("stored split"), "english", 12)
PART = " ".join(WORDS[:6])
TRACES = [" ".join(WORDS[i : i + 4]).encode() for i in range(3)]


def user(text: str, message_id: str) -> UserUttered:
    intent = {"name": "out_of_scope", "confidence": 0.6}
    parse_data = {"text": text, "intent": intent, "entities": [], "intent_ranking": [intent]}
    return UserUttered(text, intent, message_id=message_id, parse_data=parse_data)  # type: ignore[arg-type]


def converse(store: SupportTrackerStore) -> None:
    """Other conversations, then one whose user sent the first part, which a slot also took."""

    async def scenario() -> None:
        for number in range(5):
            tracker = await store.get_or_create_tracker(f"other-{number}")
            for turn in range(10):
                tracker.update(user(f"普通的问题 {turn}", f"o{number}-{turn}"))
                tracker.update(ActionExecuted("utter_default"))
                tracker.update(BotUttered("好的"))
                await store.save(tracker)
        tracker = await store.get_or_create_tracker("alice")
        tracker.update(user("你好", "m0"))
        tracker.update(user(f"前6个：{PART}", "m1"))
        tracker.update(SlotSet("note", f"前6个：{PART}"))
        tracker.update(BotUttered("抱歉，这个问题我帮不上忙"))
        await store.save(tracker)
        assert await store.retrieve("alice") is tracker  # kept hot in this process

    asyncio.run(scenario())


def assert_hidden(store: SupportTrackerStore) -> None:
    tracker = asyncio.run(store.retrieve("alice"))
    assert tracker is not None
    texts = [event.text for event in tracker.events if isinstance(event, UserUttered)]
    assert texts == ["你好", f"前6个：{MARKER}"]
    assert tracker.latest_message is not None
    assert tracker.latest_message.parse_data["text"] == f"前6个：{MARKER}"
    assert tracker.get_slot("note") == f"前6个：{MARKER}"
    with store.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT data FROM events")).scalars().all()
    assert not any(trace.decode() in row for row in rows for trace in TRACES)


def test_the_stored_part_is_hidden_and_no_trace_stays_in_the_sqlite_files(tmp_path: Path) -> None:
    store = SupportTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path / 'tracker.db'}")
    converse(store)
    assert traces_in(tmp_path), "the scan finds the part before it is hidden"

    assert store.hide_text("alice", "m1", PART, MARKER) == 2  # the message and the slot
    assert_hidden(store)
    # Read while the store is open, as a copy of the disk would be: database, WAL, shared memory.
    assert {path.name for path in tmp_path.iterdir()} >= {"tracker.db", "tracker.db-wal"}
    assert traces_in(tmp_path) == []


def test_the_stored_part_is_hidden_on_postgresql(postgres: Postgres) -> None:
    store = SupportTrackerStore(DOMAIN, host=postgres.url("tracker"))
    try:
        converse(store)
        assert store.hide_text("alice", "m1", PART, MARKER) == 2
        assert_hidden(store)
    finally:
        store.engine.dispose()


def test_only_the_named_message_and_what_followed_change(tmp_path: Path) -> None:
    store = SupportTrackerStore(DOMAIN, host=f"sqlite:///{tmp_path / 'tracker.db'}")
    converse(store)
    assert store.hide_text("alice", "m0", "你好", MARKER) == 1
    assert store.hide_text("other-1", "o1-9", "普通的问题", MARKER) == 1


def traces_in(directory: Path) -> list[str]:
    return [
        path.name
        for path in directory.iterdir()
        if any(trace in path.read_bytes() for trace in TRACES)
    ]
