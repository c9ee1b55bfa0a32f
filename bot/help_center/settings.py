"""Help-center settings from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.settings import ConfigError

DEFAULT_REFRESH_SECONDS = 3.0


@dataclass(frozen=True)
class HelpCenterSettings:
    """HELP_CENTER_REFRESH_SECONDS (how often a server asks whether an article was saved; an edit
    reaches every server within it) and HELP_CENTER_PUBLIC_URL (the address users reach this
    server at, so article links work in Telegram and WeChat; empty: links relative to the page,
    which only the widget can open)."""

    refresh_seconds: float
    public_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> HelpCenterSettings:
        raw = env.get("HELP_CENTER_REFRESH_SECONDS") or str(DEFAULT_REFRESH_SECONDS)
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1
        if not 0 <= seconds <= 10:
            raise ConfigError(
                f"HELP_CENTER_REFRESH_SECONDS must be 0-10 seconds (edits must reach every "
                f"server within 10 s), not {raw!r}"
            )
        public_url = (env.get("HELP_CENTER_PUBLIC_URL") or "").rstrip("/")
        if public_url and not public_url.startswith(("https://", "http://")):
            raise ConfigError(
                f"HELP_CENTER_PUBLIC_URL must be an http(s) address, not {public_url!r}"
            )
        return cls(refresh_seconds=seconds, public_url=public_url)

    def link(self, article_id: str) -> str:
        """Where a user reads the whole article."""
        return f"{self.public_url}/help/articles/{article_id}"
