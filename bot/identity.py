"""Who is asking: the account an authenticated channel vouches for, never what a client claims.

An authenticated channel (in-app JWT, bound Telegram/WeChat user) signs the account id together
with the conversation id and puts the result in the message metadata under ``IDENTITY_FIELD``.
Actions accept it only when the HMAC checks out with IDENTITY_SECRET, the conversation matches
and it is fresh. Metadata a client writes itself (Rasa's REST channel passes it through) cannot
carry a valid signature. A REST client that shows its conversation token gets an owner proof
(``OWNER_FIELD``), signed the same way, which lets it see and cancel what belongs to the
conversation without proving any account. Only ``make shell`` sets DEV_ACCOUNT_ID, on the action
server it starts for itself: any conversation without a signed identity then counts as that
account. It must never be set on a server users can reach.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.privacy import mask_account_id

logger = logging.getLogger(__name__)

IDENTITY_FIELD = "im_identity"
OWNER_FIELD = "im_conversation_owner"
# The subject of an owner proof; never an account id (those come from the wallet backend).
OWNER_CLAIM = "\x00conversation-owner"
MAX_AGE_SECONDS = 600


@dataclass(frozen=True)
class IdentitySettings:
    """The shared secret and the development account, from IDENTITY_SECRET and DEV_ACCOUNT_ID."""

    secret: bytes | None
    dev_account_id: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> IdentitySettings:
        secret = env.get("IDENTITY_SECRET")
        dev_account_id = env.get("DEV_ACCOUNT_ID") or None
        if dev_account_id:
            logger.warning("DEV_ACCOUNT_ID is set: unidentified users act as a development account")
        return cls(secret.encode() if secret else None, dev_account_id)


def _signature(secret: bytes, account_id: str, conversation_id: str, issued_at: int) -> str:
    message = f"{account_id}\n{conversation_id}\n{issued_at}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_identity(
    secret: bytes, account_id: str, conversation_id: str, issued_at: int | None = None
) -> dict[str, Any]:
    """The metadata entry an authenticated channel attaches to a user message."""
    issued = int(time.time()) if issued_at is None else issued_at
    return {
        "account_id": account_id,
        "issued_at": issued,
        "signature": _signature(secret, account_id, conversation_id, issued),
    }


def sign_owner(secret: bytes, conversation_id: str) -> dict[str, Any]:
    """The metadata entry a channel attaches when the sender proved they own the conversation."""
    return sign_identity(secret, OWNER_CLAIM, conversation_id)


def _signed_subject(
    claim: Any, conversation_id: str, secret: bytes, now: float | None
) -> str | None:
    """The subject of a valid, fresh claim signed for this conversation, else None."""
    if not isinstance(claim, Mapping):
        return None
    subject, issued_at, signature = (
        claim.get("account_id"),
        claim.get("issued_at"),
        claim.get("signature"),
    )
    if not (isinstance(subject, str) and isinstance(issued_at, int) and isinstance(signature, str)):
        return None
    expected = _signature(secret, subject, conversation_id, issued_at)
    age = (time.time() if now is None else now) - issued_at
    if hmac.compare_digest(expected, signature) and -60 <= age <= MAX_AGE_SECONDS:
        return subject
    return None


def verified_account(
    metadata: Mapping[str, Any] | None,
    conversation_id: str,
    settings: IdentitySettings,
    now: float | None = None,
) -> str | None:
    """The proven account of this message's sender, or None."""
    claim = (metadata or {}).get(IDENTITY_FIELD)
    if isinstance(claim, Mapping) and settings.secret:
        account_id = _signed_subject(claim, conversation_id, settings.secret, now)
        if account_id is not None and account_id != OWNER_CLAIM:
            return account_id
        claimed = claim.get("account_id")
        logger.warning(
            "rejected identity claim for %s in conversation %s",
            mask_account_id(claimed if isinstance(claimed, str) else None),
            conversation_id,
        )
    return settings.dev_account_id


def proven_owner(
    metadata: Mapping[str, Any] | None,
    conversation_id: str,
    settings: IdentitySettings,
    now: float | None = None,
) -> bool:
    """Whether the sender of this message owns the conversation (its tickets, its queue place).

    Widget, Telegram and WeChat conversation ids ("widget:…") can only be written by their own
    channel, which knows its user; a REST conversation needs the owner proof its channel signs
    for requests that carry the conversation token.
    """
    if ":" in conversation_id or settings.dev_account_id:
        return True
    if not settings.secret:
        return False
    claim = (metadata or {}).get(OWNER_FIELD)
    return _signed_subject(claim, conversation_id, settings.secret, now) == OWNER_CLAIM
