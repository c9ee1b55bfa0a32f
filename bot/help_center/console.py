"""The lead's help-center editor in the agent console, and the articles suggested on a ticket.

    GET  /webhooks/agent/kb                              the page
    GET  /webhooks/agent/api/kb/articles                 every article, retired ones too
    GET  /webhooks/agent/api/kb/articles/<id>            its text, revision and history
    POST /webhooks/agent/api/kb/articles                 {text}: a new article
    POST /webhooks/agent/api/kb/articles/<id>            {text, revision}: an edit
    POST /webhooks/agent/api/kb/articles/<id>/retire     {revision}
    POST /webhooks/agent/api/kb/preview                  {text}: parsed and rendered, not saved
    GET  /webhooks/agent/api/tickets/<id>/articles       three articles for the ticket: any agent

The editor's routes are the ``lead`` role's (403 for an agent, 401 without a session). A text
that cannot be served is refused with the reason (400, ``ArticleError``), and a save made from a
revision that is no longer the current one with 409 (``EditConflict``): the lead reloads rather
than overwrites. Saved articles reach every server's answers within HELP_CENTER_REFRESH_SECONDS
(``bot.help_center.library``). Every store call runs off the event loop; the routes sit beside
the console's, with its sessions (``bot.handoff.console``).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.shared.core.events import UserUttered
from sanic import response
from sanic.models.handler_types import RouteHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.access import RoleCheck
from bot.handoff.console_io import bad_request, body, denied
from bot.help_center.articles import ARTICLE_ID, MAX_ID, ArticleError, parse_article
from bot.help_center.library import HelpCenter
from bot.help_center.rendering import render_article
from bot.help_center.store import ArticleStore, EditConflict, StoredArticle, Version
from bot.services import services_of

logger = logging.getLogger(__name__)

PAGE = Path(__file__).resolve().parents[1] / "handoff" / "static" / "agent_kb.html"
SUGGESTIONS = 3
# The user's messages a ticket's suggestions are found from: the newest, as the agent reads them.
SUGGESTION_MESSAGES = 5
MAX_REVISION = 2**31 - 1
MAX_TICKET_ID = 2**63
EDITOR_TASK = "edits help-center articles"


class ArticleMissing(LookupError):
    """No article has the id a route names."""


class KnowledgeHandlers:
    """The editor's and the suggestions' routes, on the server's help center or the one given."""

    def __init__(self, roles: RoleCheck, help_center: HelpCenter | None = None) -> None:
        self._roles = roles
        self._given = help_center

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        """(method, URI, handler) of every route, relative to the console's prefix."""
        return [
            ("GET", "/kb", self.page),
            ("GET", "/api/kb/articles", self.listed),
            ("GET", "/api/kb/articles/<article_id:str>", self.detail),
            ("POST", "/api/kb/articles", self.create),
            ("POST", "/api/kb/articles/<article_id:str>", self.edit),
            ("POST", "/api/kb/articles/<article_id:str>/retire", self.retire),
            ("POST", "/api/kb/preview", self.preview),
            ("GET", "/api/tickets/<ticket_id:int>/articles", self.suggestions),
        ]

    async def page(self, _: Request) -> HTTPResponse:
        return response.html(PAGE.read_text(encoding="utf-8"))

    async def listed(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request, EDITOR_TASK)
        if refused is not None:
            return refused
        stored = await asyncio.to_thread(self._store(request).all)
        return response.json({"articles": [_summary_json(article) for article in stored]})

    async def detail(self, request: Request, article_id: str) -> HTTPResponse:
        refused = await self._roles.refused(request, EDITOR_TASK)
        if refused is not None:
            return refused
        store = self._store(request)
        if not _is_id(article_id):
            return _missing()
        found = await asyncio.to_thread(_with_history, store, article_id)
        return _missing() if found is None else response.json(_detail_json(*found))

    async def create(self, request: Request) -> HTTPResponse:
        lead = await self._roles.supervisor(request, EDITOR_TASK)
        if not isinstance(lead, str):
            return lead
        text = (body(request) or {}).get("text")
        if not isinstance(text, str):
            return bad_request("text required")
        store = self._store(request)

        def save() -> tuple[StoredArticle, list[Version]]:
            saved = store.save(text, lead, None)
            return saved, store.history(saved.article.article_id)

        return await self._saving(save, "created", lead)

    async def edit(self, request: Request, article_id: str) -> HTTPResponse:
        lead = await self._roles.supervisor(request, EDITOR_TASK)
        if not isinstance(lead, str):
            return lead
        data = body(request) or {}
        text, revision = data.get("text"), _revision(data)
        if not isinstance(text, str) or revision is None:
            return bad_request("text and revision required")
        if not _is_id(article_id):
            return _missing()
        store = self._store(request)

        def save() -> tuple[StoredArticle, list[Version]]:
            written = parse_article(text).article_id
            if written != article_id:
                raise ArticleError(f"the text's id is {written!r}, not {article_id!r}")
            if store.get(article_id) is None:
                raise ArticleMissing(article_id)
            saved = store.save(text, lead, revision)
            return saved, store.history(article_id)

        return await self._saving(save, "saved", lead)

    async def retire(self, request: Request, article_id: str) -> HTTPResponse:
        lead = await self._roles.supervisor(request, EDITOR_TASK)
        if not isinstance(lead, str):
            return lead
        revision = _revision(body(request) or {})
        if revision is None:
            return bad_request("revision required")
        if not _is_id(article_id):
            return _missing()
        store = self._store(request)

        def retire() -> tuple[StoredArticle, list[Version]]:
            current = store.get(article_id)
            if current is None:
                raise ArticleMissing(article_id)
            if current.retired:
                raise EditConflict(f"article {article_id!r} is retired already")
            retired = store.retire(article_id, lead, revision)
            return retired, store.history(article_id)

        return await self._saving(retire, "retired", lead)

    async def preview(self, request: Request) -> HTTPResponse:
        refused = await self._roles.refused(request, EDITOR_TASK)
        if refused is not None:
            return refused
        text = (body(request) or {}).get("text")
        if not isinstance(text, str):
            return bad_request("text required")

        def render() -> dict[str, Any]:
            article = parse_article(text)
            rendered = render_article(article)
            return {
                "article": {
                    "id": article.article_id,
                    "title": article.title,
                    "summary": article.summary,
                    "questions": list(article.questions),
                    "tags": list(article.tags),
                    "intents": list(article.intents),
                },
                "html": rendered.body_html,
            }

        try:
            return response.json(await asyncio.to_thread(render))
        except ArticleError as error:
            return bad_request(str(error))

    async def suggestions(self, request: Request, ticket_id: int) -> HTTPResponse:
        if await self._roles.agent(request) is None:
            return denied()
        ticket = (
            await asyncio.to_thread(self._roles.store(request).tickets.get, ticket_id)
            if ticket_id < MAX_TICKET_ID
            else None
        )
        if ticket is None:
            return response.json({"error": "no such ticket"}, status=404)
        agent: Agent = request.app.ctx.agent
        tracker = await agent.tracker_store.retrieve(ticket.conversation_id)
        said = _user_texts(tracker.events) if tracker is not None else []
        question = "\n".join(said or ticket.summary.last_messages)
        help_center = self._help_center(request)

        def suggest() -> list[dict[str, str]]:
            found = help_center.suggest(question, SUGGESTIONS) if question.strip() else []
            return [
                {"id": article.article_id, "title": article.title, "summary": article.summary}
                for article in found
            ]

        return response.json({"articles": await asyncio.to_thread(suggest)})

    async def _saving(self, write: Any, done: str, lead: str) -> HTTPResponse:
        """The article ``write`` saved (off the loop), or why it was not."""
        try:
            saved, history = await asyncio.to_thread(write)
        except ArticleMissing:
            return _missing()
        except ArticleError as error:
            return bad_request(str(error))
        except EditConflict as error:
            return response.json({"error": str(error)}, status=409)
        logger.info(
            "help article %s %s by %s (revision %d)",
            saved.article.article_id,
            done,
            lead,
            saved.revision,
        )
        return response.json(_detail_json(saved, history))

    def _help_center(self, request: Request) -> HelpCenter:
        return self._given or services_of(request.app).help_center

    def _store(self, request: Request) -> ArticleStore:
        return self._help_center(request).store


