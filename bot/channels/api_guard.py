"""Guards Rasa's own HTTP API when it is enabled (RASA_API_JWT_SECRET): bad bodies, secrets.

Rasa answers an unparsable body, a message without a usable text or an Authorization header it
cannot decode with a 500, and stores whatever text a message added through the API carries.
This channel has no routes of its own: when the server starts it adds a request middleware to
the whole app that answers those with a 400 (401 for the header), limits a message to
MAX_MESSAGE_CHARS, and hides secrets (as the channel intake does) in the text of a message or
event before Rasa reads it. The channels' webhooks are not touched: they check their own bodies.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.limits import clean, encodable
from bot.secret_guard import find_secrets, redact
from bot.services import services_of, use_services

logger = logging.getLogger(__name__)

CHANNEL_PATHS = ("/webhooks/", "/socket.io")
MESSAGE_WRITES = re.compile(r"^/(model/parse|conversations/[^/]+/messages)$")
API_WRITES = re.compile(
    r"^/(model/parse|conversations/[^/]+/(messages|tracker/events|trigger_intent|execute|predict))$"
)


def usable_message(body: Any, max_chars: int) -> bool:
    """A message for the NLU: an object whose ``text`` is printable and at most ``max_chars``."""
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not encodable(text):
        return False
    return 0 < len(clean(text)) <= max_chars


def hide_secrets(value: Any) -> bool:
    """Hides secrets in the ``text`` of a message, an event or a list of events; True if any."""
    if isinstance(value, list):
        hidden = [hide_secrets(item) for item in value]  # every item, not up to the first
        return any(hidden)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        findings = find_secrets(value["text"])
        if findings:
            value["text"] = redact(value["text"], findings)
            return True
    return False


async def guard(request: Request) -> HTTPResponse | None:
    """The request middleware: None lets the request through to Rasa."""
    if request.route is None or request.path.startswith(CHANNEL_PATHS):
        return None  # not Rasa's API (or the API is disabled: Rasa answers 404)
    if not encodable(request.headers.get("Authorization", "")):
        return response.json({"error": "unreadable Authorization header"}, status=401)
    if request.method not in ("POST", "PUT") or not API_WRITES.match(request.path):
        return None
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return response.json({"error": "expected a JSON body"}, status=400)
    max_chars = services_of(request.app).settings.intake.max_chars
    if MESSAGE_WRITES.match(request.path) and not usable_message(body, max_chars):
        return response.json({"error": "expected an object with a non-empty text"}, status=400)
    if hide_secrets(body):
        logger.warning("hid a secret in a call to %s", request.path)
        request.body = json.dumps(body).encode()
        request.parsed_json = None
    return None


class RasaApiGuard(InputChannel):
    """Adds ``guard`` to the server; registered in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return "api_guard"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("im_api_guard", __name__)
        use_services(blueprint)

        @blueprint.listener("before_server_start")
        async def install(app: Sanic, _: Any) -> None:
            app.register_middleware(guard, "request")

        return blueprint
