"""Chooses the link safety adapter from configuration.

LINK_SAFETY_URL set -> HTTP adapter (LINK_SAFETY_TOKEN, LINK_SAFETY_TIMEOUT) after the local
lists; unset -> the local adapter alone (data/official_channels.yml and data/denylist.yml).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.link_safety.service import LinkSafety
from bot.settings import ConfigError, positive_number


@dataclass(frozen=True)
class LinkSafetyBackend:
    """The checking service's HTTP API: its base URL, bearer token and timeout."""

    url: str
    token: str
    timeout: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> LinkSafetyBackend | None:
        """The service of LINK_SAFETY_URL; None without one (the local adapter)."""
        url = env.get("LINK_SAFETY_URL")
        if not url:
            return None
        token = env.get("LINK_SAFETY_TOKEN")
        if not token:
            raise ConfigError("LINK_SAFETY_TOKEN must be set when LINK_SAFETY_URL is")
        return cls(url, token, positive_number(env, "LINK_SAFETY_TIMEOUT", cls.timeout))


def link_safety_service(backend: LinkSafetyBackend | None) -> LinkSafety:
    """The HTTP adapter on ``backend`` after the local lists; without one, the local adapter."""
    # Imported here: the local adapter reads the outbound guard's official channels, and the
    # guard's module imports bot.services, which imports this one.
    from bot.link_safety.local import LocalLinkSafety

    local = LocalLinkSafety.from_files()
    if backend is None:
        return local

    from bot.link_safety.http import HttpLinkSafety

    return HttpLinkSafety(backend.url, token=backend.token, local=local, timeout=backend.timeout)