def _is_id(article_id: str) -> bool:
    return len(article_id) <= MAX_ID and ARTICLE_ID.fullmatch(article_id) is not None


def _revision(data: dict[str, Any]) -> int | None:
    revision = data.get("revision")
    if isinstance(revision, bool) or not isinstance(revision, int):
        return None
    return revision if 1 <= revision <= MAX_REVISION else None


def _missing() -> HTTPResponse:
    return response.json({"error": "no such article"}, status=404)


def _with_history(
    store: ArticleStore, article_id: str
) -> tuple[StoredArticle, list[Version]] | None:
    stored = store.get(article_id)
    return None if stored is None else (stored, store.history(article_id))


def _user_texts(events: Any) -> list[str]:
    """The user's newest messages, without the payloads of buttons (``/intent{…}``)."""
    texts = [
        event.text
        for event in events
        if isinstance(event, UserUttered) and event.text and not event.text.startswith("/")
    ]
    return texts[-SUGGESTION_MESSAGES:]


def _summary_json(stored: StoredArticle) -> dict[str, Any]:
    return {
        "id": stored.article.article_id,
        "title": stored.article.title,
        "revision": stored.revision,
        "retired": stored.retired,
        "updated_by": stored.updated_by,
        "updated_at": stored.updated_at.isoformat(),
    }


def _detail_json(stored: StoredArticle, history: list[Version]) -> dict[str, Any]:
    return {
        **_summary_json(stored),
        "summary": stored.article.summary,
        "text": stored.text,
        "history": [
            {
                "revision": version.revision,
                "author": version.author,
                "saved_at": version.saved_at.isoformat(),
                "diff": version.diff,
                "retired": version.retired,
            }
            for version in history
        ],
    }
