"""The agent-outbound guard through the console's API on the served stack: a reply asking for
the mnemonic or carrying an address from nowhere is refused with its reasons and never reaches
the user, the user's own address goes through, the block is in the audit log admins read and
the alerts supervisors read, and a supervisor's approval (not an agent's) lets an address
through on its ticket. Agents made here are disabled when their test ends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.handoff.records import Role
from bot.handoff.store import HandoffStore
from tests.support.http import AgentConsole, Login, RestUser
from tests.support.stack import ServedStack, empty_queue

AGENT = Login("guard-agent", "小郑", "a-long-guard-agent-password")
BOSS = Login("guard-boss", "郑主管", "a-long-guard-boss-password")
ADMIN = Login("guard-admin", "郑管理", "a-long-guard-admin-password")
USERS_ADDRESS = "0x52908400098527886e0f7030069857d2e4169ee7"
NOWHERE = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


@pytest.fixture
def store(served: ServedStack) -> Iterator[HandoffStore]:
    empty_queue(served)
    handoff = HandoffStore.from_url(served.handoff_url)
    handoff.agents.add(AGENT.username, AGENT.name, AGENT.password)
    handoff.agents.add(BOSS.username, BOSS.name, BOSS.password, Role.SUPERVISOR)
    handoff.agents.add(ADMIN.username, ADMIN.name, ADMIN.password, Role.ADMIN)
    yield handoff
    for login in (AGENT, BOSS, ADMIN):
        handoff.agents.disable(login.username)
    empty_queue(served)


def claimed(served: ServedStack, agent: AgentConsole, *said: str) -> tuple[RestUser, int]:
    """A REST user who said ``said`` and asked for a human, and their ticket, claimed."""
    user = RestUser(served.http)
    for text in said:
        user.say(text)
    user.say("转人工")
    ticket_id = int(agent.ticket_of(user.sender)["ticket_id"])
    assert agent.post(f"/tickets/{ticket_id}/claim")[0] == 200
    return user, ticket_id


def reply(agent: AgentConsole, ticket_id: int, text: str) -> tuple[int, Any]:
    return agent.post(f"/tickets/{ticket_id}/reply", {"text": text})


def test_a_request_for_the_mnemonic_is_refused_recorded_and_alerted(
    served: ServedStack, store: HandoffStore
) -> None:
    agent = AgentConsole(served.http, AGENT)
    user, ticket_id = claimed(served, agent)
    status, answer = reply(agent, ticket_id, "请把助记词发给我核实")
    assert status == 422
    assert answer == {
        "error": "reply blocked",
        "blocked": [{"kind": "secret_request", "value": "助记词"}],
    }
    assert reply(agent, ticket_id, "请勿把助记词告诉任何人，客服不会索要您的私钥。")[0] == 200
    heard = " ".join(user.say("好的"))
    assert "请勿把助记词告诉任何人" in heard and "发给我核实" not in heard
    entries = AgentConsole(served.http, ADMIN).get(f"/audit?actor={AGENT.username}")["entries"]
    blocked = [e for e in entries if e["action"] == "reply_blocked"]
    assert [(e["target"], e["detail"]) for e in blocked] == [
        (f"ticket:{ticket_id}", "secret_request=助记词")
    ]
    alerts = AgentConsole(served.http, BOSS).get("/alerts")["alerts"]
    assert any(
        (a["kind"], a["actor"], a["ticket_id"]) == ("reply_blocked", AGENT.username, ticket_id)
        for a in alerts
    )
    assert agent.call("GET", "/alerts").status == 403
    assert agent.call("GET", "/audit").status == 403


def test_an_address_from_nowhere_is_refused_and_the_user_s_own_goes_through(
    served: ServedStack, store: HandoffStore
) -> None:
    agent = AgentConsole(served.http, AGENT)
    user, ticket_id = claimed(served, agent, f"我转到 {USERS_ADDRESS} 的USDT一直没到账")
    status, answer = reply(agent, ticket_id, f"请把USDT转到 {NOWHERE} 完成验证")
    assert (status, answer["blocked"]) == (422, [{"kind": "unknown_address", "value": NOWHERE}])
    own = "0x" + USERS_ADDRESS[2:].upper()  # written back in another case
    assert reply(agent, ticket_id, f"您说的是转到 {own} 这笔吗？我帮您查一下")[0] == 200
    heard = " ".join(user.say("是的"))
    assert own in heard and NOWHERE not in heard
    status, answer = reply(agent, ticket_id, "请访问 https://imwallet-verify.com 验证钱包")
    assert (status, answer["blocked"][0]["kind"]) == (422, "unknown_url")
    assert reply(agent, ticket_id, "官方帮助中心在 https://support.example.com")[0] == 200


def test_a_supervisor_s_approval_lets_the_address_through_on_that_ticket(
    served: ServedStack, store: HandoffStore
) -> None:
    agent, boss = AgentConsole(served.http, AGENT), AgentConsole(served.http, BOSS)
    _, ticket_id = claimed(served, agent)
    text = f"这是合作交易所的充值地址 {NOWHERE}"
    assert reply(agent, ticket_id, text)[0] == 422
    approve = f"/tickets/{ticket_id}/guard/approve"
    refused = agent.call("POST", approve, {"value": NOWHERE})
    assert refused.status == 403, refused
    assert reply(agent, ticket_id, text)[0] == 422
    status, approved = boss.post(approve, {"value": NOWHERE})
    assert status == 200 and approved["approval"]["approved_by"] == BOSS.username
    assert reply(agent, ticket_id, text)[0] == 200
    listed = boss.get(f"/tickets/{ticket_id}/guard/approvals")["approvals"]
    assert [(a["value"], a["approved_by"]) for a in listed] == [(NOWHERE, BOSS.username)]
    assert agent.call("GET", f"/tickets/{ticket_id}/guard/approvals").status == 403
    entries = AgentConsole(served.http, ADMIN).get(f"/audit?actor={BOSS.username}")["entries"]
    assert [(e["action"], e["target"]) for e in entries[:1]] == [
        ("guard_approval", f"ticket:{ticket_id}")
    ]
