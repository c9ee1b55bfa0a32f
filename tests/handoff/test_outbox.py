"""The outbox hands each waiting message over once, oldest first, also when two servers collect
for one conversation at the same moment (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.handoff.store import HandoffStore


def test_outbox_hands_each_message_over_once_in_order(store: HandoffStore) -> None:
    store.outbox.post("c1", {"text": "一"})
    store.outbox.post("c1", {"text": "二"})
    store.outbox.post("c2", {"text": "别人的"})
    assert [m["text"] for m in store.outbox.collect("c1")] == ["一", "二"]
    assert store.outbox.collect("c1") == []
    assert [m["text"] for m in store.outbox.collect("c2")] == ["别人的"]


@pytest.fixture(params=["sqlite", "postgresql"])
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[HandoffStore]]:
    """Four servers' handoff stores on one database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'handoff.db'}"
    else:
        url = request.getfixturevalue("postgres").url("tracker")
    stores = [HandoffStore.from_url(url) for _ in range(4)]
    yield stores
    for store in stores:
        store.engine.dispose()


def test_servers_collecting_at_once_hand_each_message_over_once(
    servers: list[HandoffStore],
) -> None:
    """Agents' replies keep arriving while four servers take the user's requests."""
    posted = [f"第{n}条" for n in range(200)]
    taken: list[list[str]] = [[] for _ in servers]
    posting = threading.Event()
    posting.set()

    def post() -> None:
        for text in posted:
            servers[0].outbox.post("busy", {"text": text})
        posting.clear()

    def collect(number: int) -> None:
        while posting.is_set():
            taken[number] += [m["text"] for m in servers[number].outbox.collect("busy")]
        taken[number] += [m["text"] for m in servers[number].outbox.collect("busy")]

    threads = [threading.Thread(target=post)] + [
        threading.Thread(target=collect, args=(n,)) for n in range(len(servers))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [text for texts in taken for text in texts]
    assert sorted(every) == sorted(posted)  # none lost, none twice
    for texts in taken:
        assert texts == sorted(texts, key=posted.index)  # each server's share in order
