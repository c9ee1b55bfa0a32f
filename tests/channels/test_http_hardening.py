"""What an attacker with an HTTP client finds on a server: body limits, content types,
security headers, REST conversation tokens, limits per client address, the agent's summary.

A Rasa server in process trusts X-Forwarded-For from loopback here (TRUSTED_PROXIES), so each
test speaks from an address of its own, and nothing is exempt from the limits (RATE_LIMIT_EXEMPT
empty). A body too large to read is refused by the HTTP server itself: that one goes to the
served stack.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from bot.channels.rest_tokens import TOKEN_HEADER
from bot.handoff.records import Urgency
from bot.handoff.store import HandoffStore
from tests.support.http import REST_PATH, Answer
from tests.support.stack import ALWAYS_OPEN, InProcessStack, ServedStack, running_stack

HASH = "0x" + "ab" * 32


class Client:
    """An HTTP client speaking from ``address`` (through the trusted loopback proxy)."""

    def __init__(self, stack: InProcessStack, address: str) -> None:
        self.http = stack.http.at(address)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        return self.http.request(method, path, body, content_type=None, headers=headers)

    def say(self, sender: str, text: str, token: str | None = None, **extra: Any) -> Any:
        """(messages, the conversation token issued with them or None)."""
        headers = {TOKEN_HEADER: token} if token else {}
        body = {"sender": sender, "message": text, **extra}
        answer = self.http.post(REST_PATH, json=body, headers=headers)
        assert answer.status == 200, answer
        return [m.get("text", "") for m in answer.json()], answer.headers.get(TOKEN_HEADER.lower())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessStack]:
    with running_stack(
        tmp_path_factory.mktemp("hardening"),
        in_process=True,
        settings={
            "RATE_LIMIT_EXEMPT": "",
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "SUPPORT_HOURS": ALWAYS_OPEN,
        },
    ) as local:
        yield local


def store(stack: InProcessStack) -> HandoffStore:
    return HandoffStore.from_url(stack.handoff_url)


def test_a_huge_body_is_refused_before_it_is_read(served: ServedStack) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served.rasa_port, timeout=10)
    connection.putrequest("POST", "/webhooks/rest/webhook")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(30 * 1024 * 1024))
    connection.endheaders()
    connection.send(b'{"sender": "big", "message": "')  # and never the other 30 MB
    assert connection.getresponse().status == 413
    connection.close()


def test_json_endpoints_refuse_bodies_a_foreign_page_could_send(stack: InProcessStack) -> None:
    client = Client(stack, "198.51.100.2")
    body = json.dumps({"sender": "plain-1", "message": "你好"}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = client.request("POST", REST_PATH, body, {"Content-Type": content_type})
        assert answer.status == 415, content_type
    login = json.dumps({"username": "li", "password": "guess"}).encode()
    answer = client.request(
        "POST", "/webhooks/agent/api/login", login, {"Content-Type": "text/plain"}
    )
    assert answer.status == 415
    answer = client.request(
        "POST", REST_PATH, body, {"Content-Type": "application/json; charset=utf-8"}
    )
    assert answer.status == 200


@pytest.mark.parametrize(
    "path", ["/webhooks/widget/chat", "/webhooks/agent/console", "/webhooks/agent/dashboard", "/"]
)
def test_pages_carry_security_headers(stack: InProcessStack, path: str) -> None:
    answer = Client(stack, "198.51.100.3").request("GET", path)
    assert answer.status == 200
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_the_server_does_not_say_which_rasa_it_runs(stack: InProcessStack) -> None:
    client = Client(stack, "198.51.100.4")
    body = client.request("GET", "/").body
    assert b"Rasa" not in body and b"3.6" not in body
    answer = client.request("GET", "/version")
    assert answer.status == 404 and b"3.6" not in answer.body


def test_senders_that_could_forge_log_lines_are_refused(stack: InProcessStack) -> None:
    client = Client(stack, "198.51.100.5")
    for sender in ("a\nINFO forged line", "x\x1b[31m", "名字", "a b", "a" * 129):
        body = json.dumps({"sender": sender, "message": "你好"}).encode()
        answer = client.request("POST", REST_PATH, body, {"Content-Type": "application/json"})
        assert answer.status == 400, sender


def test_metadata_a_client_sends_is_never_stored(stack: InProcessStack) -> None:
    marker = "metadata-marker-" + "x" * 200_000
    Client(stack, "198.51.100.6").say("meta-1", "你好", metadata={"blob": marker})
    with sqlite3.connect(stack.workdir / "tracker.db") as db:
        rows = db.execute("select data from events where sender_id = 'meta-1'").fetchall()
    assert rows, "the turn was stored"
    assert not any("metadata-marker" in row[0] for row in rows)


def test_only_the_token_holder_gets_agent_replies_cancels_and_sees_tickets(
    stack: InProcessStack,
) -> None:
    owner, stranger = Client(stack, "198.51.100.7"), Client(stack, "192.0.2.7")
    _, token = owner.say("victim-1", "转人工")
    assert token, "the first turn issues a conversation token"
    handoffs = store(stack)
    ticket = handoffs.tickets.open_for("victim-1")
    assert ticket is not None
    handoffs.tickets.claim(ticket.ticket_id, "li")
    handoffs.outbox.post("victim-1", {"text": "您好，我是小李，请问转账的哈希是多少？"})

    texts, issued = stranger.say("victim-1", "在吗")
    assert issued is None, "a known sender id gets no token"
    assert not any("小李" in text for text in texts), "the agent's reply stays in the outbox"
    stranger.say("victim-1", "/deny")
    assert handoffs.tickets.open_for("victim-1") is not None, "a stranger cannot cancel the queue"

    texts, _ = owner.say("victim-1", "好的", token)
    assert any("小李" in text for text in texts), "the owner gets the agent's reply"


def test_ticket_status_needs_the_conversation_token(stack: InProcessStack) -> None:
    owner, stranger = Client(stack, "198.51.100.8"), Client(stack, "192.0.2.8")
    _, token = owner.say("status-1", "你好")
    texts, _ = stranger.say("status-1", "我的投诉处理得怎么样了")
    assert any("保护您的隐私" in text for text in texts)
    texts, _ = owner.say("status-1", "我的投诉处理得怎么样了", token)
    assert not any("保护您的隐私" in text for text in texts)


def test_made_up_sender_ids_cannot_start_unlimited_conversations(stack: InProcessStack) -> None:
    client = Client(stack, "203.0.113.10")
    issued = [client.say(f"flood-{n}", "你好")[1] for n in range(10)]
    assert all(issued)
    texts, token = client.say("flood-10", "你好")
    assert token is None and any("发得有点快" in text for text in texts)
    assert client.say("flood-11", "你好") == ([], None), "then silence"
    _, other = Client(stack, "203.0.113.11").say("flood-12", "你好")
    assert other, "other clients are not affected"


def test_one_client_cannot_flood_the_handoff_queue(stack: InProcessStack) -> None:
    client = Client(stack, "203.0.113.20")
    answers = [client.say(f"queue-{n}", "转人工")[0] for n in range(5)]
    queued = [n for n in range(5) if store(stack).tickets.open_for(f"queue-{n}") is not None]
    assert queued == [0, 1, 2]
    assert all(any("好几次人工请求" in text for text in answers[n]) for n in (3, 4))


def test_an_anonymous_complaint_is_not_urgent(stack: InProcessStack) -> None:
    client = Client(stack, "203.0.113.30")
    _, token = client.say("complain-1", "我要投诉")
    client.say("complain-1", "其他", token)
    client.say("complain-1", "客服一直不回复我的邮件，已经三天了", token)
    ticket = store(stack).tickets.open_for("complain-1")
    assert ticket is not None and ticket.reason.value == "complaint"
    assert ticket.urgency is Urgency.NORMAL


def test_entities_of_a_payload_never_offered_stay_out_of_the_summary(stack: InProcessStack) -> None:
    client = Client(stack, "203.0.113.40")
    _, token = client.say("inject-1", f'/transfer_pending{{"tx_hash": "{HASH}"}}')
    client.say("inject-1", "转人工", token)
    ticket = store(stack).tickets.open_for("inject-1")
    assert ticket is not None
    assert HASH not in json.dumps(ticket.summary.entities), "not shown as recognised data"
    assert ticket.summary.last_messages[0].startswith("/transfer_pending"), "but as typed"
    # Typed as text, the same hash is what the user said, and the agent sees it.
    client.say("inject-2", f"我的转账 {HASH} 一直没到", None)
    client.say("inject-2", "转人工")
    typed = store(stack).tickets.open_for("inject-2")
    assert typed is not None and HASH in typed.summary.entities.get("tx_hash", [])


def test_a_flood_of_over_long_messages_gets_one_polite_refusal_then_silence(
    stack: InProcessStack,
) -> None:
    client = Client(stack, "203.0.113.50")
    _, token = client.say("long-1", "你好")
    answers = [client.say("long-1", "你" * 1001, token)[0] for _ in range(12)]
    assert all(any("消息有点长" in text for text in answer) for answer in answers[:9])
    assert any("发得有点快" in text for text in answers[9])
    assert answers[10:] == [[], []]
