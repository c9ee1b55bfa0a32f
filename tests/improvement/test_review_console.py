"""The lead's review inbox through the console's API on the served stack: only a supervisor sees it,
a message the assistant missed is listed with its reason, a label takes it out and an undo puts
it back, a wrong intent is refused, and an agent's flag on a ticket brings its conversation in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.http import AGENT, CONSOLE_API, LEAD, AgentConsole, Login, RestUser
from tests.support.stack import ServedStack


@pytest.fixture(scope="module")
def lead(served: ServedStack, lead_login: Login) -> AgentConsole:
    return AgentConsole(served.http, lead_login)


def unclear(user: RestUser) -> str:
    """A message the assistant cannot place: it asks back."""
    text = "那个咋弄呀"
    assert "您是想问" in " ".join(user.say(text))
    return text


def rows_for(lead: AgentConsole, conversation_id: str) -> list[dict[str, Any]]:
    rows = lead.get("/review?limit=200")["rows"]
    return [row for row in rows if row["conversation_id"] == conversation_id]


def test_only_a_supervisor_reviews(served: ServedStack, lead: AgentConsole) -> None:
    agent = AgentConsole(served.http)
    for path in ("/review", "/review/intents", "/review/labels"):
        assert agent.call("GET", path).status == 403
        assert served.http.get(f"{CONSOLE_API}{path}").status == 401
    assert agent.call("POST", "/review/labels", {"text": "x", "intent": "greet"}).status == 403
    answer = served.http.post(
        f"{CONSOLE_API}/login", json={"username": LEAD.username, "password": LEAD.password}
    )
    assert answer.json()["agent"]["role"] == "supervisor"
    assert served.http.get("/webhooks/agent/review").status == 200


def test_a_missed_message_is_labelled_out_of_the_inbox_and_undone_back(
    served: ServedStack, lead: AgentConsole
) -> None:
    user = RestUser(served.http, "review-missed-1")
    text = unclear(user)
    user.say("都不是")
    [row] = rows_for(lead, user.sender)
    assert row["text"] == text and row["count"] == 1
    assert "clarification" in row["reasons"] and "none_of_these" in row["reasons"]
    assert any(turn["speaker"] == "bot" and "您是想问" in turn["text"] for turn in row["context"])
    assert "network_fee" in lead.get("/review/intents")["intents"]

    status, labelled = lead.post("/review/labels", {"text": text, "intent": "network_fee"})
    assert status == 200 and labelled["label"]["labelled_by"] == LEAD.username
    assert rows_for(lead, user.sender) == []
    assert lead.get("/review/labels")["labels"][0]["text"] == text

    status, _ = lead.post(f"/review/labels/{labelled['label']['label_id']}/undo")
    assert status == 200
    assert [row["text"] for row in rows_for(lead, user.sender)] == [text]
    assert lead.post(f"/review/labels/{labelled['label']['label_id']}/undo")[0] == 409
    # Who did what, newest first, for the lead to read; agents cannot.
    entries = lead.get("/review/audit?limit=2")["entries"]
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("undo", LEAD.username),
        ("label", LEAD.username),
    ]
    assert entries[1]["details"]["intent"] == "network_fee"
    assert AgentConsole(served.http).call("GET", "/review/audit").status == 403


def test_a_label_with_an_unknown_intent_is_refused_with_the_reason(lead: AgentConsole) -> None:
    status, answer = lead.post("/review/labels", {"text": "随便什么", "intent": "no_such_intent"})
    assert status == 400 and "no_such_intent" in answer["error"]
    status, answer = lead.post("/review/labels", {"text": "随便什么"})
    assert status == 400


def test_an_agents_flag_brings_the_conversation_to_the_inbox(
    served: ServedStack, lead: AgentConsole
) -> None:
    user = RestUser(served.http, "review-flagged-1")
    user.say("矿工费怎么算")
    user.say("转人工")
    agent = AgentConsole(served.http)
    ticket = agent.ticket_of(user.sender)
    assert agent.post(f"/tickets/{ticket['ticket_id']}/flag", {"note": "答非所问"})[0] == 200
    flagged = [row for row in rows_for(lead, user.sender) if "flagged" in row["reasons"]]
    assert flagged, rows_for(lead, user.sender)
    assert agent.post("/tickets/999999999/flag")[0] == 404
    assert served.http.post(f"{CONSOLE_API}/tickets/{ticket['ticket_id']}/flag").status == 401


def test_the_login_of_an_agent_says_agent(served: ServedStack) -> None:
    answer = served.http.post(
        f"{CONSOLE_API}/login", json={"username": AGENT.username, "password": AGENT.password}
    )
    assert answer.json()["agent"]["role"] == "agent"
