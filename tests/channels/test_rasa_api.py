"""Rasa's HTTP API: off by default, JWT only when on; Rasa calls actions with their secret.

The API's tests run against a Rasa server in process with the API on, logging everything, and
its action server in debug mode; the default is the served stack's (`rasa run` without the API).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from mnemonic import Mnemonic

from scripts.local_stack import ACTION_SECRET
from tests.support.http import REST_PATH, Answer, Http
from tests.support.stack import (
    API_JWT_SECRET,
    InProcessStack,
    ServedStack,
    actions_with,
    rasa_jwt,
    running_stack,
)

PARSE_BODY = json.dumps({"text": "我的转账一直没到账"}).encode()


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def parse(http: Http, query: str = "", headers: dict[str, str] | None = None) -> Answer:
    return http.post(f"/model/parse{query}", PARSE_BODY, headers=headers)


def rest_texts(stack: InProcessStack, sender: str, message: str) -> list[str]:
    answer = stack.http.post(REST_PATH, json={"sender": sender, "message": message})
    assert answer.status == 200
    return [m.get("text", "") for m in answer.json()]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessStack]:
    """Rasa with the API on and an action server with its secret, both logging everything."""
    with running_stack(
        tmp_path_factory.mktemp("rasa-api"),
        in_process=True,
        api_jwt_secret=API_JWT_SECRET,
        debug=True,
        agent=None,
    ) as local:
        yield local


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        pytest.param("", {}, id="none"),
        pytest.param(f"?token={API_JWT_SECRET}", {}, id="token-param"),  # --auth-token is off
        pytest.param("?token={jwt}", {}, id="jwt-param"),  # a JWT counts in the header only
        pytest.param("", bearer(API_JWT_SECRET), id="secret-as-bearer"),
        pytest.param(
            "", bearer(rasa_jwt(secret="another-secret-of-32-bytes-0123456")), id="wrong-key"
        ),
        pytest.param("", bearer(rasa_jwt(expires_in=-3600)), id="expired"),
    ],
)
def test_api_calls_without_a_valid_jwt_get_401(
    stack: InProcessStack, query: str, headers: dict[str, str]
) -> None:
    query = query.replace("{jwt}", rasa_jwt())
    assert stack.http.get(f"/status{query}", headers=headers).status == 401
    assert parse(stack.http, query, headers=headers).status == 401


def test_an_admin_jwt_signed_with_the_secret_gets_200(stack: InProcessStack) -> None:
    answer = stack.http.get("/status", headers=bearer(rasa_jwt()))
    assert answer.status == 200 and answer.json()["model_file"] == "wallet.tar.gz"
    answer = parse(stack.http, headers=bearer(rasa_jwt()))
    assert answer.status == 200 and answer.json()["intent"]["name"] == "transfer_pending"
    assert stack.http.get("/status", headers=bearer(rasa_jwt(role="user"))).status == 403


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"", "application/json", id="empty"),
        pytest.param(b'{"text": "hi"', "application/json", id="malformed"),
        pytest.param(b"text=hi", "application/x-www-form-urlencoded", id="form"),
        pytest.param(b'{"text": "\xff\xfe"}', "application/json", id="not-utf8"),
    ],
)
def test_unparsable_parse_bodies_get_a_4xx(
    stack: InProcessStack, body: bytes, content_type: str
) -> None:
    answer = stack.http.post(
        "/model/parse", body, content_type=content_type, headers=bearer(rasa_jwt())
    )
    assert 400 <= answer.status < 500, answer


def test_a_message_added_through_the_api_has_its_secret_hidden(stack: InProcessStack) -> None:
    words = Mnemonic("english").to_mnemonic(bytes(range(16)))
    answer = stack.http.post(
        "/conversations/api-secret/messages",
        json={"text": f"我的助记词：{words}", "sender": "user"},
        headers=bearer(rasa_jwt()),
    )
    assert answer.status == 200, answer
    texts = [event.get("text") for event in answer.json()["events"] if event["event"] == "user"]
    assert texts == ["我的助记词：[已隐藏的助记词]"]
    assert " ".join(words.split()[:4]).encode() not in (stack.workdir / "tracker.db").read_bytes()


def test_rasa_with_the_wrong_action_secret_gets_an_apology(stack: InProcessStack) -> None:
    with actions_with(stack, {"ACTION_SERVER_SECRET": "not-the-secret-rasa-sends"}):
        texts = rest_texts(stack, "api-actions-2", "我的U转出去一直没到账")
        assert texts and "系统开了个小差" in texts[0]
        assert "Rejected POST /webhook" in (stack.workdir / "actions.log").read_text()


def test_conversation_runs_actions_with_the_secret_and_logs_no_secret(
    stack: InProcessStack,
) -> None:
    texts = rest_texts(stack, "api-actions-1", "我的U转出去一直没到账")
    assert "交易记录" in texts[0]  # action_check_transfer's answer
    actions_log = (stack.workdir / "actions.log").read_text()
    assert "Received request to run 'action_check_transfer'" in actions_log
    # Runs after the tests above, so the logs hold rejected and accepted calls of both servers.
    for log in ("rasa.log", "actions.log"):
        text = (stack.workdir / log).read_text()
        assert ACTION_SECRET not in text and API_JWT_SECRET not in text, log


def test_the_api_is_off_by_default(served: ServedStack) -> None:
    assert served.http.get("/status", headers=bearer(rasa_jwt())).status == 404
    assert parse(served.http, headers=bearer(rasa_jwt())).status == 404


def test_the_rasa_version_is_not_told_even_with_the_api_on(stack: InProcessStack) -> None:
    for path in ("/", "/version"):
        assert "3.6" not in stack.http.get(path).text, path
    assert stack.http.get("/version").status == 404
