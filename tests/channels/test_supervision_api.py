"""Who sees what at the desk, through the console's API on the served stack: an agent opens
their own tickets and their team's waiting ones only, the figures are for supervisors, logins
and closes are in the audit log admins read, and a ticket's transcript is its own time window.
Agents made here are disabled when their test ends."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest

from bot.handoff.records import Role, Team
from bot.handoff.store import HandoffStore
from tests.support.http import CONSOLE_API, AgentConsole, Login, RestUser
from tests.support.stack import ServedStack, empty_queue

ONE = Login("sup-one", "小一", "a-long-password-one")
TWO = Login("sup-two", "小二", "a-long-password-two")
GUARD = Login("sup-security", "安全组小三", "a-long-password-three")
BOSS = Login("sup-boss", "王主管", "a-long-password-boss")
ADMIN = Login("sup-admin", "陈管理", "a-long-password-admin")


@pytest.fixture
def store(served: ServedStack) -> Iterator[HandoffStore]:
    empty_queue(served)
    handoff = HandoffStore.from_url(served.handoff_url)
    handoff.agents.add(ONE.username, ONE.name, ONE.password)
    handoff.agents.add(TWO.username, TWO.name, TWO.password)
    handoff.agents.add(GUARD.username, GUARD.name, GUARD.password, teams=(Team.SECURITY,))
    handoff.agents.add(BOSS.username, BOSS.name, BOSS.password, Role.SUPERVISOR)
    handoff.agents.add(ADMIN.username, ADMIN.name, ADMIN.password, Role.ADMIN)
    yield handoff
    for login in (ONE, TWO, GUARD, BOSS, ADMIN):
        handoff.agents.disable(login.username)
    empty_queue(served)


def test_an_agent_opens_only_their_own_and_their_team_s_waiting_tickets(
    served: ServedStack, store: HandoffStore
) -> None:
    one, two = AgentConsole(served.http, ONE), AgentConsole(served.http, TWO)
    guard, boss = AgentConsole(served.http, GUARD), AgentConsole(served.http, BOSS)
    user = RestUser(served.http)
    user.say("转人工")
    ticket = one.ticket_of(user.sender)
    path = f"/tickets/{ticket['ticket_id']}"
    assert two.call("GET", path).status == 200  # waiting in their team's queue: to take it
    assert guard.call("GET", path).status == 403  # another team's
    assert ticket["ticket_id"] not in {t["ticket_id"] for t in guard.get("/queue")["tickets"]}
    assert one.post(f"{path}/claim")[0] == 200
    assert one.call("GET", path).status == 200
    refused = two.call("GET", path)
    assert refused.status == 403 and "another agent" in refused.json()["error"]
    assert boss.call("GET", path).status == 200
    queued = {t["ticket_id"] for t in two.get("/queue")["tickets"]}
    assert ticket["ticket_id"] not in queued  # nor its last messages in the queue's preview
    assert ticket["ticket_id"] in {t["ticket_id"] for t in boss.get("/queue")["tickets"]}
    assert one.post(f"{path}/close", {"note": "done"})[0] == 200
    assert one.call("GET", path).status == 200  # they held it
    assert two.call("GET", path).status == 403


def test_the_figures_are_for_supervisors_and_admins(
    served: ServedStack, store: HandoffStore
) -> None:
    assert AgentConsole(served.http, ONE).call("GET", "/insight").status == 403
    assert served.http.get(f"{CONSOLE_API}/insight").status == 401
    assert AgentConsole(served.http, BOSS).call("GET", "/insight").status == 200
    assert AgentConsole(served.http, ADMIN).call("GET", "/insight").status == 200


def test_logins_and_closes_are_in_the_audit_log_only_admins_read(
    served: ServedStack, store: HandoffStore
) -> None:
    one = AgentConsole(served.http, ONE)
    user = RestUser(served.http)
    user.say("转人工")
    ticket = one.ticket_of(user.sender)
    one.post(f"/tickets/{ticket['ticket_id']}/claim")
    one.post(f"/tickets/{ticket['ticket_id']}/close", {"note": "已帮用户核对"})
    admin = AgentConsole(served.http, ADMIN)
    entries = admin.get(f"/audit?actor={ONE.username}")["entries"]
    assert [(e["action"], e["target"]) for e in entries[:2]] == [
        ("close", f"ticket:{ticket['ticket_id']}"),
        ("login", "127.0.0.1"),
    ]
    assert entries[0]["detail"] == "已帮用户核对"
    for who in (one, AgentConsole(served.http, BOSS)):
        assert who.call("GET", "/audit").status == 403
        assert who.call("GET", "/audit.csv").status == 403
    export = admin.call("GET", f"/audit.csv?actor={ONE.username}")
    assert export.status == 200 and export.content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:4] == ["entry_id", "at", "actor", "action"] and len(rows) == len(entries) + 1


def test_a_ticket_s_transcript_is_its_own_time_window(
    served: ServedStack, store: HandoffStore
) -> None:
    one = AgentConsole(served.http, ONE)
    user = RestUser(served.http)
    user.say("第一次的问题：gas费多少")
    user.say("转人工")
    first = one.ticket_of(user.sender)
    one.post(f"/tickets/{first['ticket_id']}/claim")
    one.post(f"/tickets/{first['ticket_id']}/close", {"note": ""})
    user.say("5")
    user.say("第二次：转账一直没到")
    user.say("转人工")
    second = one.ticket_of(user.sender)
    one.post(f"/tickets/{second['ticket_id']}/claim")
    earlier = [line["text"] for line in one.get(f"/tickets/{first['ticket_id']}")["transcript"]]
    later = [line["text"] for line in one.get(f"/tickets/{second['ticket_id']}")["transcript"]]
    assert "第一次的问题：gas费多少" in earlier and "第二次：转账一直没到" not in earlier
    assert "第二次：转账一直没到" in later and "第一次的问题：gas费多少" not in later


def test_a_conversation_whose_ticket_was_closed_elsewhere_is_answered_again(
    served: ServedStack, store: HandoffStore
) -> None:
    user = RestUser(served.http)
    user.say("转人工")
    assert store.tickets.cancel(user.sender) is not None  # closed outside the console
    assert any("矿工费" in text or "gas" in text.lower() for text in user.say("gas费怎么算"))
