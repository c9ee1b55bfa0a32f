"""Wallet care on the production stack (two servers on one PostgreSQL and one Redis): demo-alice,
proven by the widget's signed token, is shown the evidence card of her confirmed transfer once
on a tab of each server, is shown her denylisted approval first with the revoke steps on the
other server, and is warned about her poisoned transfer first; the human she then asks for is
an urgent ticket of the security team.

The poisoning test comes last and closes its ticket through the console: demo-alice's widget
conversation is shared by every test of the session's production stack, and it must be the
bot's again, without an open ticket, for the tests after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.channels.widget import conversation_of
from bot.handoff.records import Team, Urgency
from bot.handoff.store import HandoffStore
from bot.privacy import mask_address
from bot.wallet.demo_data import (
    ALICE,
    DENYLISTED_TRON_SPENDER,
    EXCHANGE_TRON,
    POISON_TRON,
    TX_CONFIRMED,
    TX_POISONED,
)
from scripts.local_stack import widget_token
from scripts.production_stack import ProductionStack
from tests.support.http import Http, WidgetUser, fresh_address
from tests.support.stack import close_ticket

CARD_TXID_ROW = {"label": "交易哈希", "value": TX_CONFIRMED}
CARD_TXID_TEXT = f"交易哈希：{TX_CONFIRMED}"  # the card's row as the response's text writes it


@contextlib.asynccontextmanager
async def alice_on(*urls: str) -> AsyncIterator[list[WidgetUser]]:
    """Demo-alice's widget open on a tab of each of ``urls``, the first to type in."""
    tabs = [WidgetUser(url, fresh_address()) for url in urls]
    try:
        for tab in tabs:
            assert await tab.open(widget_token(ALICE), timeout=30), tab.refusal
        yield tabs
    finally:
        for tab in tabs:
            await tab.close()


async def shown(tabs: list[WidgetUser], text: str) -> list[list[dict[str, Any]]]:
    """The socket messages each tab showed for ``text``, typed in the first tab."""
    before = [len(tab.messages) for tab in tabs]
    await tabs[0].say(text)
    for tab in tabs[1:]:  # the other servers' tabs get the turn through Redis
        await tab.quiet()
    return [tab.messages[count:] for tab, count in zip(tabs, before, strict=True)]


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(message.get("text") or "") for message in messages]


def test_the_evidence_card_is_shown_once_on_a_tab_of_each_server(
    production: ProductionStack,
) -> None:
    async def scenario() -> list[list[dict[str, Any]]]:
        async with alice_on(*production.base_urls) as tabs:
            return await shown(tabs, f"转到交易所的U没到账 txid {TX_CONFIRMED}")

    for messages in asyncio.run(scenario()):
        # The card's facts once: as a card, with no plain-text bubble repeating them.
        carrying = [
            message
            for message in messages
            if "evidence_card" in message or CARD_TXID_TEXT in str(message.get("text") or "")
        ]
        assert len(carrying) == 1, texts(messages)
        card = carrying[0].get("evidence_card")
        assert card is not None, carrying
        assert CARD_TXID_ROW in card["fields"], card
        assert card["copy_text"].splitlines()[0] == CARD_TXID_TEXT
        assert card["explorer_link"] and TX_CONFIRMED in card["explorer_link"], card


def test_the_denylisted_approval_comes_first_with_the_revoke_steps(
    production: ProductionStack,
) -> None:
    async def scenario() -> list[str]:
        async with alice_on(production.base_urls[1]) as (tab,):
            return await tab.say("我的授权安全吗")

    answer = asyncio.run(scenario())
    assert answer[0].startswith("您的钱包有") and "生效中的授权" in answer[0], answer
    denylisted = answer[1]
    assert "诈骗名单" in denylisted and "TRON" in denylisted, answer
    assert mask_address(DENYLISTED_TRON_SPENDER) in denylisted, answer
    steps = [text for text in answer if "授权管理" in text and "取消授权" in text]
    assert steps, answer


def test_a_poisoned_transfer_is_warned_about_first_and_its_handoff_goes_to_security(
    production: ProductionStack,
) -> None:
    first, second = production.base_urls
    store = HandoffStore.from_url(production.store_urls["HANDOFF_DB_URL"])
    conversation = conversation_of(ALICE, production.nodes[0].identity_secret.encode())
    earlier = store.tickets.open_for(conversation)
    if earlier is not None:  # an earlier test's: this conversation starts without a ticket
        close_ticket(store, Http.to(second), earlier)

    async def scenario() -> tuple[list[str], list[str]]:
        async with alice_on(first) as (tab,):
            warned = await tab.say(f"我转的1500U一直没到 {TX_POISONED}")
            handed_over = await tab.say("转人工")
            return warned, handed_over

    warned, handed_over = asyncio.run(scenario())
    ticket = store.tickets.open_for(conversation)
    try:
        assert POISON_TRON in warned[0] and EXCHANGE_TRON in warned[0], warned
        assert "地址投毒" in warned[0], warned
        assert any("已为您转接人工客服" in text for text in handed_over), handed_over
        assert ticket is not None, "no ticket after 转人工"
        assert (ticket.team, ticket.urgency) == (Team.SECURITY, Urgency.URGENT), ticket
        assert ticket.channel == "widget"
    finally:
        if ticket is not None:
            close_ticket(store, Http.to(second), ticket)
    assert store.tickets.open_for(conversation) is None, "the ticket was not closed"
