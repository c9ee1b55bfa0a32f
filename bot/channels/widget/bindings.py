"""The account owner's Telegram/WeChat bindings, managed from the widget.

The owner asks for a binding code (limited per client address and per account), sees the
platform users bound to the account, masked, and unbinds them by an opaque key. Every store call
runs off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, Protocol

from socketio import AsyncServer

from bot.channels.binding import Binding
from bot.channels.limits import BINDING_CODES
from bot.privacy import mask_account_id, mask_middle
from bot.services import Services

logger = logging.getLogger(__name__)

BINDINGS_EVENT = "bindings"
BINDING_CODE_MINUTES = 10
CODE_ISSUED = "utter_binding_code"
CODES_TOO_OFTEN = "utter_binding_code_too_often"
UNBOUND = "utter_binding_removed"


class Tell(Protocol):
    """Sends the response ``name`` to one socket only, kept out of the conversation."""

    def __call__(self, sid: str, account_id: str, name: str, **values: Any) -> Awaitable[None]: ...


def masked_user_id(platform_user_id: str) -> str:
    """A platform user id the owner recognises but a screenshot does not give away."""
    if len(platform_user_id) <= 4:
        return "…"
    return mask_middle(platform_user_id, 2, 2)


class OwnerBindings:
    """The binding requests of the widget's sockets, on the server's ``services``."""

    def __init__(self, sio: AsyncServer, key: bytes, services: Services, tell: Tell) -> None:
        self._sio = sio
        self._key = key
        self._services = services
        self._tell = tell

    def key_of(self, binding: Binding) -> str:
        """An opaque handle of a binding for the page: the owner unbinds by it, ids stay masked."""
        message = f"{binding.platform}\x00{binding.platform_user_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:24]

    async def issue_code(self, sid: str, account_id: str, address: str) -> None:
        """A fresh code for the account, told to this socket; refused when asked too often."""
        limits = self._services.limits
        admission = await limits.address_admitted("binding-code", address, BINDING_CODES)
        if admission.admitted:
            admission = await limits.limiter.admit(
                "binding-code-account", account_id, BINDING_CODES
            )
        if not admission.admitted:
            logger.warning(
                "binding codes over the limit for account %s", mask_account_id(account_id)
            )
            if admission.first_refusal:
                await self._tell(sid, account_id, CODES_TOO_OFTEN)
            return
        code = await asyncio.to_thread(
            self._services.bindings.issue_code,
            account_id,
            timedelta(minutes=BINDING_CODE_MINUTES),
        )
        await self._tell(sid, account_id, CODE_ISSUED, code=code, minutes=BINDING_CODE_MINUTES)

    async def send(self, sid: str, account_id: str) -> None:
        """The platform users bound to the account, newest first, to this socket."""
        bound = await asyncio.to_thread(self._services.bindings.bindings_of, account_id)
        listed = [
            {
                "key": self.key_of(binding),
                "platform": binding.platform,
                "user": masked_user_id(binding.platform_user_id),
                "bound_at": binding.bound_at.isoformat(),
            }
            for binding in sorted(bound, key=lambda b: b.bound_at, reverse=True)
        ]
        await self._sio.emit(BINDINGS_EVENT, listed, to=sid)

    async def unbind(self, sid: str, account_id: str, key: str) -> None:
        """Unbinds the platform user ``key`` names from the account, then sends the list."""
        store = self._services.bindings
        bound = await asyncio.to_thread(store.bindings_of, account_id)
        chosen = next((b for b in bound if hmac.compare_digest(self.key_of(b), key)), None)
        if chosen is not None and await asyncio.to_thread(
            store.unbind, account_id, chosen.platform, chosen.platform_user_id
        ):
            logger.info(
                "account %s unbound a %s user", mask_account_id(account_id), chosen.platform
            )
            await self._tell(sid, account_id, UNBOUND)
        await self.send(sid, account_id)
