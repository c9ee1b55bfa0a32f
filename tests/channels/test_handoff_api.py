"""Human handoff end to end: a running Rasa server and action server, the agent API, a user on
REST and a user on socket.io."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from bot.channels.widget import conversation_of
from bot.handoff.records import Reason, State
from bot.handoff.store import HandoffStore
from bot.wallet import demo_data
from scripts.local_stack import LocalStack, widget_token
from tests.support.stack import ALWAYS_OPEN

PASSWORD = "a-long-agent-password"


def call(
    url: str, body: Any = None, token: str | None = None, method: str | None = None
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


class User:
    """A user of the REST channel, keeping the conversation token the first reply gives."""

    def __init__(self, stack: LocalStack, sender: str) -> None:
        self.stack, self.sender = stack, sender
        self.token: str | None = None

    def say(self, text: str) -> list[str]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["X-Conversation-Token"] = self.token
        body = json.dumps({"sender": self.sender, "message": text}).encode()
        request = urllib.request.Request(self.stack.rest_url, data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            self.token = self.token or response.headers.get("X-Conversation-Token")
            messages = json.loads(response.read())
        return [m.get("text", "") for m in messages]


class Console:
    """An agent using the console's JSON API."""

    def __init__(self, stack: LocalStack) -> None:
        self.api = f"{stack.base_url}/webhooks/agent/api"
        status, body = call(f"{self.api}/login", {"username": "li", "password": PASSWORD})
        assert status == 200
        self.token = body["token"]

    def get(self, path: str) -> Any:
        status, body = call(f"{self.api}{path}", token=self.token)
        assert status == 200, body
        return body

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        return call(f"{self.api}{path}", body or {}, token=self.token, method="POST")

    def ticket_of(self, conversation_id: str) -> dict[str, Any]:
        tickets = [
            t for t in self.get("/queue")["tickets"] if t["conversation_id"] == conversation_id
        ]
        assert tickets, f"no open ticket for {conversation_id}"
        return tickets[0]


def make_stack(workdir: Path, **settings: str) -> LocalStack:
    stack = LocalStack(workdir, settings={"SUPPORT_HOURS": ALWAYS_OPEN, **settings})
    stack.seed()
    HandoffStore.from_url(stack.handoff_url).agents.add("li", "小李", PASSWORD)
    stack.start_actions()
    stack.start_rasa()
    return stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = make_stack(tmp_path_factory.mktemp("handoff"))
    try:
        yield local
    finally:
        local.stop_all()


def test_agent_endpoints_reject_unauthenticated_requests(stack: LocalStack) -> None:
    api = f"{stack.base_url}/webhooks/agent/api"
    for path, method in [
        ("/queue", "GET"),
        ("/tickets/1", "GET"),
        ("/tickets/1/claim", "POST"),
        ("/tickets/1/reply", "POST"),
        ("/tickets/1/close", "POST"),
        ("/logout", "POST"),
    ]:
        for token in (None, "forged-token"):
            status, _ = call(
                api + path, {} if method == "POST" else None, token=token, method=method
            )
            assert status == 401, (path, token)
    assert call(f"{api}/login", {"username": "li", "password": "wrong"})[0] == 401


def test_fallback_twice_to_agent_and_back_with_a_rating(stack: LocalStack) -> None:
    user = User(stack, "handoff-rest-1")
    assert "您是想问" in " ".join(user.say("怎么回事"))
    queued = user.say("啥意思")
    assert "已为您转接人工客服" in queued[0]

    console = Console(stack)
    ticket = console.ticket_of(user.sender)
    assert ticket["reason"] == "fallback" and ticket["state"] == "queued"
    assert ticket["summary"]["last_messages"] == ["怎么回事", "啥意思"]

    status, claimed = console.post(f"/tickets/{ticket['ticket_id']}/claim")
    assert status == 200 and claimed["ticket"]["agent"] == "li"
    assert (
        console.post(
            f"/tickets/{ticket['ticket_id']}/reply", {"text": "您好，我是小李，请问遇到什么问题？"}
        )[0]
        == 200
    )

    # REST cannot push: the agent's messages come back with the user's next request, and the
    # bot itself says nothing while the agent owns the conversation.
    replies = user.say("我的U提到交易所没到")
    assert replies == [
        "人工客服 小李 已接入，请问有什么可以帮您？",
        "您好，我是小李，请问遇到什么问题？",
    ]
    transcript = console.get(f"/tickets/{ticket['ticket_id']}")["transcript"]
    assert transcript[-1] == {**transcript[-1], "role": "user", "text": "我的U提到交易所没到"}
    assert [line["role"] for line in transcript[-3:]] == ["bot", "agent", "user"]

    status, closed = console.post(
        f"/tickets/{ticket['ticket_id']}/close", {"note": "已核实，交易所入账延迟"}
    )
    assert status == 200 and closed["ticket"]["state"] == "closed"
    assert all(t["conversation_id"] != user.sender for t in console.get("/queue")["tickets"])
    rating_question = user.say("好的")
    assert any("打个分" in text for text in rating_question)
    assert user.say('/rate{"rating":"5"}') == ["感谢您的评价！还有问题随时找我。"]
    stored = HandoffStore.from_url(stack.handoff_url).tickets.last_closed_for(user.sender)
    assert (
        stored is not None and stored.rating == 5 and stored.close_note == "已核实，交易所入账延迟"
    )
    assert "您好，我是IM钱包智能客服" in user.say("你好")[0]  # the bot is back


