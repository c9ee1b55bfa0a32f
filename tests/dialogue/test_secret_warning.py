"""The warning after the channel intake hid a secret: the marker decides, whatever else was said."""

from __future__ import annotations

import pytest

from bot.wallet import demo_data
from tests.support.conversation import Conversation


@pytest.mark.parametrize(
    ("text", "advice"),
    [
        ("我的助记词是 [已隐藏的助记词] 帮我看看币还在不在", "新建一个钱包"),
        # The last part of a mnemonic split over messages, as the intake hides it.
        ("后6个：[已隐藏的助记词]", "新建一个钱包"),
        ("私钥 [已隐藏的私钥]", "查交易"),  # a key written in groups
        ("[已隐藏的私钥]", "查交易"),
        ("keystore [已隐藏的密钥文件] 导不进去", "Keystore"),
        ("我的支付密码是[已隐藏的密码]，怎么提示错误", "修改这个密码"),
        ("验证码 [已隐藏的验证码] 你帮我登录吧", "验证码只能您自己"),
    ],
)
def test_each_kind_of_secret_gets_its_own_advice_and_a_human(
    conversation: Conversation, text: str, advice: str
) -> None:
    replies = conversation.say(text)
    assert [reply.response for reply in replies] == ["utter_secret_shared"]
    assert advice in replies[0].text
    assert "已被隐藏" in replies[0].text
    assert [button["payload"] for button in replies[0].buttons] == ["/request_human"]


def test_the_most_severe_secret_decides_the_advice(conversation: Conversation) -> None:
    replies = conversation.say("验证码[已隐藏的验证码] 助记词[已隐藏的助记词]")
    assert "新建一个钱包" in replies[0].text


def test_a_secret_in_the_complaint_form_is_warned_about_and_not_filed(
    conversation: Conversation,
) -> None:
    conversation.say("我要投诉", demo_data.CAROL)
    conversation.say("费用问题", demo_data.CAROL)
    replies = conversation.say("我的助记词 [已隐藏的助记词]", demo_data.CAROL)
    assert [reply.response for reply in replies] == [
        "utter_secret_shared",
        "utter_ask_complaint_description",
    ]
    assert conversation.tracker().get_slot("complaint_description") is None
    filed = conversation.say("转账手续费比页面上显示的多扣了", demo_data.CAROL)
    assert filed[0].response == "utter_complaint_filed"
