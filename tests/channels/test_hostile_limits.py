"""Hostile input against the per-sender rate limit, and the known bugs, pinned as strict xfails.

A Rasa server in process (``limited``) with every channel and Rasa's API on, the default burst
(10) and a refill of one message a minute, so the rate limit is deterministic; what needs a real
server (socket.io, engine.io, a request that once stopped the server) goes to the served stack.
The fuzzing of test_hostile_input.py leaves out exactly the inputs of these bugs, so each
xfail turns red (XPASS) once its bug is fixed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import socketio

from tests.support.fakes import FakePlatforms
from tests.support.hostile import (
    GREETING,
    SLOW_DOWN_REPLY,
    Entries,
    SyncWidget,
    as_json,
    telegram_user_id,
    unique,
)
from tests.support.http import REST_PATH, Answer
from tests.support.platform_users import fresh_id
from tests.support.stack import (
    ALWAYS_OPEN,
    API_JWT_SECRET,
    ServedStack,
    running_stack,
)


@pytest.fixture(scope="module")
def limited(
    tmp_path_factory: pytest.TempPathFactory, platforms: FakePlatforms
) -> Iterator[Entries]:
    with running_stack(
        tmp_path_factory.mktemp("hostile-limited"),
        in_process=True,
        api_jwt_secret=API_JWT_SECRET,
        settings={"SUPPORT_HOURS": ALWAYS_OPEN, "RATE_LIMIT_PER_MINUTE": "1", **platforms.env()},
    ) as local:
        yield Entries(local.http, platforms, local.workdir)


def telegram_update(user_id: int, text: str) -> bytes:
    chat = {"id": user_id, "type": "private"}
    message = {"message_id": 1, "from": {"id": user_id, "is_bot": False}, "chat": chat}
    return as_json({"update_id": fresh_id(), "message": {**message, "text": text}})


# --- the rate limit (default burst of 10, refilled at one message a minute) -------------------


def test_a_rest_burst_gets_one_slow_down_then_silence_and_others_are_served(
    limited: Entries,
) -> None:
    sender = unique("burst")
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: limited.rest(sender, "你好"), range(16)))
    answered = [texts for texts in answers if texts and texts != [SLOW_DOWN_REPLY]]
    assert len(answered) == 10 and all(texts[0].startswith(GREETING) for texts in answered)
    assert answers.count([SLOW_DOWN_REPLY]) == 1
    assert answers.count([]) == 5
    assert limited.rest(sender, "你好") == []  # still silent
    assert limited.rest(unique("bystander"), "你好")[0].startswith(GREETING)


def test_a_telegram_burst_gets_one_polite_message(limited: Entries) -> None:
    user_id = telegram_user_id()
    for _ in range(14):
        limited.telegram_text(user_id, "你好")
    sent = [call["text"] for call in limited.platforms.calls_for(user_id)]
    assert sent.count(SLOW_DOWN_REPLY) == 1
    assert len([text for text in sent if text.startswith(GREETING)]) == 10
    assert len(sent) == 11
    assert limited.telegram_text(telegram_user_id(), "你好")[0].startswith(GREETING)


# --- known bugs, pinned: each xfail turns red (XPASS) when its bug is fixed -----------------


def bug(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)


def status_of(call: Any) -> int | None:
    """The status of an HTTP call; None when the server dropped the connection."""
    try:
        return int(call().status)
    except OSError:
        return None


def revive(stack: ServedStack) -> bool:
    """Restarts Rasa if a test stopped it; whether it had to."""
    for _ in range(3):
        try:
            stack.http.get("/", timeout=3)
            return False
        except OSError:
            time.sleep(1)
    stack.stop_rasa()
    stack.start_rasa()
    return True


def assert_no_server_error(answer: Answer) -> None:
    assert answer.status < 500, (answer.status, answer.text[:500])


def test_agent_console_ticket_ids_beyond_64_bits_get_a_404(limited: Entries) -> None:
    huge = 2**63
    for action, body in (
        ("", None),
        ("/claim", b"{}"),
        ("/reply", b'{"text":"hi"}'),
        ("/close", b"{}"),
    ):
        status = limited.agent(f"/tickets/{huge}{action}", body, token=limited.agent_token).status
        assert status in (404, 409), (action, status)


def test_agent_console_authorization_header_not_utf8_gets_a_401(limited: Entries) -> None:
    # urllib sends header values as latin-1: "\xff" goes out as the byte 0xff.
    assert status_of(lambda: limited.agent("/queue", token="\xff")) == 401


def test_agent_console_fields_with_a_lone_surrogate_get_a_400(limited: Entries) -> None:
    sender = unique("bug-agent")
    limited.rest(sender, "我要人工客服")
    queue = limited.agent("/queue", token=limited.agent_token).json()["tickets"]
    ticket = next(t["ticket_id"] for t in queue if t["conversation_id"] == sender)
    assert limited.agent(f"/tickets/{ticket}/claim", b"{}", token=limited.agent_token).status == 200
    statuses = [
        limited.agent("/login", as_json({"username": "\ud800", "password": "x"})).status,
        limited.agent(
            f"/tickets/{ticket}/reply", as_json({"text": "好\ud800"}), token=limited.agent_token
        ).status,
        limited.agent(
            f"/tickets/{ticket}/close", as_json({"note": "\ud800"}), token=limited.agent_token
        ).status,
    ]
    assert all(400 <= status < 500 for status in statuses), statuses


def test_widget_user_uttered_without_data_is_acknowledged(served: ServedStack) -> None:
    client = SyncWidget(served.base_url, unique("widget-nodata"))
    try:
        client.run(client.user.client.call("user_uttered", timeout=3))
    except socketio.exceptions.TimeoutError:
        raise AssertionError("no ack: the handler failed") from None
    finally:
        client.close()


@bug(
    "python-engineio 4.15 (upstream): an unknown packet makes the server disconnect the session "
    "and wait for the client to poll the CLOSE packet, so this POST gets no answer"
)
@pytest.mark.parametrize("packet", [b"0", b"2", b"6"], ids=["open", "ping", "noop"])
def test_engineio_post_with_a_ping_packet_is_answered(served: ServedStack, packet: bytes) -> None:
    http = served.http
    opened = http.get("/socket.io/?EIO=4&transport=polling")
    session = json.loads(opened.body[1:])["sid"]
    url = f"/socket.io/?EIO=4&transport=polling&sid={session}"
    try:
        assert (
            status_of(lambda: http.post(url, packet, content_type="text/plain", timeout=3)) == 400
        )
    finally:
        status_of(lambda: http.get(url, timeout=3))  # fetches the CLOSE packet the server waits on


def test_telegram_deeply_nested_json_gets_a_400(limited: Entries) -> None:
    assert limited.telegram(b"[" * 100_000 + b"]" * 100_000).status == 400


def test_telegram_update_ids_beyond_64_bits_are_refused(limited: Entries) -> None:
    user_id = telegram_user_id()
    body = json.loads(telegram_update(user_id, "你好"))
    assert limited.telegram(as_json({**body, "update_id": 2**64})).status == 400
    assert limited.platforms.calls_for(user_id) == []


def test_telegram_button_data_with_a_lone_surrogate_is_acknowledged(
    limited: Entries,
) -> None:
    user_id = telegram_user_id()
    query = {
        "id": "q-surrogate",
        "from": {"id": user_id, "is_bot": False},
        "message": {"message_id": 1, "chat": {"id": user_id, "type": "private"}},
        "data": "#\ud800",
    }
    answer = limited.telegram(as_json({"update_id": fresh_id(), "callback_query": query}))
    assert answer.status == 200


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        pytest.param("/model/parse", b"[]", "application/json", id="parse-not-an-object"),
        pytest.param(
            "/model/parse", b'{"text": 5}', "application/json", id="parse-text-not-a-string"
        ),
        pytest.param("/model/parse", b'{"x": 1}', "application/json", id="parse-no-text"),
        pytest.param("/model/parse", b'{"text": ""}', "application/json", id="parse-empty-text"),
        pytest.param(
            "/model/parse", b'{"text": " \\u3000"}', "application/json", id="parse-blank-text"
        ),
        pytest.param(
            "/model/parse", b'{"text": "\\ud800"}', "application/json", id="parse-surrogate"
        ),
        pytest.param("/conversations/c/messages", b"[1]", "application/json", id="messages-list"),
        pytest.param(
            "/conversations/c/messages",
            b'{"sender": "user"}',
            "application/json",
            id="messages-no-text",
        ),
        pytest.param(
            "/conversations/c/messages",
            b'{"text": 5, "sender": "user"}',
            "application/json",
            id="messages-text-not-a-string",
        ),
    ],
)
def test_rasa_api_bad_bodies_get_a_4xx(
    limited: Entries, path: str, body: bytes, content_type: str
) -> None:
    assert_no_server_error(limited.rasa_api(path, body, content_type=content_type))


def test_rasa_api_authorization_header_not_utf8_gets_a_401(limited: Entries) -> None:
    assert (
        status_of(lambda: limited.http.get("/status", headers={"Authorization": "Bearer \xff"}))
        == 401
    )


def test_rest_sender_with_a_lone_surrogate_is_refused_not_fatal(served: ServedStack) -> None:
    """Last: with the bug present it stops the server (restarted afterwards); a real one."""
    try:
        empty = status_of(
            lambda: served.http.post(REST_PATH, as_json({"sender": "\ud800", "message": ""}))
        )
        greeting = status_of(
            lambda: served.http.post(REST_PATH, as_json({"sender": "\ud800", "message": "你好"}))
        )
        time.sleep(1)
        restarted = revive(served)
        assert empty in (200, 400) and greeting in (200, 400), (empty, greeting)
        assert not restarted, "the server stopped"
    finally:
        revive(served)
