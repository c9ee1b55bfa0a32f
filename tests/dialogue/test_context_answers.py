"""Short answers and misreadings in context, end to end.

Over REST with the served stack (a real Rasa server and action server), where every channel's
intake runs: a number answering the bot's buttons picks that button; a number, or a "不见了", with
no question asked is not a goodbye or a confirmation; free text at the complaint category is asked
again. Through the conftest ``conversation`` (real agent and action server): 嗯 / 好的 / 对 / 不是
and Cantonese forms answer the assistant's yes/no questions.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.wallet import demo_data
from bot.wallet.sql import SqlWalletService
from scripts.local_stack import LocalStack
from tests.support.conversation import Conversation
from tests.support.http import RestUser
from tests.support.stack import ServedStack

ANYTHING_ELSE = "好的。还有什么可以帮您的吗？"


def test_a_number_answering_buttons_picks_that_button(served: ServedStack) -> None:
    user = RestUser(served.http, "number-picks")
    offered = [b for m in user.send("我要投诉") for b in m.get("buttons", [])]
    assert [b["title"] for b in offered][:2] == ["转账/提币问题", "账户与安全"]
    assert any("请简单说说发生了什么" in t for t in user.say("2"))
    filed = user.say("登录一直提示密码错误，可是密码没错")
    assert any("已为您登记投诉" in t for t in filed)
    user.say("不用了")  # leaves the queue
    assert any("账户与安全" in t for t in user.say("我的投诉处理得怎么样了"))


def test_a_number_answering_rating_buttons_is_that_rating(served: ServedStack) -> None:
    user = RestUser(served.http, "number-rates")
    goodbye = user.send("拜拜")
    assert any(b["title"].startswith("5分") for m in goodbye for b in m.get("buttons", []))
    assert user.say("5") == ["感谢您的评价！还有问题随时找我。"]


@pytest.mark.parametrize("number", ["1234", "5", "2"])
def test_a_bare_number_with_no_question_is_no_goodbye(served: ServedStack, number: str) -> None:
    replies = RestUser(served.http, f"bare-{number}").send(number)
    assert not any(m.get("buttons") for m in replies)
    text = " ".join(m.get("text", "") for m in replies)
    assert "再见" not in text and "打个分" not in text
    assert "数字" in text


@pytest.mark.parametrize("text", ["不见了", "没了", "不行啊"])
def test_a_problem_with_no_question_gets_a_question_back(served: ServedStack, text: str) -> None:
    # Either the question for a "no" nobody asked for, or the likely topics: never 「好的」.
    replies = RestUser(served.http, f"problem-{text.encode().hex()}").say(text)
    assert ANYTHING_ELSE not in replies
    assert len(replies) == 1
    assert replies[0].startswith(("是遇到问题了吗？", "我不太确定您的意思，您是想问"))


def test_free_text_at_the_complaint_category_asks_again_with_the_buttons(
    served: ServedStack,
) -> None:
    user = RestUser(served.http, "vague-category")
    user.send("我要投诉")
    again = user.send("帮我弄一下")
    text = " ".join(m.get("text", "") for m in again)
    assert "已为您登记投诉" not in text and "转接人工" not in text
    assert "请选择投诉类型" in text
    assert [b["title"] for m in again for b in m.get("buttons", [])][:2] == [
        "转账/提币问题",
        "账户与安全",
    ]
    assert any("请简单说说发生了什么" in t for t in user.say("2"))  # by number, then
    assert any("已为您登记投诉" in t for t in user.say("登录一直提示密码错误，可是密码没错"))


@pytest.fixture
def wallet(action_stack: LocalStack) -> Iterator[SqlWalletService]:
    service = SqlWalletService.from_url(action_stack.wallet_url)
    yield service
    demo_data.seed(service)  # a freeze in the test is undone for the tests after it


@pytest.mark.parametrize("yes", ["嗯", "好的", "对", "係"])
def test_a_short_yes_answers_the_freeze_question(
    conversation: Conversation, wallet: SqlWalletService, yes: str
) -> None:
    offer = conversation.responses("我的账户被盗了", demo_data.CAROL)
    assert offer[-1] == "utter_ask_freeze"
    assert conversation.responses(yes, demo_data.CAROL)[0] == "utter_account_frozen"
    assert wallet.account(demo_data.CAROL).frozen


@pytest.mark.parametrize("no", ["不是", "不要", "唔係", "唔好"])
def test_a_short_no_answers_the_freeze_question(
    conversation: Conversation, wallet: SqlWalletService, no: str
) -> None:
    assert conversation.responses("我的账户被盗了", demo_data.CAROL)[-1] == "utter_ask_freeze"
    assert conversation.responses(no, demo_data.CAROL) == ["utter_freeze_declined"]
    assert not wallet.account(demo_data.CAROL).frozen


@pytest.mark.parametrize("yes", ["嗯", "好的", "係"])
def test_a_short_yes_to_the_offered_topics_asks_to_pick_one(
    conversation: Conversation, yes: str
) -> None:
    # The clarification step itself, whatever the NLU makes of a vague message today.
    assert conversation.responses("/nlu_fallback") == ["utter_clarify"]
    assert conversation.responses(yes) == ["utter_clarify_pick"]
