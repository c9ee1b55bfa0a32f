"""Base of the actions that use the wallet port (and the link safety port): identity, error
replies, timing."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from bot.action_services import services
from bot.channels.limits import CLIENT_FIELD
from bot.dialogue.replies import Reply
from bot.identity import IdentitySettings, proven_owner, verified_account
from bot.link_safety.service import LinkSafety
from bot.privacy import mask_account_id
from bot.rate_limits import Rule
from bot.wallet.errors import AccountNotFound, WalletError
from bot.wallet.service import WalletService

logger = logging.getLogger(__name__)
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class WalletAction(Action, ABC):
    """An action that may look up the proven owner's account; port errors become polite replies.

    rasa-sdk builds actions without arguments, so the port and the settings come from the action
    server's services (``bot.action_services``) unless a test passes them in.
    """

    def __init__(
        self,
        wallet: WalletService | None = None,
        identity: IdentitySettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        link_safety: LinkSafety | None = None,
    ) -> None:
        self._wallet = wallet
        self._identity = identity
        self._link_safety = link_safety
        self.clock = clock

    @property
    def wallet(self) -> WalletService:
        return self._wallet or services().wallet

    @property
    def link_safety(self) -> LinkSafety:
        return self._link_safety or services().link_safety

    @property
    def display_zone(self) -> Any:
        """Times are shown in the support time zone (SUPPORT_TIMEZONE)."""
        return services().settings.hours.timezone

    @property
    def identity(self) -> IdentitySettings:
        return self._identity or services().identity

    def account_id(self, tracker: Tracker) -> str | None:
        metadata = tracker.latest_message.get("metadata")
        return verified_account(metadata, tracker.sender_id, self.identity)

    def is_owner(self, tracker: Tracker) -> bool:
        """Whether the sender owns the conversation (a REST client: with its token)."""
        metadata = tracker.latest_message.get("metadata")
        return proven_owner(metadata, tracker.sender_id, self.identity)

    async def client_admitted(self, tracker: Tracker, scope: str, rule: Rule) -> bool:
        """``rule`` per client address (shared by every server); clients not limited pass."""
        client = (tracker.latest_message.get("metadata") or {}).get(CLIENT_FIELD)
        if not isinstance(client, str):
            return True
        admission = await services().limiter.admit(scope, client, rule)
        if not admission.admitted:
            logger.warning("%s limited for conversation %s", scope, tracker.sender_id)
        return admission.admitted

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs a blocking port call off the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        started = time.perf_counter()
        account_id = self.account_id(tracker)
        events: list[EventType] = []
        try:
            events = await self.act(dispatcher, tracker, account_id)
        except AccountNotFound:
            dispatcher.utter_message(response="utter_account_not_found")
        except WalletError as error:
            logger.error(
                "%s failed for conversation %s: %s",
                self.name(),
                tracker.sender_id,
                type(error).__name__,
            )
            dispatcher.utter_message(response="utter_backend_unavailable")
        logger.info(
            "%s conversation=%s account=%s took %.1f ms",
            self.name(),
            tracker.sender_id,
            mask_account_id(account_id),
            (time.perf_counter() - started) * 1000,
        )
        return events

    @abstractmethod
    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        """Does the work; ``account_id`` is None when the user's identity is not proven."""


def send(dispatcher: CollectingDispatcher, replies: Sequence[Reply]) -> None:
    """Utters each reply's response with its values and buttons."""
    for reply in replies:
        dispatcher.utter_message(
            response=reply.response, buttons=reply.buttons or None, **reply.values
        )
