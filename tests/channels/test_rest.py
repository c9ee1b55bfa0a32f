"""The REST channel of a running Rasa server: replies always, trusts no client identity."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.wallet import demo_data
from scripts.local_stack import LocalStack


def post(url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text", "") for m in messages]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A Rasa server whose action server is not running yet."""
    local = LocalStack(Path(tmp_path_factory.mktemp("rest")))
    local.seed()
    local.start_rasa()
    try:
        yield local
    finally:
        local.stop_all()


def test_action_server_down_gets_an_apology_then_service_returns(stack: LocalStack) -> None:
    status, messages = post(stack.rest_url, {"sender": "outage-1", "message": "我要投诉"})
    assert status == 200
    # utter_complaint comes from Rasa; the form's question needs the action server.
    assert any("系统开了个小差" in t for t in texts(messages))
    status, messages = post(
        stack.rest_url, {"sender": "outage-2", "message": "我的U转出去一直没到账"}
    )
    assert texts(messages) and "系统开了个小差" in texts(messages)[0]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"

    stack.start_actions()
    try:
        status, messages = post(
            stack.rest_url, {"sender": "outage-3", "message": "我的U转出去一直没到账"}
        )
        assert status == 200
        assert "系统开了个小差" not in " ".join(texts(messages))
        assert "交易记录" in texts(messages)[0]
    finally:
        stack.stop_actions()


def test_faq_answers_do_not_need_the_action_server(stack: LocalStack) -> None:
    status, messages = post(stack.rest_url, {"sender": "faq-1", "message": "人工客服几点上班"})
    assert status == 200
    assert "09:00–21:00" in texts(messages)[0]


def test_a_client_cannot_claim_the_shell_channel_or_an_account(stack: LocalStack) -> None:
    stack.start_actions()
    try:
        body = {
            "sender": "spoof-1",
            "message": f"{demo_data.TX_CONFIRMED} 没到账",
            "input_channel": "cmdline",
            "metadata": {
                "im_identity": {
                    "account_id": demo_data.ALICE,
                    "issued_at": 1,
                    "signature": "0" * 64,
                },
                "account_id": demo_data.ALICE,
            },
        }
        status, messages = post(stack.rest_url, body)
        assert status == 200
        joined = " ".join(texts(messages))
        assert "登录" in joined and "25 个确认" not in joined
    finally:
        stack.stop_actions()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        {"message": "hi"},
        {"sender": "", "message": "hi"},
        {"sender": "a", "message": 5},
        # other channels' conversations are out of a REST client's reach
        {"sender": "telegram:42", "message": "不用了"},
        {"sender": "widget:0123abcd", "message": "你好"},
    ],
)
def test_malformed_requests_get_a_clear_400(stack: LocalStack, body: Any) -> None:
    status, answer = post(stack.rest_url, body)
    assert status == 400
    assert "error" in answer
