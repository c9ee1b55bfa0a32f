"""The action server's ``Services``: the one accessor the actions reach the stores through.

rasa-sdk builds every action without arguments, so an action cannot be handed its services the
way a channel is; it asks ``services()`` instead, unless a test passed it what it uses. The
server (``bot.action_server``) asks first, at start, so a malformed setting stops it there, and
opens the stores off the event loop. This is a module of its own because the server runs as
``__main__``: a global there would not be the one the actions import.
"""

from __future__ import annotations

import threading

from bot.services import Services
from bot.settings import Settings

_services: Services | None = None
_lock = threading.Lock()


def services() -> Services:
    """This process's services, built from the environment the first time they are asked for."""
    global _services
    with _lock:
        if _services is None:
            _services = Services(Settings.from_env())
        return _services
