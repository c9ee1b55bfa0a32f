"""Two assistant servers on one PostgreSQL and one Redis (scripts/production_stack.py): whichever
server a message reaches, the conversation, its lock, its tickets and its widget are the same."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import socketio
import sqlalchemy as sa

from bot.channels.widget import ROOMS_CHANNEL, conversation_of
from bot.handoff.store import HandoffStore
from bot.wallet import demo_data
from scripts.local_stack import widget_token
from scripts.production_stack import ProductionStack
from tests.channels.test_handoff_api import call
from tests.conftest import ALWAYS_OPEN

PASSWORD = "a-long-agent-password"
RACES = 8


@dataclass(frozen=True)
class Sent:
    """A request's send and answer times (monotonic) and the replies."""

    sent: float
    done: float
    replies: list[str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionStack]:
    started = time.monotonic()
    production = ProductionStack(
        tmp_path_factory.mktemp("production"), servers=2, settings={"SUPPORT_HOURS": ALWAYS_OPEN}
    )
    with production:
        print(f"production stack started in {time.monotonic() - started:.1f}s")
        HandoffStore.from_url(production.store_urls["HANDOFF_DB_URL"]).agents.add(
            "li", "小李", PASSWORD
        )
        yield production


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


def stored_events(stack: ProductionStack, sender: str) -> list[Event]:
    """The conversation's events as PostgreSQL holds them, in the order they were written."""
    engine = sa.create_engine(stack.store_urls["TRACKER_DB_URL"])
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
        self.stack, self.sender = stack, sender
        self.token: str | None = None

    def say(self, server: int, text: str, message_id: str | None = None) -> list[str]:
        body: dict[str, Any] = {"sender": self.sender, "message": text}
        if message_id:
            body["message_id"] = message_id
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["X-Conversation-Token"] = self.token
        request = urllib.request.Request(
            self.stack.rest_urls[server], data=json.dumps(body).encode(), headers=headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            self.token = self.token or response.headers.get("X-Conversation-Token")
            messages = json.loads(response.read())
        return [message.get("text", "") for message in messages]


class Console:
    """An agent on one server's console API."""

    def __init__(self, stack: ProductionStack, server: int) -> None:
        self.api = f"{stack.base_urls[server]}/webhooks/agent/api"
        status, body = call(f"{self.api}/login", {"username": "li", "password": PASSWORD})
        assert status == 200, body
        self.token = body["token"]

    def get(self, path: str) -> Any:
        status, body = call(f"{self.api}{path}", token=self.token)
        assert status == 200, body
        return body

    def post(self, path: str, body: Any = None) -> Any:
        status, answer = call(f"{self.api}{path}", body or {}, token=self.token, method="POST")
        assert status == 200, answer
        return answer

    def ticket_of(self, conversation_id: str) -> dict[str, Any]:
        tickets = [
            t for t in self.get("/queue")["tickets"] if t["conversation_id"] == conversation_id
        ]
        assert tickets, f"no open ticket for {conversation_id}"
        return tickets[0]


def test_a_form_continues_on_whichever_server_gets_the_next_message(
    stack: ProductionStack,
) -> None:
    user = User(stack, "production-alternating")
    started = user.say(0, "我要投诉")
    assert "登记投诉" in started[0] and started[-1] == "请选择投诉类型："
    assert user.say(1, "费用问题")[0].startswith("请简单说说发生了什么")
    filed = user.say(0, "转账手续费比页面上显示的多扣了")
    assert "已为您登记投诉，工单号" in filed[0] and "已为您转接人工客服" in filed[1]

    events = stored_events(stack, user.sender)
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
    stack: ProductionStack,
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
            user = User(stack, f"production-simultaneous-{attempt}")
            user.say(0, "你好")  # the session exists before the race
            barrier = threading.Barrier(2)
            first, second = [pool.submit(send, user, barrier, server) for server in (0, 1)]
            one, other = first.result(), second.result()
            assert one.replies and one.replies == other.replies
            # The requests overlapped: the servers really had both messages at once.
            assert one.sent < other.done and other.sent < one.done

            events = stored_events(stack, user.sender)
            assert user_texts(events) == ["你好", text, text]
            earlier, later = turns(events)[1:]
            # Each turn is whole (the same events, up to listening again)...
            assert [e.type_name for e in earlier] == [e.type_name for e in later]
            assert "bot" in [e.type_name for e in earlier]
            assert earlier[-1].data.get("name") == later[-1].data.get("name") == "action_listen"
            # ... and over before the next one starts (user events are made under the lock).
            assert later[0].timestamp >= earlier[-1].timestamp, f"turns overlap in race {attempt}"


def test_an_agent_on_one_server_reaches_a_widget_on_another_at_once(
    stack: ProductionStack,
) -> None:
    received: list[str] = []
    conversation = conversation_of(demo_data.CAROL, stack.nodes[0].identity_secret.encode())

    async def scenario() -> float:
        client = socketio.AsyncClient()
        queued, answered = asyncio.Event(), asyncio.Event()

        @client.on("bot_uttered")
        async def on_bot(message: dict[str, Any]) -> None:
            text = message.get("text", "")
            received.append(text)
            if "转接人工客服" in text:
                queued.set()
            if text == "跨服务器推送给网页用户":
                answered.set()

        await client.connect(
            stack.base_urls[0],
            socketio_path="/socket.io",
            transports=["polling"],
            auth={"token": widget_token(demo_data.CAROL)},
        )
        try:
            await client.emit("user_uttered", {"message": "转人工"})
            await asyncio.wait_for(queued.wait(), timeout=30)
            console = await asyncio.to_thread(Console, stack, 1)
            ticket = await asyncio.to_thread(console.ticket_of, conversation)
            assert ticket["channel"] == "widget"
            await asyncio.to_thread(console.post, f"/tickets/{ticket['ticket_id']}/claim")
            sent = time.monotonic()
            await asyncio.to_thread(
                console.post,
                f"/tickets/{ticket['ticket_id']}/reply",
                {"text": "跨服务器推送给网页用户"},
            )
            await asyncio.wait_for(answered.wait(), timeout=5)
            latency = time.monotonic() - sent
            await asyncio.to_thread(
                console.post, f"/tickets/{ticket['ticket_id']}/close", {"note": "test"}
            )
            return latency
        finally:
            await client.disconnect()

    latency = asyncio.run(scenario())
    print(f"agent reply reached the widget on the other server {latency * 1000:.0f} ms after")
    assert "跨服务器推送给网页用户" in received


def test_a_ticket_opened_on_one_server_is_handled_from_another(stack: ProductionStack) -> None:
    user = User(stack, "production-ticket")
    assert "已为您转接人工客服" in user.say(0, "我要人工客服")[0]
    console = Console(stack, 1)
    ticket = console.ticket_of(user.sender)
    assert ticket["state"] == "queued" and ticket["channel"] == "rest"
    console.post(f"/tickets/{ticket['ticket_id']}/claim")
    console.post(f"/tickets/{ticket['ticket_id']}/reply", {"text": "我是小李，请讲"})
    # The reply waits in the shared outbox and comes back through the first server.
    assert "我是小李，请讲" in user.say(0, "有人吗")
    console.post(f"/tickets/{ticket['ticket_id']}/close", {"note": "test"})


def test_a_message_resent_to_the_other_server_is_answered_again_but_stored_once(
    stack: ProductionStack,
) -> None:
    user = User(stack, "production-resent")
    first = user.say(0, "矿工费怎么算", message_id="resent-1")
    assert "矿工费" in first[0]
    assert user.say(1, "矿工费怎么算", message_id="resent-1") == first

    events = stored_events(stack, user.sender)
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
    stack: ProductionStack, tmp_path: Path
) -> None:
    """Whoever can PUBLISH to the Redis of REDIS_URL must not run code in the servers."""
    marker = tmp_path / "unpickled"
    conversation = conversation_of(demo_data.BOB, stack.nodes[0].identity_secret.encode())
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

    async def scenario() -> list[str]:
        received: list[str] = []
        client = socketio.AsyncClient()
        connected, sentinel_seen, answered = asyncio.Event(), asyncio.Event(), asyncio.Event()
        client.on("history", lambda _: connected.set())

        @client.on("bot_uttered")
        async def on_bot(message: dict[str, Any]) -> None:
            received.append(message.get("text", ""))
            (sentinel_seen if message.get("text") == "sentinel" else answered).set()

        await client.connect(
            stack.base_urls[0],
            socketio_path="/socket.io",
            transports=["polling"],
            auth={"token": widget_token(demo_data.BOB)},
        )
        try:
            await asyncio.wait_for(connected.wait(), timeout=30)
            publisher = redis.Redis.from_url(stack.store_urls["REDIS_URL"])
            try:
                # Servers subscribe with their first widget: at least this client's one.
                assert publisher.publish(ROOMS_CHANNEL, pickle.dumps(MakesDirectory(marker))) >= 1
                publisher.publish(ROOMS_CHANNEL, json.dumps(sentinel))
            finally:
                publisher.close()
            await asyncio.wait_for(sentinel_seen.wait(), timeout=10)
            # The servers still work: a turn's reply travels through the same channel.
            await client.emit("user_uttered", {"message": "矿工费怎么算"})
            await asyncio.wait_for(answered.wait(), timeout=30)
        finally:
            await client.disconnect()
        return received

    received = asyncio.run(scenario())
    assert not marker.exists(), "a server unpickled a message from Redis"
    assert any("矿工费" in text for text in received)


def test_redis_needs_its_password_and_every_server_part_has_it(stack: ProductionStack) -> None:
    url = stack.store_urls["REDIS_URL"]
    assert stack.redis is not None and f":{stack.redis.password}@" in url
    anonymous = redis.Redis(host="127.0.0.1", port=stack.redis.port, socket_timeout=2)
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.publish(ROOMS_CHANNEL, b"{}")
    finally:
        anonymous.close()
    # Locks and socket.io rooms fail loudly without it (the tests above); rate limits would let
    # everything through, so their buckets must be in Redis.
    User(stack, "production-redis-password").say(0, "你好")
    client = redis.Redis.from_url(url)
    try:
        assert client.keys("im:rate:sender:production-redis-password")
    finally:
        client.close()
