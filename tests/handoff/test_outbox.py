from __future__ import annotations

from bot.handoff.store import HandoffStore


def test_outbox_hands_each_message_over_once_in_order(store: HandoffStore) -> None:
    store.outbox.post("c1", {"text": "一"})
    store.outbox.post("c1", {"text": "二"})
    store.outbox.post("c2", {"text": "别人的"})
    assert [m["text"] for m in store.outbox.collect("c1")] == ["一", "二"]
    assert store.outbox.collect("c1") == []
