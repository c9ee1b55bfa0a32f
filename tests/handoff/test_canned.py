"""Canned replies: who sees which, filling in a ticket's values, and concurrent edits."""

from __future__ import annotations

import pytest

from bot.handoff.canned import CannedError, EditConflict, fill
from bot.handoff.records import Team
from bot.handoff.store import HandoffStore


def test_an_agent_sees_their_own_and_their_teams_replies_only(store: HandoffStore) -> None:
    canned = store.canned
    canned.create("li", "hi", "您好，我是小李", None)
    canned.create("wang", "hi2", "您好，我是小王", None)
    canned.create("chen", "gas", "矿工费说明", Team.GENERAL)
    canned.create("chen", "theft", "被盗处理步骤", Team.SECURITY)
    seen = {r.shortcut for r in canned.visible_to("li", (Team.GENERAL,))}
    assert seen == {"hi", "gas"}
    both = {r.shortcut for r in canned.visible_to("li", (Team.GENERAL, Team.SECURITY))}
    assert both == {"hi", "gas", "theft"}


def test_search_puts_shortcuts_starting_with_the_query_first(store: HandoffStore) -> None:
    store.canned.create("li", "wait", "请稍等，正在为您查询 gas", None)
    store.canned.create("li", "gas", "矿工费说明", None)
    found = [r.shortcut for r in store.canned.visible_to("li", (), "ga")]
    assert found == ["gas", "wait"]
    assert store.canned.visible_to("li", (), "退款") == []


def test_an_edit_on_a_stale_revision_is_refused(store: HandoffStore) -> None:
    reply = store.canned.create("li", "hi", "您好", None)
    saved = store.canned.update(reply.reply_id, "li", "hi", "您好！", reply.revision)
    assert (saved.revision, saved.text) == (2, "您好！")
    with pytest.raises(EditConflict):
        store.canned.update(reply.reply_id, "li", "hi", "覆盖别人的修改", reply.revision)
    with pytest.raises(EditConflict):
        store.canned.delete(reply.reply_id, "li", reply.revision)
    store.canned.delete(reply.reply_id, "li", saved.revision)
    assert store.canned.get(reply.reply_id) is None


@pytest.mark.parametrize(
    ("shortcut", "text"),
    [("", "x"), ("a b", "x"), ("x" * 33, "x"), ("ok", ""), ("ok", "长" * 2001)],
)
def test_unusable_replies_are_refused_with_the_reason(
    store: HandoffStore, shortcut: str, text: str
) -> None:
    with pytest.raises(CannedError):
        store.canned.create("li", shortcut, text, None)


def test_variables_are_filled_and_the_unknown_ones_listed() -> None:
    text, missing = fill(
        "工单 {ticket_number}，交易 {tx_hash}：{explorer_link}。{other}",
        {"ticket_number": "#7", "tx_hash": "0xabc", "explorer_link": None},
    )
    assert text == "工单 #7，交易 0xabc：{explorer_link}。{other}"
    assert missing == ["explorer_link"]
