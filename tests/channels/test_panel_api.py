"""The account panel through the console's API on the served stack (its queue emptied first): a
widget user identified as demo-alice asks for a human, the agent who claims the ticket sees the
account masked and reveals one value with a reason the admins read in the audit log; other
agents are refused, supervisors see any ticket's panel, an anonymous user's ticket has none, an
audit log that cannot be written shows nothing, and a supervisor opening panel after panel is
reported to the supervisors. The agents made here never go online (the desk assigns them
nothing) and are disabled when the module ends."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from bot.channels.widget import conversation_of
from bot.handoff.audit import PANEL_REVEAL, PANEL_VIEW, VIEW_ALERT
from bot.handoff.records import Presence, Reason, Role, Summary, Team, Ticket
from bot.handoff.store import HandoffStore
from bot.wallet import demo_data
from scripts.local_stack import widget_token
from tests.support.http import AgentConsole, Login, RestUser, WidgetUser
from tests.support.stack import ServedStack, empty_queue

AGENT = Login("panel-agent", "面板小王", "a-long-panel-password-1")
OTHER = Login("panel-other", "面板小赵", "a-long-panel-password-2")
LEAD = Login("panel-lead", "面板主管", "a-long-panel-password-3")
WATCHER = Login("panel-watcher", "面板主管二", "a-long-panel-password-4")
ADMIN = Login("panel-admin", "面板管理员", "a-long-panel-password-5")
ROLES = {
    AGENT: Role.AGENT,
    OTHER: Role.AGENT,
    LEAD: Role.SUPERVISOR,
    WATCHER: Role.SUPERVISOR,
    ADMIN: Role.ADMIN,
}
# Whole identifiers of demo-alice's that the masked panel must not hold.
ALICE_WHOLE = (
    "13812345678",
    "alice@example.com",
    demo_data.ALICE_ETH,
    demo_data.ALICE_TRON,
    demo_data.EXCHANGE_ETH,
    demo_data.EXCHANGE_TRON,
    demo_data.TX_CONFIRMED,
    demo_data.TX_PENDING_FRESH,
    demo_data.TX_INCOMING,
    demo_data.TX_PENDING_LOW_FEE,
)


@pytest.fixture(scope="module")
def people(served: ServedStack) -> Iterator[dict[Login, AgentConsole]]:
    """Two agents (general team), two supervisors and an admin, logged in, never online."""
    store = HandoffStore.from_url(served.handoff_url)
    for login, role in ROLES.items():
        store.agents.add(login.username, login.name, login.password, role, (Team.GENERAL,))
    try:
        yield {login: AgentConsole(served.http, login) for login in ROLES}
    finally:
        for login in ROLES:
            store.agents.disable(login.username)
            store.roster.heartbeat(login.username, Presence.OFFLINE)


@pytest.fixture
def stack(served: ServedStack) -> Iterator[ServedStack]:
    empty_queue(served)
    yield served
    empty_queue(served)


@pytest.fixture
def store(stack: ServedStack) -> HandoffStore:
    return HandoffStore.from_url(stack.handoff_url)


def alice_ticket(store: HandoffStore, agent: str | None = AGENT.username) -> Ticket:
    """A ticket of demo-alice's (as the widget's handoff opens one), claimed by ``agent``."""
    ticket = store.tickets.open(
        f"panel-{uuid.uuid4().hex}", "widget", Reason.REQUESTED, Summary(), account_id="demo-alice"
    )
    if agent is not None:
        assert store.tickets.claim(ticket.ticket_id, agent) is not None
    return ticket


def entries(admin: AgentConsole, actor: str, action: str) -> list[dict[str, Any]]:
    found = admin.get(f"/audit?actor={actor}&limit=1000")["entries"]
    return [entry for entry in found if entry["action"] == action]


def test_a_widget_user_s_panel_is_masked_and_a_reveal_with_a_reason_is_in_the_audit_log(
    stack: ServedStack, store: HandoffStore, people: dict[Login, AgentConsole]
) -> None:
    conversation = conversation_of(demo_data.ALICE, stack.identity_secret.encode())

    async def ask_for_a_human() -> None:
        widget = WidgetUser(stack.base_url)
        assert await widget.open(widget_token(demo_data.ALICE))
        try:
            await widget.client.emit("user_uttered", {"message": "帮我转人工"})
            await widget.text_with("转接人工客服", timeout=15)
        finally:
            await widget.close()

    asyncio.run(ask_for_a_human())
    ticket = store.tickets.open_for(conversation)
    assert ticket is not None
    agent, admin = people[AGENT], people[ADMIN]
    path = f"/tickets/{ticket.ticket_id}/account"
    assert agent.call("GET", path).status == 403  # queued: not theirs yet
    assert agent.post(f"/tickets/{ticket.ticket_id}/claim")[0] == 200

    answer = agent.call("GET", path)
    assert answer.status == 200, answer
    for whole in ALICE_WHOLE:
        assert whole not in answer.text
    assert "demo-alice" not in answer.text and "explorer" not in answer.text
    panel = answer.json()["panel"]
    assert (panel["account"], panel["phone"], panel["email"], panel["two_factor"]) == (
        "dem***",
        "138****5678",
        "a***@example.com",
        False,
    )
    assert any(d["new_device"] and d["location"] == "Lagos, NG" for d in panel["devices"])
    confirmed = next(t for t in panel["transfers"] if t["status"] == "confirmed")
    assert confirmed["tx_hash"] == f"{demo_data.TX_CONFIRMED[:4]}…{demo_data.TX_CONFIRMED[-4:]}"
    viewed = entries(admin, AGENT.username, PANEL_VIEW)[0]
    assert (viewed["target"], viewed["detail"]) == (f"ticket:{ticket.ticket_id}", "dem***")

    asked = {"field": "tx_hash", "ref": confirmed["ref"]}
    for reason in (None, "", "  看  "):
        status, refused = agent.post(f"{path}/reveal", {**asked, "reason": reason})
        assert status == 400 and "reason" in refused["error"]
        assert demo_data.TX_CONFIRMED not in json.dumps(refused)
    assert entries(admin, AGENT.username, PANEL_REVEAL) == []

    reason = "用户称转账未到账，核对交易哈希"
    status, revealed = agent.post(f"{path}/reveal", {**asked, "reason": reason})
    assert status == 200
    assert revealed == {
        "field": "tx_hash",
        "ref": confirmed["ref"],
        "value": demo_data.TX_CONFIRMED,
        "explorer_link": f"https://tronscan.org/#/transaction/{demo_data.TX_CONFIRMED}",
    }
    status, phone = agent.post(f"{path}/reveal", {"field": "phone", "reason": "核对身份后回电"})
    assert (status, phone["value"]) == (200, "13812345678")
    recorded = entries(admin, AGENT.username, PANEL_REVEAL)
    assert [e["target"] for e in recorded] == [f"ticket:{ticket.ticket_id}"] * 2
    assert reason in recorded[1]["detail"] and "field=tx_hash" in recorded[1]["detail"]
    assert "核对身份后回电" in recorded[0]["detail"] and "field=phone" in recorded[0]["detail"]
    assert demo_data.TX_CONFIRMED not in json.dumps(recorded)
    # Agents do not read the audit log.
    assert agent.call("GET", "/audit").status == 403


def test_another_agent_is_refused_and_a_supervisor_sees_any_ticket_s_panel(
    store: HandoffStore, people: dict[Login, AgentConsole]
) -> None:
    mine = alice_ticket(store)
    queued = alice_ticket(store, agent=None)
    other, lead = people[OTHER], people[LEAD]
    for ticket in (mine, queued):
        path = f"/tickets/{ticket.ticket_id}/account"
        refused = other.call("GET", path)
        assert refused.status == 403 and "panel" not in refused.json()
        status, _ = other.post(f"{path}/reveal", {"field": "phone", "reason": "我想看看号码"})
        assert status == 403
        seen = lead.call("GET", path)
        assert seen.status == 200 and seen.json()["panel"]["account"] == "dem***"
    status, shown = lead.post(
        f"/tickets/{queued.ticket_id}/account/reveal", {"field": "email", "reason": "主管复核"}
    )
    assert (status, shown["value"]) == (200, "alice@example.com")
    assert other.call("GET", f"/tickets/{mine.ticket_id}").status == 403
    assert other.call("GET", "/tickets/999999999/account").status == 404


def test_an_anonymous_user_s_ticket_has_no_panel(
    stack: ServedStack, store: HandoffStore, people: dict[Login, AgentConsole]
) -> None:
    user = RestUser(stack.http)
    user.say("转人工")
    ticket = store.tickets.open_for(user.sender)
    assert ticket is not None and ticket.account_id is None
    agent = people[AGENT]
    assert agent.post(f"/tickets/{ticket.ticket_id}/claim")[0] == 200
    answer = agent.call("GET", f"/tickets/{ticket.ticket_id}/account")
    assert answer.status == 409 and "not identified" in answer.json()["error"]
    status, _ = agent.post(
        f"/tickets/{ticket.ticket_id}/account/reveal", {"field": "phone", "reason": "核对身份"}
    )
    assert status == 409


def test_nothing_is_shown_while_the_audit_log_cannot_be_written(
    stack: ServedStack, store: HandoffStore, people: dict[Login, AgentConsole]
) -> None:
    ticket = alice_ticket(store)
    agent, lead = people[AGENT], people[LEAD]
    path = f"/tickets/{ticket.ticket_id}/account"
    ref = agent.get(path)["panel"]["transfers"][0]["ref"]
    # Every insert into the audit log fails while the trigger is there.
    engine = sa.create_engine(stack.handoff_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TRIGGER panel_test_audit_down BEFORE INSERT ON handoff_audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit log down'); END"
            )
        )
    try:
        for console in (agent, lead):
            viewed = console.call("GET", path)
            assert viewed.status == 503 and "audit" in viewed.json()["error"]
            assert "panel" not in viewed.json()
            for asked in (
                {"field": "phone"},
                {"field": "tx_hash", "ref": ref},
                {"field": "counterparty", "ref": ref},
            ):
                answer = console.call("POST", f"{path}/reveal", {**asked, "reason": "核对转账"})
                assert answer.status == 503 and "value" not in answer.json()
                for whole in ALICE_WHOLE:
                    assert whole not in answer.text
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TRIGGER panel_test_audit_down"))
        engine.dispose()
    assert agent.call("GET", path).status == 200  # recorded again, shown again


def test_a_supervisor_opening_more_than_20_panels_in_10_minutes_is_alerted(
    store: HandoffStore, people: dict[Login, AgentConsole]
) -> None:
    watcher, admin = people[WATCHER], people[ADMIN]
    tickets = [alice_ticket(store, agent=None) for _ in range(3)]

    def alerted() -> list[dict[str, Any]]:
        found = admin.get("/alerts")["alerts"]
        return [a for a in found if a["actor"] == WATCHER.username]

    for n in range(VIEW_ALERT):
        assert watcher.call("GET", f"/tickets/{tickets[n % 3].ticket_id}/account").status == 200
    assert alerted() == []
    assert watcher.call("GET", f"/tickets/{tickets[0].ticket_id}/account").status == 200
    [alert] = alerted()
    assert alert["kind"] == "unusual_viewing"
    assert people[LEAD].get("/alerts")["alerts"][0]["actor"] == WATCHER.username
    assert people[AGENT].call("GET", "/alerts").status == 403
