"""Two assistant servers on one PostgreSQL and one Redis (the session's production stack,
scripts/production_stack.py): whichever server a message reaches, the conversation, its lock, its
tickets and its widget are the same."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from bot.channels.widget import ROOMS_CHANNEL, conversation_of
from bot.wallet import demo_data
from scripts.local_stack import widget_token
from scripts.production_stack import ProductionStack
from tests.support.http import AgentConsole, Http, RestUser, WidgetUser

RACES = 8


@dataclass(frozen=True)
class Sent:
    """A request's send and answer times (monotonic) and the replies."""

    sent: float
    done: float
    replies: list[str]


@dataclass(frozen=True)
class Event:
    """A row of Rasa's ``events`` table."""

    id: int
    type_name: str
    timestamp: float
    data: dict[str, Any]

    @property
    def response(self) -> str | None:
        return self.data.get("metadata", {}).get("utter_action")


def stored_events(production: ProductionStack, sender: str) -> list[Event]:
    """The conversation's events as PostgreSQL holds them, in the order they were written."""
    engine = sa.create_engine(production.store_urls["TRACKER_DB_URL"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT id, type_name, timestamp, data FROM events"
                    " WHERE sender_id = :sender ORDER BY id"
                ),
                {"sender": sender},
            ).all()
    finally:
        engine.dispose()
    return [Event(row.id, row.type_name, row.timestamp, json.loads(row.data)) for row in rows]


def user_texts(events: list[Event]) -> list[str]:
    return [event.data["text"] for event in events if event.type_name == "user"]


def turns(events: list[Event]) -> list[list[Event]]:
    """The events from each user message up to the next one."""
    split: list[list[Event]] = []
    for event in events:
        if event.type_name == "user":
            split.append([])
        if split:
            split[-1].append(event)
    return split


class User:
    """A REST user who may reach either server, with the conversation token the first gave."""

    def __init__(self, stack: ProductionStack, sender: str) -> None:
        self.servers = [Http.to(url) for url in stack.base_urls]
        self.rest = RestUser(self.servers[0], sender)
        self.sender = sender

    def say(self, server: int, text: str, message_id: str | None = None) -> list[str]:
        return self.rest.say(text, message_id=message_id, via=self.servers[server])


def console(stack: ProductionStack, server: int) -> AgentConsole:
    """An agent on one server's console API."""
    return AgentConsole(Http.to(stack.base_urls[server]))


def agent_post(agent: AgentConsole, path: str, body: Any = None) -> Any:
    status, answer = agent.post(path, body)
    assert status == 200, answer
    return answer


def test_a_form_continues_on_whichever_server_gets_the_next_message(
    production: ProductionStack,
) -> None:
    user = User(production, "production-alternating")
    started = user.say(0, "我要投诉")
    assert "登记投诉" in started[0] and started[-1] == "请选择投诉类型："
    assert user.say(1, "费用问题")[0].startswith("请简单说说发生了什么")
    filed = user.say(0, "转账手续费比页面上显示的多扣了")
    assert "已为您登记投诉，工单号" in filed[0] and "已为您转接人工客服" in filed[1]

    events = stored_events(production, user.sender)
    assert user_texts(events) == ["我要投诉", "费用问题", "转账手续费比页面上显示的多扣了"]
    assert [e.response for e in events if e.type_name == "bot"] == [
        "utter_complaint",
        "utter_ask_complaint_category",
        "utter_ask_complaint_description",
        "utter_complaint_filed",
        "utter_handoff_queued",
    ]
    assert [e.type_name for e in events].count("session_started") == 1
    timestamps = [e.timestamp for e in events]
    assert timestamps == sorted(timestamps)


