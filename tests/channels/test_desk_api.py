"""The agent desk through the console's API on the served stack: automatic assignment by team,
notes users never see, tags, transfer, canned replies, search scope and the admins' management
of agents. Agents made here go offline (and are disabled) when their test ends, so the shared
stack's other tests keep a desk nobody is assigned from."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from bot.handoff.records import Presence, Role, State, Team
from bot.handoff.store import HandoffStore
from tests.support.http import CONSOLE_API, AgentConsole, Login, RestUser
from tests.support.stack import ServedStack, empty_queue

ASSIGNED_WITHIN = 15.0  # the dispatcher runs every 2 s
GENERAL = Login("desk-general", "小周", "a-long-desk-password-1")
SECURITY = Login("desk-security", "安全组小吴", "a-long-desk-password-2")
ADMIN = Login("desk-admin", "管理员老陈", "a-long-desk-password-3")


@pytest.fixture
def stack(served: ServedStack) -> ServedStack:
    empty_queue(served)
    return served


@pytest.fixture
def store(stack: ServedStack) -> HandoffStore:
    return HandoffStore.from_url(stack.handoff_url)


@pytest.fixture
def desk(stack: ServedStack, store: HandoffStore) -> Iterator[dict[str, AgentConsole]]:
    """An admin, a general agent and a security agent, the two agents online."""
    store.agents.add(ADMIN.username, ADMIN.name, ADMIN.password, Role.ADMIN)
    store.agents.add(GENERAL.username, GENERAL.name, GENERAL.password)
    store.agents.add(SECURITY.username, SECURITY.name, SECURITY.password, teams=(Team.SECURITY,))
    consoles = {
        login.username: AgentConsole(stack.http, login) for login in (ADMIN, GENERAL, SECURITY)
    }
    for name in (GENERAL.username, SECURITY.username):
        assert consoles[name].post("/presence", {"presence": "online"})[0] == 200
    try:
        yield consoles
    finally:
        for login in (ADMIN, GENERAL, SECURITY):
            store.agents.disable(login.username)
            store.roster.heartbeat(login.username, Presence.OFFLINE)
        empty_queue(stack)


def assigned(store: HandoffStore, sender: str) -> Any:
    deadline = time.monotonic() + ASSIGNED_WITHIN
    while time.monotonic() < deadline:
        ticket = store.tickets.open_for(sender)
        if ticket is not None and ticket.state is State.ASSIGNED:
            return ticket
        time.sleep(0.2)
    raise AssertionError(f"{sender}'s ticket was not assigned within {ASSIGNED_WITHIN} s")


def test_a_theft_then_a_request_for_a_human_goes_to_the_security_team_first(
    stack: ServedStack, store: HandoffStore, desk: dict[str, AgentConsole]
) -> None:
    routine = RestUser(stack.http)
    routine.say("转人工")
    victim = RestUser(stack.http)
    victim.say("我的钱包被盗了，U全被转走了")
    told = victim.say("转人工")
    assert any("已为您转接人工客服" in text for text in told), told
    ticket = assigned(store, victim.sender)
    assert (ticket.urgency.value, ticket.team, ticket.agent) == (
        "urgent",
        Team.SECURITY,
        SECURITY.username,
    )
    assert assigned(store, routine.sender).agent == GENERAL.username
    mine = desk[SECURITY.username].get("/queue?mine=1")["tickets"]
    assert [t["ticket_id"] for t in mine] == [ticket.ticket_id]
    assert ticket.ticket_id not in {
        t["ticket_id"] for t in desk[GENERAL.username].get("/queue?mine=1")["tickets"]
    }
    joined = victim.say("在吗")  # the REST outbox hands over what was pushed meanwhile
    assert any(SECURITY.name in text for text in joined), joined


def test_notes_stay_internal_and_a_transfer_reaches_the_other_team(
    stack: ServedStack, store: HandoffStore, desk: dict[str, AgentConsole]
) -> None:
    user = RestUser(stack.http)
    user.say("转人工")
    ticket = assigned(store, user.sender)
    general = desk[GENERAL.username]
    assert ticket.agent == GENERAL.username
    path = f"/tickets/{ticket.ticket_id}"
    secret_note = "内部备注：疑似钓鱼授权，勿告知用户"
    assert general.post(f"{path}/notes", {"text": secret_note})[0] == 200
    assert general.post(f"{path}/notes", {"text": "长" * 5000})[0] == 400
    assert general.post(f"{path}/tags", {"tags": ["授权风险"]})[0] == 200
    status, moved = general.post(
        f"{path}/transfer", {"team": "security", "note": "用户提到授权，转安全组"}
    )
    assert status == 200 and moved["ticket"]["state"] == "queued"
    again = assigned(store, user.sender)
    assert again.agent == SECURITY.username
    seen = desk[SECURITY.username].get(path)
    assert [n["kind"] for n in seen["notes"]] == ["note", "transfer"]
    assert seen["notes"][1]["target"] == "team:security" and seen["ticket"]["tags"] == ["授权风险"]
    said = " ".join(user.say("好的"))
    assert "转接" in said and "内部备注" not in said
    transcript = " ".join(line["text"] for line in seen["transcript"])
    assert "内部备注" not in transcript
    # The former agent can no longer act on it.
    assert general.post(f"{path}/notes", {"text": "还在吗"})[0] == 409
    assert general.post(f"{path}/close", {"note": ""})[0] == 409


def test_a_canned_reply_is_filled_in_for_the_ticket(
    stack: ServedStack, store: HandoffStore, desk: dict[str, AgentConsole]
) -> None:
    admin, general = desk[ADMIN.username], desk[GENERAL.username]
    status, made = admin.post(
        "/canned",
        {
            "shortcut": "ticket",
            "text": "您的工单号是 {ticket_number}，账户 {masked_account}",
            "team": "general",
        },
    )
    assert status == 200
    reply_id, revision = made["reply"]["reply_id"], made["reply"]["revision"]
    assert general.post("/canned", {"shortcut": "t2", "text": "x", "team": "general"})[0] == 403
    user = RestUser(stack.http)
    user.say("转人工")
    ticket = assigned(store, user.sender)
    found = general.get("/canned?q=tick")["replies"]
    assert [r["shortcut"] for r in found] == ["ticket"] and found[0]["editable"] is False
    filled = general.get(f"/tickets/{ticket.ticket_id}/canned/{reply_id}")
    assert filled["text"].startswith(f"您的工单号是 #{ticket.ticket_id}")
    assert filled["missing"] == ["masked_account"]  # an anonymous REST user has no account
    # Two supervisors editing at once: the second save is refused, nothing is overwritten.
    edit = {"shortcut": "ticket", "text": "新版本 {ticket_number}", "revision": revision}
    assert admin.post(f"/canned/{reply_id}", edit)[0] == 200
    status, conflict = admin.post(f"/canned/{reply_id}", {**edit, "text": "旧版本"})
    assert status == 409 and conflict["current"]["text"] == "新版本 {ticket_number}"


def test_search_finds_only_what_the_agent_may_see(
    stack: ServedStack, store: HandoffStore, desk: dict[str, AgentConsole]
) -> None:
    user = RestUser(stack.http)
    user.say("我的币被盗了")
    user.say("转人工")
    ticket = assigned(store, user.sender)
    security = desk[SECURITY.username]
    assert (
        security.post(f"/tickets/{ticket.ticket_id}/reply", {"text": "您好，我来帮您处理"})[0]
        == 200
    )

    def found(console: AgentConsole) -> set[int]:
        hits = console.get(f"/search?q={quote('被盗')}")["results"]
        return {hit["ticket"]["ticket_id"] for hit in hits}

    # The same agents worked earlier tests' tickets: only this one matters here.
    assert ticket.ticket_id in found(security)
    assert ticket.ticket_id not in found(desk[GENERAL.username])
    assert ticket.ticket_id in found(desk[ADMIN.username])


def test_admins_manage_agents_and_a_disabled_agent_is_out_at_once(
    stack: ServedStack, store: HandoffStore, desk: dict[str, AgentConsole]
) -> None:
    admin, general = desk[ADMIN.username], desk[GENERAL.username]
    assert general.call("GET", "/admin/agents").status == 403
    new = {
        "username": "desk-new",
        "display_name": "<b>新人</b>",
        "password": "a-long-new-password",
        "role": "agent",
        "teams": ["general", "security"],
        "capacity": 5,
    }
    status, made = admin.post("/admin/agents", new)
    assert status == 200 and made["agent"]["teams"] == ["general", "security"]
    assert made["agent"]["display_name"] == "<b>新人</b>"  # stored as typed, shown as text
    assert admin.post("/admin/agents", new)[0] == 409
    assert admin.post("/admin/agents", {**new, "username": "x", "capacity": 0})[0] == 400
    assert admin.post("/admin/agents", {**new, "username": "x", "password": "short"})[0] == 400
    status, changed = admin.post("/admin/agents/desk-new", {"capacity": 2, "role": "supervisor"})
    assert status == 200 and (changed["agent"]["capacity"], changed["agent"]["role"]) == (
        2,
        "supervisor",
    )
    assert admin.post(f"/admin/agents/{ADMIN.username}/disable")[0] == 400

    user = RestUser(stack.http)
    user.say("转人工")
    ticket = assigned(store, user.sender)
    holder = desk.get(ticket.agent)
    assert holder is general
    status, disabled = admin.post(f"/admin/agents/{GENERAL.username}/disable")
    assert status == 200 and disabled["released"] == [ticket.ticket_id]
    assert general.call("GET", "/queue").status == 401  # the session ended at once
    assert (
        stack.http.post(
            f"{CONSOLE_API}/login",
            json={"username": GENERAL.username, "password": GENERAL.password},
        ).status
        == 401
    )
    assert assigned(store, user.sender).agent == SECURITY.username  # anyone online, none left
    store.agents.delete("desk-new")