def test_a_ticket_cannot_be_claimed_twice_or_answered_unclaimed(stack: LocalStack) -> None:
    user = User(stack, "handoff-rest-2")
    user.say("我要人工客服")
    console = Console(stack)
    ticket = console.ticket_of(user.sender)
    assert console.post(f"/tickets/{ticket['ticket_id']}/reply", {"text": "hi"})[0] == 409
    assert console.post(f"/tickets/{ticket['ticket_id']}/claim")[0] == 200
    assert console.post(f"/tickets/{ticket['ticket_id']}/claim")[0] == 409
    assert console.post(f"/tickets/{ticket['ticket_id']}/reply", {"text": " "})[0] == 400
    console.post(f"/tickets/{ticket['ticket_id']}/close", {"note": ""})


def test_waiting_users_can_cancel(stack: LocalStack) -> None:
    user = User(stack, "handoff-rest-3")
    user.say("转人工")
    assert user.say("不用了") == ["好的，已取消排队，我继续为您服务。有问题随时问我。"]
    store = HandoffStore.from_url(stack.handoff_url)
    assert store.tickets.open_for(user.sender) is None
    assert "矿工费" in user.say("矿工费怎么算")[0]


def test_tickets_and_the_paused_conversation_survive_a_server_restart(stack: LocalStack) -> None:
    user = User(stack, "handoff-restart")
    user.say("我要找人工")
    stack.stop_rasa()
    stack.start_rasa()
    console = Console(stack)
    ticket = console.ticket_of(user.sender)
    assert ticket["state"] == "queued"
    # Still waiting for a human: the bot says where the user is in the queue, nothing more.
    waiting = user.say("有人吗")
    assert len(waiting) == 1 and waiting[0].startswith("您仍在排队，第 ")
    console.post(f"/tickets/{ticket['ticket_id']}/claim")
    console.post(f"/tickets/{ticket['ticket_id']}/reply", {"text": "重启后也能收到"})
    assert "重启后也能收到" in user.say("收到了吗")
    console.post(f"/tickets/{ticket['ticket_id']}/close", {"note": "restart"})


def test_agent_replies_are_pushed_to_socketio_users_at_once(stack: LocalStack) -> None:
    received: list[str] = []

    async def scenario() -> None:
        client = socketio.AsyncClient()
        got_reply = asyncio.Event()

        @client.on("bot_uttered")
        async def on_bot(message: dict[str, Any]) -> None:
            received.append(message.get("text", ""))
            if message.get("text") == "推送给网页用户":
                got_reply.set()

        token = widget_token(demo_data.CAROL)
        await client.connect(
            stack.base_url,
            socketio_path="/socket.io",
            transports=["polling"],
            auth={"token": token},
        )
        await client.emit("user_uttered", {"message": "帮我转人工"})
        for _ in range(50):
            if any("转接人工客服" in text for text in received):
                break
            await asyncio.sleep(0.2)
        assert any("转接人工客服" in text for text in received), "bot replies must reach socket.io"
        console = await asyncio.to_thread(Console, stack)
        ticket = await asyncio.to_thread(
            console.ticket_of, conversation_of(demo_data.CAROL, stack.identity_secret.encode())
        )
        assert ticket["channel"] == "widget"
        await asyncio.to_thread(console.post, f"/tickets/{ticket['ticket_id']}/claim")
        await asyncio.to_thread(
            console.post, f"/tickets/{ticket['ticket_id']}/reply", {"text": "推送给网页用户"}
        )
        await asyncio.wait_for(got_reply.wait(), timeout=10)
        await client.disconnect()

    asyncio.run(scenario())
    assert "推送给网页用户" in received


def test_users_nobody_picks_up_are_told_and_offered_email(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    local = make_stack(
        tmp_path_factory.mktemp("pickup"),
        HANDOFF_PICKUP_MINUTES="0.02",
        HANDOFF_WATCH_SECONDS="0.5",
    )
    try:
        user = User(local, "handoff-timeout")
        user.say("转人工客服")
        time.sleep(3)
        later = user.say("还要等多久")
        assert any("发邮件" in text and "还没能接入" in text for text in later)
        ticket = HandoffStore.from_url(local.handoff_url).tickets.open_for(user.sender)
        assert (
            ticket is not None
            and ticket.state is State.QUEUED
            and ticket.reason is Reason.REQUESTED
        )
    finally:
        local.stop_all()
