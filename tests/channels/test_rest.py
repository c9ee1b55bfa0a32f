"""The REST channel of a Rasa server (in process): replies always, trusts no client identity."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.wallet import demo_data
from tests.support.http import REST_PATH, Answer
from tests.support.stack import InProcessStack, running_stack


def post(stack: InProcessStack, body: Any) -> Answer:
    if isinstance(body, bytes):
        return stack.http.post(REST_PATH, body)
    return stack.http.post(REST_PATH, json=body)


def texts(answer: Answer) -> list[str]:
    return [m.get("text", "") for m in answer.json()]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessStack]:
    """A Rasa server whose action server is not running yet."""
    with running_stack(
        tmp_path_factory.mktemp("rest"), in_process=True, actions=False, agent=None
    ) as local:
        yield local


def test_action_server_down_gets_an_apology_then_service_returns(stack: InProcessStack) -> None:
    answer = post(stack, {"sender": "outage-1", "message": "我要投诉"})
    assert answer.status == 200
    # utter_complaint comes from Rasa; the form's question needs the action server.
    assert any("系统开了个小差" in t for t in texts(answer))
    answer = post(stack, {"sender": "outage-2", "message": "我的U转出去一直没到账"})
    assert texts(answer) and "系统开了个小差" in texts(answer)[0]
    assert answer.json()[0]["buttons"][0]["payload"] == "/request_human"

    stack.start_actions()
    try:
        answer = post(stack, {"sender": "outage-3", "message": "我的U转出去一直没到账"})
        assert answer.status == 200
        assert "系统开了个小差" not in " ".join(texts(answer))
        assert "交易记录" in texts(answer)[0]
    finally:
        stack.stop_actions()


def test_faq_answers_do_not_need_the_action_server(stack: InProcessStack) -> None:
    answer = post(stack, {"sender": "faq-1", "message": "人工客服几点上班"})
    assert answer.status == 200
    assert "09:00–21:00" in texts(answer)[0]


def test_a_client_cannot_claim_the_shell_channel_or_an_account(stack: InProcessStack) -> None:
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
        answer = post(stack, body)
        assert answer.status == 200
        joined = " ".join(texts(answer))
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
def test_malformed_requests_get_a_clear_400(stack: InProcessStack, body: Any) -> None:
    answer = post(stack, body)
    assert answer.status == 400
    assert "error" in answer.json()
