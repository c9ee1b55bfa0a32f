"""Faults during a load run on the production setup: every message answered once, none lost.

Two servers on PostgreSQL and Redis (the session's production stack, scripts/production_stack.py).
The clients behave like the app behind a round-robin load balancer (scripts/round_robin.py): each
message goes to the next server, and a message whose server cannot be reached is resent, with
the same message_id, to the other one. A slow wallet backend is tried on the served stack.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import sqlalchemy as sa

from bot.wallet import demo_data
from scripts.local_stack import widget_token
from scripts.production_stack import ProductionStack
from scripts.round_robin import rest_turn
from tests.support.http import Http, WidgetUser
from tests.support.stack import ServedStack, actions_with
from tests.support.wallet_backend import BackendServer

TRY_AGAIN = "刚才这条消息没能处理"
ACTION_FAILED = "系统开了个小差"
BACKEND_DOWN = "系统暂时查不到您的账户信息"
# Questions Rasa answers alone (no action server, no wallet).
FAQ = [
    "人工客服几点上班",
    "怎么备份助记词",
    "矿工费怎么算",
    "你们支持哪些币",
    "怎么创建钱包",
    "充值提币要多久到账",
    "支付密码忘了怎么办",
    "怎么保护账户安全",
]


@dataclass
class Load:
    """Conversations of FAQ turns sent through both servers, and what each message got back."""

    urls: Sequence[str]
    conversations: int
    turns: int
    prefix: str
    answers: dict[str, list[list[str]]] = field(default_factory=dict)

    async def run(self, pause: float = 0.05) -> None:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._one(session, n, pause) for n in range(self.conversations)))

    async def _one(self, session: aiohttp.ClientSession, number: int, pause: float) -> None:
        sender = f"{self.prefix}-{number}"
        self.answers[sender] = []
        for turn in range(self.turns):
            body = {"sender": sender, "message": FAQ[turn % len(FAQ)], "message_id": f"{turn}"}
            replies = await rest_turn(session, self.urls, number + turn, body)
            self.answers[sender].append([str(r.get("text", "")) for r in replies or []])
            await asyncio.sleep(pause)


def stored_turns(url: str, sender: str) -> list[tuple[str, int]]:
    """The conversation's user messages in stored order: (message_id, bot messages after it)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"),
            {"s": sender},
        ).fetchall()
    engine.dispose()
    turns: list[tuple[str, int]] = []
    for type_name, data in rows:
        if type_name == "user":
            turns.append((json.loads(data)["message_id"], 0))
        elif type_name == "bot" and turns:
            turns[-1] = (turns[-1][0], turns[-1][1] + 1)
    return turns


def test_killing_a_server_loses_no_message_and_answers_none_twice(
    production: ProductionStack,
) -> None:
    victim = production.nodes[0]
    load = Load(production.rest_urls, conversations=12, turns=8, prefix="kill")

    async def scenario() -> None:
        running = asyncio.ensure_future(load.run())
        await asyncio.sleep(1.5)
        assert victim.rasa is not None
        os.kill(victim.rasa.pid, signal.SIGKILL)
        await running

    try:
        asyncio.run(scenario())
    finally:
        victim.rasa = None
        victim.start_rasa()
    tracker_url = production.store_urls["TRACKER_DB_URL"]
    for sender, answers in load.answers.items():
        assert all(answers), f"{sender} got no answer to a message: {answers}"
        turns = stored_turns(tracker_url, sender)
        assert [message_id for message_id, _ in turns] == [str(n) for n in range(8)], sender
        assert all(bot_messages >= 1 for _, bot_messages in turns), (sender, turns)
        # A resent message replays the first answer: the same text, never a second turn.
        assert [len(a) for a in answers] == [count for _, count in turns], (sender, answers)


def test_a_stopped_action_server_gets_an_apology_until_it_is_back(
    production: ProductionStack,
) -> None:
    # Anonymous (REST): the transfer check still needs the action server.
    body = {
        "sender": "faults-actions",
        "message": f"这笔转账一直pending {demo_data.TX_PENDING_LOW_FEE}",
    }

    async def ask(url: str) -> str:
        async with aiohttp.ClientSession() as session:
            replies = await rest_turn(session, [url], 0, body)
        return " ".join(str(r.get("text", "")) for r in replies or [])

    for node in production.nodes:
        node.stop_actions()
    try:
        assert ACTION_FAILED in asyncio.run(ask(production.rest_urls[0]))
        assert ACTION_FAILED in asyncio.run(ask(production.rest_urls[1]))
    finally:
        for node in production.nodes:
            node.start_actions()
    answer = asyncio.run(ask(production.rest_urls[1]))
    assert ACTION_FAILED not in answer and "矿工费" in answer


