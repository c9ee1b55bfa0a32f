"""The operator's settings, read from the environment once per server into one frozen ``Settings``.

``Settings.from_env()`` composes the settings of each concern (support hours, handoff, the help
center, identity, the channels' limits, client addresses, transfer checks, the wallet backend)
with ``StoreUrls``, the one place where the stores' default URLs are defined. A malformed value
raises ``ConfigError`` naming its variable, so a server refuses to start instead of failing a turn.
Settings only a channel reads (the widget's token key, Telegram's and WeChat's credentials) are
read by that channel when the Rasa server builds it: an action server has none of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.database import sqlite_in_var

DEFAULT_MAX_REQUEST_BYTES = 256 * 1024
DEFAULT_MODEL_PULL_SECONDS = 10

if TYPE_CHECKING:
    from bot.care.watches import WatchSettings
    from bot.channels.client_address import AddressSettings
    from bot.channels.limits import IntakeSettings
    from bot.dialogue.transfer_check import TransferCheckSettings
    from bot.handoff.settings import HandoffSettings
    from bot.help_center.settings import HelpCenterSettings
    from bot.identity import IdentitySettings
    from bot.link_safety.factory import LinkSafetyBackend
    from bot.support_hours import SupportHours
    from bot.wallet.factory import WalletBackend


class ConfigError(ValueError):
    """An operator setting is missing or malformed; the message names the variable."""


def positive_number(env: Mapping[str, str], name: str, default: float) -> float:
    """The setting ``name``: a finite number above 0 (``default`` when unset)."""
    raw = env.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise ConfigError(f"{name} must be a positive number, got {raw!r}")
    return value


def _max_request_bytes(env: Mapping[str, str] = os.environ) -> int:
    """MAX_REQUEST_BYTES, a positive number of bytes (``bot.channels.http_guard``)."""
    value = env.get("MAX_REQUEST_BYTES") or str(DEFAULT_MAX_REQUEST_BYTES)
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ConfigError(f"MAX_REQUEST_BYTES must be a positive number of bytes, not {value!r}")
    return limit


def _model_pull_seconds(env: Mapping[str, str] = os.environ) -> int:
    """MODEL_PULL_SECONDS: how often a server pulls the live model (``bot.improvement.pulling``);
    0 turns pulling off."""
    value = env.get("MODEL_PULL_SECONDS") or str(DEFAULT_MODEL_PULL_SECONDS)
    try:
        seconds = int(value)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise ConfigError(
            f"MODEL_PULL_SECONDS must be a whole number of seconds, 0 or more, not {value!r}"
        )
    return seconds


@dataclass(frozen=True)
class StoreUrls:
    """Where each store lives: SQLAlchemy URLs (SQLite files in ``var/`` by default) and Redis."""

    tracker: str
    handoff: str
    wallet: str
    bindings: str
    redis: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> StoreUrls:
        """TRACKER_DB_URL, HANDOFF_DB_URL, WALLET_DB_URL, BINDING_DB_URL and REDIS_URL."""
        return cls(
            tracker=env.get("TRACKER_DB_URL") or sqlite_in_var("tracker.db"),
            handoff=env.get("HANDOFF_DB_URL") or sqlite_in_var("handoff.db"),
            wallet=env.get("WALLET_DB_URL") or sqlite_in_var("wallet.db"),
            bindings=env.get("BINDING_DB_URL") or sqlite_in_var("bindings.db"),
            redis=env.get("REDIS_URL") or None,
        )


@dataclass(frozen=True)
class Settings:
    """Every setting both servers share, read and checked at once."""

    stores: StoreUrls
    hours: SupportHours
    handoff: HandoffSettings
    help_center: HelpCenterSettings
    identity: IdentitySettings
    intake: IntakeSettings
    addresses: AddressSettings
    transfer_check: TransferCheckSettings
    watches: WatchSettings
    wallet_backend: WalletBackend | None
    link_safety: LinkSafetyBackend | None
    development: bool
    max_request_bytes: int
    model_pull_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        # Imported here: each of these modules raises ConfigError, which it imports from this one.
        from bot.care.watches import WatchSettings
        from bot.channels.client_address import AddressSettings
        from bot.channels.limits import IntakeSettings
        from bot.deployment import is_development
        from bot.dialogue.transfer_check import TransferCheckSettings
        from bot.handoff.settings import HandoffSettings
        from bot.help_center.settings import HelpCenterSettings
        from bot.identity import IdentitySettings
        from bot.link_safety.factory import LinkSafetyBackend
        from bot.support_hours import SupportHours
        from bot.wallet.factory import WalletBackend

        return cls(
            stores=StoreUrls.from_env(env),
            hours=SupportHours.from_env(env),
            handoff=HandoffSettings.from_env(env),
            help_center=HelpCenterSettings.from_env(env),
            identity=IdentitySettings.from_env(env),
            intake=IntakeSettings.from_env(env),
            addresses=AddressSettings.from_env(env),
            transfer_check=TransferCheckSettings.from_env(env),
            watches=WatchSettings.from_env(env),
            wallet_backend=WalletBackend.from_env(env),
            link_safety=LinkSafetyBackend.from_env(env),
            development=is_development(env),
            max_request_bytes=_max_request_bytes(env),
            model_pull_seconds=_model_pull_seconds(env),
        )