def test_simultaneous_messages_to_two_servers_are_processed_one_after_the_other(
    production: ProductionStack,
) -> None:
    # The same message twice: both servers reach the lock at the same moment, and its turn calls
    # the action server, long enough for overlapping turns to show in the events' timestamps.
    text = "我的转账一直没到账"

    def send(user: User, barrier: threading.Barrier, server: int) -> Sent:
        barrier.wait()
        sent = time.monotonic()
        replies = user.say(server, text)
        return Sent(sent, time.monotonic(), replies)

    # A race is short: several conversations give it several chances (each has its own rate
    # limit, so none is refused).
    with ThreadPoolExecutor(max_workers=2) as pool:
        for attempt in range(RACES):
            user = User(production, f"production-simultaneous-{attempt}")
            user.say(0, "你好")  # the session exists before the race
            barrier = threading.Barrier(2)
            first, second = [pool.submit(send, user, barrier, server) for server in (0, 1)]
            one, other = first.result(), second.result()
            assert one.replies and one.replies == other.replies
            # The requests overlapped: the servers really had both messages at once.
            assert one.sent < other.done and other.sent < one.done

            events = stored_events(production, user.sender)
            assert user_texts(events) == ["你好", text, text]
            earlier, later = turns(events)[1:]
            # Each turn is whole (the same events, up to listening again)...
            assert [e.type_name for e in earlier] == [e.type_name for e in later]
            assert "bot" in [e.type_name for e in earlier]
            assert earlier[-1].data.get("name") == later[-1].data.get("name") == "action_listen"
            # ... and over before the next one starts (user events are made under the lock).
            assert later[0].timestamp >= earlier[-1].timestamp, f"turns overlap in race {attempt}"


def test_an_agent_on_one_server_reaches_a_widget_on_another_at_once(
    production: ProductionStack,
) -> None:
    conversation = conversation_of(demo_data.CAROL, production.nodes[0].identity_secret.encode())
    widget = WidgetUser(production.base_urls[0])

    async def scenario() -> float:
        assert await widget.open(widget_token(demo_data.CAROL))
        try:
            await widget.client.emit("user_uttered", {"message": "转人工"})
            await widget.text_with("转接人工客服", 30)
            agent = await asyncio.to_thread(console, production, 1)
            ticket = await asyncio.to_thread(agent.ticket_of, conversation)
            assert ticket["channel"] == "widget"
            await asyncio.to_thread(agent_post, agent, f"/tickets/{ticket['ticket_id']}/claim")
            sent = time.monotonic()
            await asyncio.to_thread(
                agent_post,
                agent,
                f"/tickets/{ticket['ticket_id']}/reply",
                {"text": "跨服务器推送给网页用户"},
            )
            await widget.text_with("跨服务器推送给网页用户", 5)
            latency = time.monotonic() - sent
            await asyncio.to_thread(
                agent_post, agent, f"/tickets/{ticket['ticket_id']}/close", {"note": "test"}
            )
            return latency
        finally:
            await widget.close()

    latency = asyncio.run(scenario())
    print(f"agent reply reached the widget on the other server {latency * 1000:.0f} ms after")
    assert "跨服务器推送给网页用户" in [m.get("text") for m in widget.messages]


def test_a_ticket_opened_on_one_server_is_handled_from_another(production: ProductionStack) -> None:
    user = User(production, "production-ticket")
    assert "已为您转接人工客服" in user.say(0, "我要人工客服")[0]
    agent = console(production, 1)
    ticket = agent.ticket_of(user.sender)
    assert ticket["state"] == "queued" and ticket["channel"] == "rest"
    agent_post(agent, f"/tickets/{ticket['ticket_id']}/claim")
    agent_post(agent, f"/tickets/{ticket['ticket_id']}/reply", {"text": "我是小李，请讲"})
    # The reply waits in the shared outbox and comes back through the first server.
    assert "我是小李，请讲" in user.say(0, "有人吗")
    agent_post(agent, f"/tickets/{ticket['ticket_id']}/close", {"note": "test"})


