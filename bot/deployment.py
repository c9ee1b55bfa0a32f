"""Development or production: SUPPORT_ENV, ``production`` unless it says ``development``.

Production is the default, so a deployment that forgets the setting gets the strict behaviour.
``make run`` sets ``development`` only when it falls back to generated development secrets, and
says so loudly. Development relaxes what a local trial cannot provide: a widget token audience,
WeChat's safe mode for binding.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from bot.settings import ConfigError

MODES = ("production", "development")


def is_development(env: Mapping[str, str] = os.environ) -> bool:
    """Whether SUPPORT_ENV says development; ConfigError for a value that is neither."""
    mode = (env.get("SUPPORT_ENV") or "production").strip().lower()
    if mode not in MODES:
        raise ConfigError(f"SUPPORT_ENV must be one of {', '.join(MODES)}, not {mode!r}")
    return mode == "development"