def test_restarting_postgresql_loses_no_ticket_and_no_answered_message(
    production: ProductionStack,
) -> None:
    assert production.postgres is not None
    load = Load(production.rest_urls, conversations=10, turns=12, prefix="pg")

    async def scenario() -> None:
        running = asyncio.ensure_future(load.run(pause=0.1))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(production.postgres.restart)
        await running

    asyncio.run(scenario())
    tracker_url = production.store_urls["TRACKER_DB_URL"]
    for sender, answers in load.answers.items():
        stored = dict(stored_turns(tracker_url, sender))
        for turn, replies in enumerate(answers):
            if TRY_AGAIN in " ".join(replies):
                continue  # not processed, and the user was told to send it again
            else:
                assert replies, f"{sender} turn {turn} got nothing"
                assert stored.get(str(turn), 0) >= 1, f"{sender} turn {turn} answered, not stored"
    # Tickets written before and after the restart are all there.
    before = _ask_for_human(production, "pg-ticket-before")
    production.postgres.restart()
    after = _ask_for_human(production, "pg-ticket-after")
    engine = sa.create_engine(production.store_urls["HANDOFF_DB_URL"])
    with engine.connect() as connection:
        conversations = {
            row[0]
            for row in connection.execute(sa.text("SELECT conversation_id FROM handoff_tickets"))
        }
    engine.dispose()
    assert {before, after} <= conversations


def _ask_for_human(production: ProductionStack, sender: str) -> str:
    async def ask() -> list[dict[str, Any]] | None:
        async with aiohttp.ClientSession() as session:
            body = {"sender": sender, "message": "转人工"}
            return await rest_turn(session, production.rest_urls, 0, body)

    replies = asyncio.run(ask())
    assert replies and "人工客服" in json.dumps(replies, ensure_ascii=False)
    return sender


def test_a_slow_wallet_backend_gets_the_apology_within_the_timeout(served: ServedStack) -> None:
    settings = {"WALLET_BACKEND_TIMEOUT": "1", "WALLET_BACKEND_RETRIES": "1"}
    with BackendServer.running(token="fault-token") as backend:
        backend.delay = 20.0
        with actions_with(served, {**backend.env(), **settings}):

            async def ask(number: int) -> tuple[float, str]:
                """A user proven by the widget (REST is anonymous) asks about a transfer."""
                widget = WidgetUser(served.base_url)
                assert await widget.open(widget_token(f"slow-{number}", minutes=30))
                try:
                    started = time.monotonic()
                    message = f"这笔转账一直pending {demo_data.TX_PENDING_LOW_FEE}"
                    await widget.client.emit("user_uttered", {"message": message})
                    reply = await widget.text(20)
                    return time.monotonic() - started, reply
                finally:
                    await widget.close()

            async def load() -> list[tuple[float, str]]:
                return list(await asyncio.gather(*(ask(n) for n in range(8))))

            for seconds, text in asyncio.run(load()):
                assert BACKEND_DOWN in text
                assert seconds < 6, f"answered after {seconds:.1f}s"


def test_a_database_outage_is_an_apology_an_error_and_a_metric(production: ProductionStack) -> None:
    assert production.postgres is not None
    node = production.nodes[1]

    async def say(text: str) -> str:
        async with aiohttp.ClientSession() as session:
            body = {"sender": "faults-outage", "message": text}
            replies = await rest_turn(session, [node.rest_url], 0, body)
        return " ".join(str(r.get("text", "")) for r in replies or [])

    assert "矿工费" in asyncio.run(say("矿工费怎么算"))
    production.postgres.kill()
    try:
        assert TRY_AGAIN in asyncio.run(say("人工客服几点上班"))
    finally:
        production.postgres.restart()
    metrics = Http.to(node.base_url).get("/metrics", timeout=10).text
    assert 'im_failed_turns_total{reason="tracker_store"}' in metrics
    assert "turn failed in conversation faults-outage" in (node.workdir / "rasa.log").read_text()
    # Back: the conversation goes on where it was, nothing of it lost.
    assert "人工客服" in asyncio.run(say("人工客服几点上班"))
    turns = stored_turns(production.store_urls["TRACKER_DB_URL"], "faults-outage")
    assert len(turns) == 2 and all(bot_messages >= 1 for _, bot_messages in turns)
