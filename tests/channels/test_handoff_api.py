"""Human handoff end to end on the served stack (its queue emptied first): the agent API, a user
on REST and a user of the widget (socket.io), and tickets across a restart; the pickup watchdog
on a Rasa server in process that waits a moment only."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.channels.widget import conversation_of
from bot.handoff.records import Reason, State
from bot.handoff.store import HandoffStore
from bot.wallet import demo_data
from scripts.local_stack import widget_token
from tests.support.http import AGENT, CONSOLE_API, AgentConsole, RestUser, WidgetUser
from tests.support.stack import ALWAYS_OPEN, ServedStack, empty_queue, running_stack


@pytest.fixture
def stack(served: ServedStack) -> ServedStack:
    empty_queue(served)
    return served


def test_agent_endpoints_reject_unauthenticated_requests(stack: ServedStack) -> None:
    for path, method in [
        ("/queue", "GET"),
        ("/tickets/1", "GET"),
        ("/tickets/1/claim", "POST"),
        ("/tickets/1/reply", "POST"),
        ("/tickets/1/close", "POST"),
        ("/logout", "POST"),
    ]:
        for token in (None, "forged-token"):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            body = b"{}" if method == "POST" else None
            answer = stack.http.request(method, f"{CONSOLE_API}{path}", body, headers=headers)
            assert answer.status == 401, (path, token)
    wrong = {"username": AGENT.username, "password": "wrong"}
    assert stack.http.post(f"{CONSOLE_API}/login", json=wrong).status == 401


def test_fallback_twice_to_agent_and_back_with_a_rating(stack: ServedStack) -> None:
    user = RestUser(stack.http, "handoff-rest-1")
    assert "您是想问" in " ".join(user.say("怎么回事"))
    queued = user.say("啥意思")
    assert "已为您转接人工客服" in queued[0]

    console = AgentConsole(stack.http)
    ticket = console.ticket_of(user.sender)
    assert ticket["reason"] == "fallback" and ticket["state"] == "queued"
    assert ticket["summary"]["last_messages"] == ["怎么回事", "啥意思"]

    status, claimed = console.post(f"/tickets/{ticket['ticket_id']}/claim")
    assert status == 200 and claimed["ticket"]["agent"] == AGENT.username
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


def test_a_ticket_cannot_be_claimed_twice_or_answered_unclaimed(stack: ServedStack) -> None:
    user = RestUser(stack.http, "handoff-rest-2")
    user.say("我要人工客服")
    console = AgentConsole(stack.http)
    ticket = console.ticket_of(user.sender)
    assert console.post(f"/tickets/{ticket['ticket_id']}/reply", {"text": "hi"})[0] == 409
    assert console.post(f"/tickets/{ticket['ticket_id']}/claim")[0] == 200
    assert console.post(f"/tickets/{ticket['ticket_id']}/claim")[0] == 409
    assert console.post(f"/tickets/{ticket['ticket_id']}/reply", {"text": " "})[0] == 400
    console.post(f"/tickets/{ticket['ticket_id']}/close", {"note": ""})


def test_waiting_users_can_cancel(stack: ServedStack) -> None:
    user = RestUser(stack.http, "handoff-rest-3")
    user.say("转人工")
    assert user.say("不用了") == ["好的，已取消排队，我继续为您服务。有问题随时问我。"]
    store = HandoffStore.from_url(stack.handoff_url)
    assert store.tickets.open_for(user.sender) is None
    assert "矿工费" in user.say("矿工费怎么算")[0]


def test_tickets_and_the_paused_conversation_survive_a_server_restart(stack: ServedStack) -> None:
    user = RestUser(stack.http, "handoff-restart")
    user.say("我要找人工")
    stack.stop_rasa()
    stack.start_rasa()
    console = AgentConsole(stack.http)
    ticket = console.ticket_of(user.sender)
    assert ticket["state"] == "queued"
    # Still waiting for a human: the bot says where the user is in the queue, nothing more.
    waiting = user.say("有人吗")
    assert len(waiting) == 1 and waiting[0].startswith("您仍在排队，第 ")
    console.post(f"/tickets/{ticket['ticket_id']}/claim")
    console.post(f"/tickets/{ticket['ticket_id']}/reply", {"text": "重启后也能收到"})
    assert "重启后也能收到" in user.say("收到了吗")
    console.post(f"/tickets/{ticket['ticket_id']}/close", {"note": "restart"})


def test_agent_replies_are_pushed_to_widget_users_at_once(stack: ServedStack) -> None:
    async def scenario() -> None:
        widget = WidgetUser(stack.base_url)
        assert await widget.open(widget_token(demo_data.CAROL))
        try:
            await widget.client.emit("user_uttered", {"message": "帮我转人工"})
            # The bot's replies reach the widget.
            await widget.text_with("转接人工客服", timeout=10)
            console = await asyncio.to_thread(AgentConsole, stack.http)
            ticket = await asyncio.to_thread(
                console.ticket_of, conversation_of(demo_data.CAROL, stack.identity_secret.encode())
            )
            assert ticket["channel"] == "widget"
            await asyncio.to_thread(console.post, f"/tickets/{ticket['ticket_id']}/claim")
            await asyncio.to_thread(
                console.post, f"/tickets/{ticket['ticket_id']}/reply", {"text": "推送给网页用户"}
            )
            assert await widget.text_with("推送给网页用户", timeout=10) == "推送给网页用户"
        finally:
            await widget.close()

    asyncio.run(scenario())


def test_users_nobody_picks_up_are_told_and_offered_email(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = {
        "SUPPORT_HOURS": ALWAYS_OPEN,
        "HANDOFF_PICKUP_MINUTES": "0.02",
        "HANDOFF_WATCH_SECONDS": "0.5",
    }
    with running_stack(
        tmp_path_factory.mktemp("pickup"), in_process=True, settings=settings
    ) as local:
        user = RestUser(local.http, "handoff-timeout")
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
