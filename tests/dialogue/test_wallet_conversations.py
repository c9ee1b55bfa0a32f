"""Each wallet path through the trained model and the real action server, as a proven owner."""

from __future__ import annotations

from typing import Any

from rasa.core.agent import Agent

from bot.wallet import demo_data
from tests.support.conversation import Conversation


def test_pending_transfer_with_low_fee(conversation: Conversation) -> None:
    replies = conversation.say(
        f"这笔转账一直pending {demo_data.TX_PENDING_LOW_FEE}", demo_data.ALICE
    )
    assert [r.response for r in replies] == [
        "utter_transfer_pending_status",
        "utter_transfer_fee_too_low",
        "utter_transfer_explorer",
        "utter_offer_watch",
    ]
    assert "0.00021 ETH" in replies[1].text and "0.0008 ETH" in replies[1].text
    assert demo_data.TX_PENDING_LOW_FEE not in replies[0].text
    assert f"https://etherscan.io/tx/{demo_data.TX_PENDING_LOW_FEE}" in replies[2].text
    (watch,) = replies[3].buttons
    assert watch["title"] == "到账了通知我" and demo_data.TX_PENDING_LOW_FEE in watch["payload"]


def test_failed_transfer(conversation: Conversation) -> None:
    replies = conversation.say(
        f"{demo_data.TX_FAILED_OUT_OF_GAS}这笔失败了怎么回事", demo_data.ALICE
    )
    assert [r.response for r in replies] == [
        "utter_transfer_failed",
        "utter_failure_out_of_gas",
        "utter_transfer_failed_fee_spent",
        "utter_transfer_explorer",
    ]


def test_confirmed_transfer(conversation: Conversation) -> None:
    replies = conversation.say(
        f"转到交易所的U没到账 txid {demo_data.TX_CONFIRMED}", demo_data.ALICE
    )
    assert [r.response for r in replies] == [
        "utter_transfer_confirmed_out",
        "utter_transfer_explorer",
        "utter_evidence_card",
    ]
    assert "25 个确认" in replies[0].text
    card = replies[2].text
    assert f"交易哈希：{demo_data.TX_CONFIRMED}" in card
    assert f"收款地址：{demo_data.EXCHANGE_TRON}" in card and "金额：500 USDT" in card
    assert "网络：TRON" in card and "确认数：25" in card


def test_a_transfer_to_a_poisoned_address_is_warned_about(conversation: Conversation) -> None:
    replies = conversation.say(f"我转的1500U到现在没到 {demo_data.TX_POISONED}", demo_data.ALICE)
    assert [r.response for r in replies][:2] == [
        "utter_address_poisoned",
        "utter_poison_dust_evidence",
    ]
    assert demo_data.POISON_TRON in replies[0].text
    assert demo_data.EXCHANGE_TRON in replies[0].text


def test_address_safety_check_names_the_lookalikes(conversation: Conversation) -> None:
    replies = conversation.say("帮我检查一下地址安全吗", demo_data.ALICE)
    assert replies[0].response == "utter_address_check_found"
    assert demo_data.POISON_TRON in replies[1].text and "1500 USDT" in replies[1].text


def test_risky_approvals_are_listed_with_revoke_steps(conversation: Conversation) -> None:
    replies = conversation.say("我的授权安全吗", demo_data.ALICE)
    responses = [r.response for r in replies]
    assert responses[:2] == ["utter_approvals_found", "utter_approval_denylisted"]
    assert "utter_revoke_steps" in responses
    steps = next(r.text for r in replies if r.response == "utter_revoke_steps")
    assert "授权管理" in steps and "取消授权" in steps


def test_is_this_official_support(conversation: Conversation) -> None:
    replies = conversation.say("这个是官方客服吗 @IMWalletOfficiaI")
    assert [r.response for r in replies] == ["utter_safety_lookalike"]
    assert "IMWalletOfficial" in replies[0].text


def test_the_watch_button_starts_a_watch(conversation: Conversation) -> None:
    replies = conversation.say(
        f"这笔转账一直pending {demo_data.TX_PENDING_LOW_FEE}", demo_data.ALICE
    )
    payload = replies[-1].buttons[0]["payload"]
    assert conversation.responses(payload, demo_data.ALICE) == ["utter_watch_started"]
    assert conversation.responses("到账了通知我", demo_data.ALICE) == ["utter_watch_already"]


def test_unknown_hash(conversation: Conversation) -> None:
    assert conversation.responses(f"查一下 0x{'5' * 64} 到哪了", demo_data.ALICE) == [
        "utter_transfer_unknown_hash",
    ]


def test_picking_a_recent_transfer_from_the_buttons(conversation: Conversation) -> None:
    (choose,) = conversation.say("我转的币一直没到账", demo_data.ALICE)
    assert choose.response == "utter_choose_transfer"
    payload = choose.buttons[1]["payload"]
    assert demo_data.TX_PENDING_LOW_FEE in payload
    assert conversation.responses(payload, demo_data.ALICE)[0] == "utter_transfer_pending_status"


def test_no_identity_gets_general_help_only(conversation: Conversation) -> None:
    assert conversation.responses(f"{demo_data.TX_CONFIRMED} 没到账") == [
        "utter_transfer_pending",
        "utter_login_to_check",
    ]


def test_locked_account(conversation: Conversation) -> None:
    replies = conversation.say("密码输错好几次登不上了", demo_data.BOB)
    assert replies[0].response == "utter_account_locked"
    assert "b***@example.com" in replies[1].text


def test_freeze_declined_then_confirmed(conversation: Conversation) -> None:
    assert conversation.responses("我的助记词泄露了", demo_data.CAROL) == [
        "utter_account_compromised",
        "utter_ask_freeze",
    ]
    assert conversation.responses("/deny", demo_data.CAROL) == ["utter_freeze_declined"]
    conversation.say("快帮我冻结账户", demo_data.CAROL)
    replies = conversation.say("/affirm", demo_data.CAROL)
    assert [r.response for r in replies] == ["utter_account_frozen", "utter_handoff_queued"]
    assert "S20" in replies[0].text


def test_complaint_filed_then_queried(conversation: Conversation, agent: Agent, run: Any) -> None:
    assert conversation.responses("我要投诉", demo_data.ALICE) == [
        "utter_complaint",
        "utter_ask_complaint_category",
    ]
    assert conversation.responses("费用问题", demo_data.ALICE) == [
        "utter_ask_complaint_description"
    ]
    replies = conversation.say("转账手续费比页面上显示的多扣了", demo_data.ALICE)
    assert [r.response for r in replies] == ["utter_complaint_filed", "utter_handoff_queued"]
    number = replies[0].text.split("工单号 ")[1][:14]
    # The complaint went to a human; later, in another conversation, the user asks about it.
    status = Conversation(agent, run).say("我的投诉处理得怎么样了", demo_data.ALICE)
    assert [r.response for r in status] == ["utter_ticket_open"]
    assert number in status[0].text and "费用问题" in status[0].text


def test_complaint_can_be_cancelled(conversation: Conversation) -> None:
    conversation.say("我要投诉你们")
    assert conversation.responses("算了不投诉了") == ["utter_complaint_cancelled"]
    assert conversation.responses("你好") == ["utter_greet"]
