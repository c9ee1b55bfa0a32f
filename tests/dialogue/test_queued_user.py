"""A user whose complaint waits in the queue is never left in silence, end to end over REST.

On the served stack, its queue emptied first (a shared stack holds earlier tests' tickets); the
REST user keeps the conversation token of its first answer, as a REST client must. Out of hours
is a Rasa server in process with other support hours.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.handoff.records import State
from bot.handoff.store import HandoffStore
from tests.support.http import AgentConsole, RestUser
from tests.support.stack import ServedStack, empty_queue, running_stack

DESCRIPTION = "USDT提币两天了还没到账，客服也不回"


@pytest.fixture
def stack(served: ServedStack) -> ServedStack:
    empty_queue(served)
    return served


def file_complaint(user: RestUser) -> list[str]:
    """Files a complaint through the form: category by its button's number, then a description."""
    assert any("请选择投诉类型" in text for text in user.say("我要投诉"))
    assert any("请简单说说发生了什么" in text for text in user.say("1"))
    return user.say(DESCRIPTION)


def test_a_queued_complaint_is_answered_with_its_status_and_place_until_an_agent_claims(
    stack: ServedStack,
) -> None:
    user = RestUser(stack.http, "queued-complaint")
    filed = file_complaint(user)
    assert any("已为您登记投诉" in text for text in filed)
    assert any("排在第 1 位" in text for text in filed)

    status = user.say("我的投诉处理得怎么样了")
    assert len(status) == 2, status
    assert "已受理" in status[0] and "转账/提币问题" in status[0]
    assert status[1].startswith("您仍在排队，第 1 位")

    faq = user.say("矿工费怎么算")
    assert "矿工费" in faq[0] and faq[-1].startswith("您仍在排队，第 1 位")
    assert user.say("有人吗") == [faq[-1]]  # anything else: at least where they are
    # Someone claiming to be support wrote to the waiting user: checked at once, not queued.
    scam = user.say("这个是官方客服吗 @IMWalletOfficiaI")
    assert "不是官方的" in scam[0] and scam[-1].startswith("您仍在排队，第 1 位")

    console = AgentConsole(stack.http)
    ticket = console.ticket_of(user.sender)
    assert ticket["reason"] == "complaint"
    assert console.post(f"/tickets/{ticket['ticket_id']}/claim")[0] == 200
    # Claimed: only the agent's arrival comes back, the bot itself stays quiet.
    assert user.say("我的投诉处理得怎么样了") == ["人工客服 小李 已接入，请问有什么可以帮您？"]
    assert user.say("矿工费怎么算") == []
    console.post(f"/tickets/{ticket['ticket_id']}/close", {"note": ""})


def test_the_place_counts_the_users_ahead_and_cancelling_still_works(stack: ServedStack) -> None:
    first, second = RestUser(stack.http, "queued-first"), RestUser(stack.http, "queued-second")
    first.say("转人工")
    second.say("转人工")
    assert second.say("在吗") == [
        "您仍在排队，第 2 位，客服接入后会在这里回复您。不想等了可以点「取消排队」。"
    ]
    assert first.say("取消排队") == ["好的，已取消排队，我继续为您服务。有问题随时问我。"]
    assert second.say("在吗")[0].startswith("您仍在排队，第 1 位")
    store = HandoffStore.from_url(stack.handoff_url)
    assert store.tickets.open_for(first.sender) is None
    ticket = store.tickets.open_for(second.sender)
    assert ticket is not None and ticket.state is State.QUEUED


def test_out_of_hours_the_queued_line_says_when_agents_are_back(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    hour = datetime.now(ZoneInfo("Asia/Shanghai")).hour
    hours = "13:00-14:00" if hour < 12 else "01:00-02:00"
    with running_stack(
        tmp_path_factory.mktemp("after-hours"), in_process=True, settings={"SUPPORT_HOURS": hours}
    ) as local:
        user = RestUser(local.http, "queued-at-night")
        assert any("现在不是人工客服的服务时间" in text for text in user.say("转人工"))
        opens = hours.split("-")[0]
        assert user.say("在吗") == [
            f"您仍在排队：现在不是人工客服的服务时间，客服 {opens} 上班后（UTC+8）会在这里回复您。"
            "不想等了可以点「取消排队」。"
        ]
