"""Answers from the help center: the best article's short answer, then 有帮助 / 没帮助.

``action_help_center`` runs for a question the classifier sends to the help center and for one
it is unsure of (``bot.help_center.routing``): the best article that fits, with the link to the
whole article and two buttons. When none fits it asks which of the likely topics was meant
(``bot.dialogue.clarify``), the question is kept for the report's "no article fitted", and
``help_found`` is false: the rules take a second unclear message or 都不是 to a human, as the
clarification always did. A button of the "more articles" offer names its article
(``/help_center{"help_article": …}``).

An article on a wallet-care topic also offers the check of the user's own wallet
(``ARTICLE_CHECKS``): the approvals after an article on approvals, the history after the one on
address poisoning (both for a proven owner), and the check of a pasted handle or link after the
ones on official channels and impersonation.

``action_help_feedback`` takes the answer to 有帮助吗: 有帮助 is counted; 没帮助 is counted and
offers the next two articles, and a second 没帮助 hands the conversation to a human.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import sqlalchemy as sa
from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff
from actions.wallet_action import WalletAction, send
from bot.action_services import services
from bot.dialogue.clarify import clarify_buttons, load_intent_labels
from bot.dialogue.replies import Reply
from bot.help_center.articles import Article
from bot.help_center.library import HelpCenter
from bot.help_center.routing import SEARCHED_INTENTS
from bot.help_center.store import Event

logger = logging.getLogger(__name__)

MORE_ARTICLES = 2
FEEDBACK_BUTTONS = [
    {"title": "👍 有帮助", "payload": "/affirm"},
    {"title": "👎 没帮助", "payload": "/deny"},
]
TO_HUMAN_BUTTON = {"title": "都不是，转人工", "payload": "/request_human"}
# Articles followed by a check of the user's own case (``actions.care``): the check's intent,
# and whether it needs a proven owner.
ARTICLE_CHECKS = {
    "address-poisoning": ("address_safety", True),
    "approval-theft": ("approval_safety", True),
    "revoke-approval": ("approval_safety", True),
    "what-is-approval": ("approval_safety", True),
    "official-channels": ("verify_official", False),
    "support-impersonation": ("verify_official", False),
    "phishing-sites": ("verify_official", False),
}


def check_buttons(article_id: str, identified: bool) -> list[dict[str, str]]:
    """The button of the check an article leads to, titled as the intent's label."""
    check = ARTICLE_CHECKS.get(article_id)
    if check is None or (check[1] and not identified):
        return []
    intent = check[0]
    return [{"title": load_intent_labels().titles[intent], "payload": f"/{intent}"}]


def article_button(article: Article) -> dict[str, str]:
    return {
        "title": article.title,
        "payload": "/help_center" + json.dumps({"help_article": article.article_id}),
    }


async def record(
    help_center: HelpCenter, kind: Event, article_id: str | None, question: str | None = None
) -> None:
    """Counts a user's event; a lost count never costs the user an answer."""
    try:
        await asyncio.to_thread(help_center.store.record, kind, article_id, question)
    except sa.exc.SQLAlchemyError as error:
        logger.error("help center event %s not recorded: %s", kind.value, error)


class HelpCenterAction(WalletAction):
    """An action on the help center: the server's, unless a test passes one in."""

    def __init__(self, help_center: HelpCenter | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._help_center = help_center

    @property
    def help_center(self) -> HelpCenter:
        return self._help_center or services().help_center


class ActionHelpCenter(HelpCenterAction):
    """The best article's short answer and link, or ``help_found`` false when none fits."""

    def name(self) -> str:
        return "action_help_center"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        chosen = next(tracker.get_latest_entity_values("help_article"), None)
        question = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        shown: list[Article]
        others: list[Article]
        try:
            if chosen is not None:
                article = await self.call(self.help_center.article, str(chosen))
                shown, others = ([article], []) if article is not None else ([], [])
            else:
                shown, others = await self._search(question, intent in SEARCHED_INTENTS)
        except sa.exc.SQLAlchemyError as error:
            logger.error("help center unavailable, asking for the topic instead: %s", error)
            return self._clarify(dispatcher, tracker)
        if not shown:
            if chosen is None:
                await record(self.help_center, Event.UNANSWERED, None, question)
            return self._clarify(dispatcher, tracker)
        article = shown[0]
        await record(self.help_center, Event.VIEW, article.article_id)
        link = services().settings.help_center.link(article.article_id)
        reply = Reply(
            "utter_help_article",
            {"title": article.title, "summary": article.summary, "link": link},
            FEEDBACK_BUTTONS + check_buttons(article.article_id, account_id is not None),
        )
        send(dispatcher, [reply])
        # An article picked from the "more" offer: a 没帮助 now goes to a human.
        state = {
            "shown": article.article_id,
            "others": [other.article_id for other in others],
            "more_offered": chosen is not None,
        }
        return [SlotSet("help_found", True), SlotSet("help_articles", state)]

    @staticmethod
    def _clarify(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        buttons = clarify_buttons(ranking, load_intent_labels())
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return [SlotSet("help_found", False)]

    async def _search(self, question: str, searched: bool) -> tuple[list[Article], list[Article]]:
        if not searched:
            return [], []
        articles = await self.call(self.help_center.find, question, 1 + MORE_ARTICLES)
        return articles[:1], articles[1:]


class ActionHelpFeedback(ActionHandoff):
    """Counts 有帮助 / 没帮助; after 没帮助, the next articles, then a human."""

    def __init__(self, help_center: HelpCenter | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._help_center = help_center

    def name(self) -> str:
        return "action_help_feedback"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        state = tracker.get_slot("help_articles") or {}
        shown = state.get("shown") if isinstance(state, dict) else None
        helpful = (tracker.latest_message.get("intent") or {}).get("name") == "affirm"
        help_center = self._help_center or services().help_center
        if helpful:
            await record(help_center, Event.HELPFUL, shown)
            send(dispatcher, [Reply("utter_help_glad")])
            return []
        await record(help_center, Event.UNHELPFUL, shown)
        others = [] if state.get("more_offered") else list(state.get("others") or [])
        articles = await self.call(help_center.articles, others[:MORE_ARTICLES])
        more = [article_button(article) for article in articles]
        if more:
            send(dispatcher, [Reply("utter_help_more", buttons=[*more, TO_HUMAN_BUTTON])])
            return [SlotSet("help_articles", {**state, "more_offered": True})]
        send(dispatcher, [Reply("utter_help_to_human")])
        return await super().act(dispatcher, tracker, account_id)
