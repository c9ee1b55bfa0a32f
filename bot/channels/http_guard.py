"""Rules every HTTP request and response of the server follows, whatever channel serves it.

- A request body over MAX_REQUEST_BYTES (default 256 KB) is refused with 413 from its
  ``Content-Length`` before it is read (Sanic's own default is 100 MB, which let one REST call
  grow the stores by hundreds of megabytes).
- A POST or PUT with a body to a JSON endpoint that a browser could reach (REST, agent API,
  Rasa's API) must say ``Content-Type: application/json``, else 415: a browser on another site
  can only send ``text/plain`` or form bodies without asking the server first, so this stops
  cross-site requests that guess logins or open tickets. (Telegram's webhook needs its secret
  header, which no cross-site request can carry, and reads its body whatever the type says.)
- Every response carries a strict Content-Security-Policy (no inline script or style), frame
  protection, ``nosniff`` and ``Referrer-Policy``.
- ``/`` answers without naming the Rasa version, and ``/version`` is not served.

Like ``bot.channels.api_guard`` this channel has no routes of its own; it is registered in
credentials.yml and installs its middleware when the server starts, after its services
(``bot.services``), which hold the body limit.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import BaseHTTPResponse, HTTPResponse

from bot.services import services_of, use_services

JSON_ENDPOINTS = re.compile(
    r"^/(webhooks/(rest/webhook|agent/api/.*)"
    r"|model/parse|conversations/[^/]+/(messages|tracker/events|trigger_intent|execute|predict))$"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json"


async def guard_request(request: Request) -> HTTPResponse | None:
    """The request middleware: None lets the request through."""
    if request.method == "GET" and request.path == "/":
        return response.json({"status": "ok"})
    if request.path == "/version":
        return response.json({"error": "not found"}, status=404)
    if (
        request.method in ("POST", "PUT")
        and request.body
        and JSON_ENDPOINTS.match(request.path)
        and not is_json(request.headers.get("Content-Type", ""))
    ):
        return response.json({"error": "Content-Type must be application/json"}, status=415)
    return None


async def add_headers(request: Request, reply: BaseHTTPResponse) -> None:
    """The response middleware: the security headers, unless a route set its own."""
    for name, value in SECURITY_HEADERS.items():
        if name not in reply.headers:
            reply.headers[name] = value


class HttpGuard(InputChannel):
    """Installs the body limit and the middleware; registered in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return "http_guard"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("im_http_guard", __name__)
        use_services(blueprint)

        @blueprint.listener("before_server_start")
        async def install(app: Sanic, _: Any) -> None:
            # Read by each connection as it opens, so it holds from the first request on.
            app.config.REQUEST_MAX_SIZE = services_of(app).settings.max_request_bytes
            app.register_middleware(guard_request, "request")
            app.register_middleware(add_headers, "response")

        return blueprint
