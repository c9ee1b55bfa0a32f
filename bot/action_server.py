"""Runs the rasa-sdk action server, which checks no credentials, behind a shared secret.

With ACTION_SERVER_SECRET set, every call but ``GET /health`` must carry it in the
``X-Action-Secret`` header (Rasa sends it, see endpoints.yml). Without it the server only starts
on a loopback ACTION_INTERFACE, so that nothing off the host can run actions as any user. The
actions' settings are read at start (``bot.action_services``) and the stores they use opened
before the first call. It is a serving process: TensorFlow and jax are left out as in the Rasa
server (``bot.serving``), so the help center's BM25 library, which probes for jax, uses numpy.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import ipaddress
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rasa_sdk import utils
from rasa_sdk.constants import DEFAULT_SERVER_PORT
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import serving
from bot.action_services import services
from bot.settings import ConfigError

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Action-Secret"
ACTIONS_PACKAGE = "actions"
DEFAULT_INTERFACE = "127.0.0.1"


def is_loopback(interface: str) -> bool:
    """Whether binding ``interface`` keeps the server reachable from this host only."""
    if interface == "localhost":
        return True
    try:
        return ipaddress.ip_address(interface).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ActionServerSettings:
    """Where the action server listens and the secret callers must present."""

    interface: str
    port: int
    secret: bytes | None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] = os.environ, port: int | None = None
    ) -> ActionServerSettings:
        interface = env.get("ACTION_INTERFACE") or DEFAULT_INTERFACE
        if port is None:
            raw_port = env.get("ACTION_PORT") or str(DEFAULT_SERVER_PORT)
            try:
                port = int(raw_port)
            except ValueError as error:
                raise ConfigError(f"ACTION_PORT must be a port number, got {raw_port!r}") from error
        # The Makefile exports an empty value so that endpoints.yml expands: empty means unset.
        secret = env.get("ACTION_SERVER_SECRET") or None
        if secret is None and not is_loopback(interface):
            raise ConfigError(
                f"ACTION_SERVER_SECRET must be set to listen on {interface} (ACTION_INTERFACE);"
                " without it the action server only listens on loopback"
            )
        return cls(interface, port, secret.encode() if secret else None)


def require_secret(app: Sanic, secret: bytes) -> None:
    """Answers 401 to every request to ``app`` but GET /health without the right secret."""

    @app.on_request
    async def check_secret(request: Request) -> HTTPResponse | None:
        if request.method == "GET" and request.path == "/health":
            return None
        # Sanic keeps undecodable header bytes as surrogates; they must compare, not crash.
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if hmac.compare_digest(given, secret):
            return None
        logger.warning("Rejected %s %s: no valid %s", request.method, request.path, SECRET_HEADER)
        return response.json({"error": f"missing or wrong {SECRET_HEADER} header"}, status=401)


async def open_stores(_: Sanic, __: Any) -> None:
    """Opens the stores the actions use (creating their tables) and builds the help center's
    index off the event loop, before the first action would."""
    actions = services()
    await asyncio.to_thread(lambda: (actions.handoff, actions.wallet, actions.help_center.load()))


def build_app(settings: ActionServerSettings) -> Sanic:
    """The rasa-sdk app for the ``actions`` package, as `rasa run actions` builds it."""
    # Imported late: its sanic_cors import prints a DeprecationWarning (Sanic re-enables them),
    # which would bury the one-line error of a refused start.
    from rasa_sdk.endpoint import create_app

    # No CORS: Rasa calls this server, never a browser (`rasa run actions` without --cors).
    app = create_app(ACTIONS_PACKAGE, cors_origins=None)
    if settings.secret is not None:
        require_secret(app, settings.secret)
    app.register_listener(open_stores, "before_server_start")
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    serving.install()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, help="overrides ACTION_PORT (default 5055)")
    utils.add_logging_level_option_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings = ActionServerSettings.from_env(port=args.port)
        services()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    if settings.secret is None:
        logger.warning(
            "ACTION_SERVER_SECRET is not set: calls are unauthenticated, listening on %s only",
            settings.interface,
        )
    app = build_app(settings)
    logger.info("Action server on http://%s:%s", settings.interface, settings.port)
    app.run(settings.interface, settings.port, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