def test_a_message_resent_to_the_other_server_is_answered_again_but_stored_once(
    production: ProductionStack,
) -> None:
    user = User(production, "production-resent")
    first = user.say(0, "矿工费怎么算", message_id="resent-1")
    assert "矿工费" in first[0]
    assert user.say(1, "矿工费怎么算", message_id="resent-1") == first

    events = stored_events(production, user.sender)
    assert user_texts(events) == ["矿工费怎么算"]
    assert [e.data.get("message_id") for e in events if e.type_name == "user"] == ["resent-1"]
    assert [e.response for e in events if e.type_name == "bot"] == ["utter_network_fee"]


class MakesDirectory:
    """Unpickling this calls os.mkdir(path): what python-socketio 5.9's Redis listener ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.mkdir, (str(self.path),)


def test_a_pickle_published_on_the_widget_channel_runs_nothing(
    production: ProductionStack, tmp_path: Path
) -> None:
    """Whoever can PUBLISH to the Redis of REDIS_URL must not run code in the servers."""
    marker = tmp_path / "unpickled"
    conversation = conversation_of(demo_data.BOB, production.nodes[0].identity_secret.encode())
    # Any JSON message a server of the channel relays: it arrives after the pickle, so once the
    # widget has it, every server has read the pickle too.
    sentinel = {
        "method": "emit",
        "event": "bot_uttered",
        "data": {"text": "sentinel"},
        "namespace": "/",
        "room": conversation,
        "host_id": "test",
    }

    widget = WidgetUser(production.base_urls[0])

    async def scenario() -> None:
        assert await widget.open(widget_token(demo_data.BOB), timeout=30)
        try:
            publisher = redis.Redis.from_url(production.store_urls["REDIS_URL"])
            try:
                # Servers subscribe with their first widget: at least this client's one.
                assert publisher.publish(ROOMS_CHANNEL, pickle.dumps(MakesDirectory(marker))) >= 1
                publisher.publish(ROOMS_CHANNEL, json.dumps(sentinel))
            finally:
                publisher.close()
            await widget.text_with("sentinel", 10)
            # The servers still work: a turn's reply travels through the same channel.
            await widget.client.emit("user_uttered", {"message": "矿工费怎么算"})
            await widget.text_with("矿工费", 30)
        finally:
            await widget.close()

    asyncio.run(scenario())
    assert not marker.exists(), "a server unpickled a message from Redis"
    assert any("矿工费" in str(m.get("text")) for m in widget.messages)


def test_redis_needs_its_password_and_every_server_part_has_it(production: ProductionStack) -> None:
    url = production.store_urls["REDIS_URL"]
    assert production.redis is not None and f":{production.redis.password}@" in url
    anonymous = redis.Redis(host="127.0.0.1", port=production.redis.port, socket_timeout=2)
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.publish(ROOMS_CHANNEL, b"{}")
    finally:
        anonymous.close()
    # Locks and socket.io rooms fail loudly without it (the tests above); rate limits would let
    # everything through, so their buckets must be in Redis.
    User(production, "production-redis-password").say(0, "你好")
    client = redis.Redis.from_url(url)
    try:
        assert client.keys("im:rate:sender:production-redis-password")
    finally:
        client.close()


def mapped_files(pid: int) -> str:
    """The files process ``pid`` has mapped (its shared libraries among them)."""
    return Path(f"/proc/{pid}/maps").read_text()


def test_the_servers_answer_without_tensorflow_in_memory(production: ProductionStack) -> None:
    """bot/serving.py: the servers' pipeline never uses TensorFlow, so they leave it out."""
    for node in production.nodes:
        assert node.rasa is not None
        assert RestUser(Http.to(node.base_url)).say("矿工费是什么"), "the server gave no answer"
        maps = mapped_files(node.rasa.pid)
        assert "spacy" in maps or "numpy" in maps, "not the Rasa server's memory map"
        assert "tensorflow" not in maps and "jaxlib" not in maps
