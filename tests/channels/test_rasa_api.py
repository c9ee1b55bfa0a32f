"""Rasa's HTTP API: off by default, JWT only when on; Rasa calls actions with their secret."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from mnemonic import Mnemonic

from scripts.local_stack import ACTION_SECRET, LocalStack

JWT_SECRET = "rasa-api-test-jwt-secret-0123456789abcdef"
PARSE_BODY = json.dumps({"text": "我的转账一直没到账"}).encode()


def token(secret: str = JWT_SECRET, role: str = "admin", expires_in: int = 300) -> str:
    """An HS256 JWT in the shape Rasa's API checks (``user.role``)."""
    claims = {"user": {"username": "ops", "role": role}, "exp": int(time.time()) + expires_in}
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def call(
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def rest_texts(stack: LocalStack, sender: str, message: str) -> list[str]:
    status, messages = call(
        stack.rest_url, json.dumps({"sender": sender, "message": message}).encode()
    )
    assert status == 200
    return [m.get("text", "") for m in messages]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Rasa with the API on and an action server with its secret, both logging everything."""
    local = LocalStack(tmp_path_factory.mktemp("rasa-api"), api_jwt_secret=JWT_SECRET, debug=True)
    local.seed()
    local.start_actions()
    local.start_rasa()
    try:
        yield local
    finally:
        local.stop_all()


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        pytest.param("", {}, id="none"),
        pytest.param(f"?token={JWT_SECRET}", {}, id="token-param"),  # --auth-token is off
        pytest.param("?token={jwt}", {}, id="jwt-param"),  # a JWT counts in the header only
        pytest.param("", bearer(JWT_SECRET), id="secret-as-bearer"),
        pytest.param(
            "", bearer(token(secret="another-secret-of-32-bytes-0123456")), id="wrong-key"
        ),
        pytest.param("", bearer(token(expires_in=-3600)), id="expired"),
    ],
)
def test_api_calls_without_a_valid_jwt_get_401(
    stack: LocalStack, query: str, headers: dict[str, str]
) -> None:
    query = query.replace("{jwt}", token())
    assert call(f"{stack.base_url}/status{query}", headers=headers)[0] == 401
    assert call(f"{stack.base_url}/model/parse{query}", PARSE_BODY, headers)[0] == 401


def test_an_admin_jwt_signed_with_the_secret_gets_200(stack: LocalStack) -> None:
    status, answer = call(f"{stack.base_url}/status", headers=bearer(token()))
    assert status == 200 and answer["model_file"] == "wallet.tar.gz"
    status, answer = call(f"{stack.base_url}/model/parse", PARSE_BODY, bearer(token()))
    assert status == 200 and answer["intent"]["name"] == "transfer_pending"
    assert call(f"{stack.base_url}/status", headers=bearer(token(role="user")))[0] == 403


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
    stack: LocalStack, body: bytes, content_type: str
) -> None:
    status, answer = call(f"{stack.base_url}/model/parse", body, bearer(token()), content_type)
    assert 400 <= status < 500, answer


def test_a_message_added_through_the_api_has_its_secret_hidden(stack: LocalStack) -> None:
    words = Mnemonic("english").to_mnemonic(bytes(range(16)))
    body = json.dumps({"text": f"我的助记词：{words}", "sender": "user"}).encode()
    url = f"{stack.base_url}/conversations/api-secret/messages"
    status, answer = call(url, body, bearer(token()))
    assert status == 200, answer
    texts = [event.get("text") for event in answer["events"] if event["event"] == "user"]
    assert texts == ["我的助记词：[已隐藏的助记词]"]
    assert " ".join(words.split()[:4]).encode() not in (stack.workdir / "tracker.db").read_bytes()


def test_rasa_with_the_wrong_action_secret_gets_an_apology(stack: LocalStack) -> None:
    stack.stop_actions()
    stack.settings["ACTION_SERVER_SECRET"] = "not-the-secret-rasa-sends"
    try:
        stack.start_actions()
        texts = rest_texts(stack, "api-actions-2", "我的U转出去一直没到账")
        assert texts and "系统开了个小差" in texts[0]
        assert "Rejected POST /webhook" in (stack.workdir / "actions.log").read_text()
    finally:
        stack.stop_actions()
        del stack.settings["ACTION_SERVER_SECRET"]
        stack.start_actions()


def test_conversation_runs_actions_with_the_secret_and_logs_no_secret(stack: LocalStack) -> None:
    texts = rest_texts(stack, "api-actions-1", "我的U转出去一直没到账")
    assert "交易记录" in texts[0]  # action_check_transfer's answer
    actions_log = (stack.workdir / "actions.log").read_text()
    assert "Received request to run 'action_check_transfer'" in actions_log
    # Runs after the tests above, so the logs hold rejected and accepted calls of both servers.
    for log in ("rasa.log", "actions.log"):
        text = (stack.workdir / log).read_text()
        assert ACTION_SECRET not in text and JWT_SECRET not in text, log


def test_the_api_is_off_by_default(tmp_path: Path) -> None:
    local = LocalStack(tmp_path)
    local.start_rasa()
    try:
        assert call(f"{local.base_url}/status", headers=bearer(token()))[0] == 404
        assert call(f"{local.base_url}/model/parse", PARSE_BODY, bearer(token()))[0] == 404
    finally:
        local.stop_all()


def test_the_rasa_version_is_not_told_even_with_the_api_on(stack: LocalStack) -> None:
    for path in ("/", "/version"):
        _, body = call(f"{stack.base_url}{path}")
        assert "3.6" not in json.dumps(body), path
    assert call(f"{stack.base_url}/version")[0] == 404
