"""The public help-center article page: the link a chat answer carries.

    GET /help/articles/<id>                  title, summary and body of a live article
    GET /help/static/help_article.css        its style (the CSP allows no inline style)

The page is served by the Rasa server at its root (``HelpCenterSettings.link`` is
``HELP_CENTER_PUBLIC_URL/help/articles/<id>``), from the same live articles the server answers
with (``services_of(app).help_center``), so an edit shows within HELP_CENTER_REFRESH_SECONDS. An
unknown or retired id gets a 404 page. The template escapes the title and summary; the body
is rendered without HTML, links or images (``bot.help_center.rendering``). The channel is
registered in credentials.yml, at the root as ``bot.channels.metrics`` is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.help_center.articles import ARTICLE_ID, MAX_ID
from bot.help_center.library import HelpCenter
from bot.help_center.rendering import RenderedArticle, render_article
from bot.services import services_of, use_services

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE = "help_article.html"
STYLE = "help_article.css"
# Articles change in the console: a browser asks again rather than show an old version.
HEADERS = {"Cache-Control": "no-cache"}


def page_templates() -> Environment:
    """The page's template (the channel loads it once, when the server builds its routes)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )


def article_page(templates: Environment, article: RenderedArticle | None) -> str:
    """The page of ``article``; the "no such article" page for None."""
    return templates.get_template(PAGE).render(article=article)


class HelpPages(InputChannel):
    """Serves the article pages at the server's root; registered in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return "help"

    def __init__(self, help_center: HelpCenter | None = None) -> None:
        self._help_center = help_center

    def url_prefix(self) -> str:
        # Rasa mounts channels at urljoin("/webhooks/", prefix): "/" puts /help at the root.
        return "/"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        pages = Blueprint("im_help_pages", __name__)
        templates = page_templates()
        use_services(pages)

        @pages.route("/help/articles/<article_id:str>", methods=["GET"])
        async def article(request: Request, article_id: str) -> HTTPResponse:
            help_center = self._help_center or services_of(request.app).help_center
            rendered = (
                await asyncio.to_thread(_rendered, help_center, article_id)
                if len(article_id) <= MAX_ID and ARTICLE_ID.fullmatch(article_id)
                else None
            )
            return response.html(
                article_page(templates, rendered), status=200 if rendered else 404, headers=HEADERS
            )

        @pages.route(f"/help/static/{STYLE}", methods=["GET"])
        async def style(_: Request) -> HTTPResponse:
            return await response.file(TEMPLATES / STYLE, mime_type="text/css; charset=utf-8")

        return pages


def _rendered(help_center: HelpCenter, article_id: str) -> RenderedArticle | None:
    article = help_center.article(article_id)
    return None if article is None else render_article(article)
