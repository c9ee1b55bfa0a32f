"""Transfer watches on the production stack: two servers on one PostgreSQL and one Redis, both
with a watcher, tell each watching user once, within the target, on the REST outbox."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import redis

from bot.care.watcher import LEASE_KEY
from bot.care.watches import WatchSettings, WatchStore
from bot.handoff.store import HandoffStore
from bot.privacy import mask_hash
from bot.wallet.demo_chain import set_fresh_transfer
from bot.wallet.demo_data import ALICE, TX_PENDING_FRESH
from bot.wallet.records import TxStatus
from scripts.production_stack import ProductionStack

TARGET_SECONDS = 10


def test_two_servers_tell_each_watching_user_once(production: ProductionStack) -> None:
    urls = production.store_urls
    watches = WatchStore.from_url(urls["HANDOFF_DB_URL"], WatchSettings())
    outbox = HandoffStore.from_url(urls["HANDOFF_DB_URL"]).outbox
    conversations = [f"production-watch-{time.time_ns()}-{n}" for n in range(5)]
    for conversation in conversations:
        watches.start(
            conversation_id=conversation,
            channel="rest",
            account_id=ALICE,
            tx_hash=TX_PENDING_FRESH,
            chain="TRON",
            status=TxStatus.PENDING,
            now=datetime.now(timezone.utc),
        )
    handed_over: dict[str, list[str]] = {conversation: [] for conversation in conversations}
    try:
        set_fresh_transfer(urls["WALLET_DB_URL"], TxStatus.CONFIRMED)
        changed = time.monotonic()
        waiting = set(conversations)
        while waiting and time.monotonic() - changed < TARGET_SECONDS:
            for conversation in list(waiting):
                texts = [str(m.get("text")) for m in outbox.collect(conversation)]
                handed_over[conversation] += texts
                if texts:
                    waiting.discard(conversation)
            time.sleep(0.05)
        assert not waiting, f"not told within {TARGET_SECONDS} s: {sorted(waiting)}"
        time.sleep(3)  # both servers poll again meanwhile
        for conversation in conversations:
            handed_over[conversation] += [str(m.get("text")) for m in outbox.collect(conversation)]
    finally:
        # The demo transfer as other tests know it.
        set_fresh_transfer(urls["WALLET_DB_URL"], TxStatus.PENDING)
    update = "您关注的转账（" + mask_hash(TX_PENDING_FRESH)
    for conversation, texts in handed_over.items():
        assert sum(text.startswith(update) for text in texts) == 1, (conversation, texts)
    assert production.redis is not None
    lease = redis.Redis.from_url(production.redis.url).get(LEASE_KEY)
    assert lease, "one server holds the watcher's lease"
