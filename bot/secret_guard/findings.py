"""What the secret guard reports: the kind of secret and where it is in the message."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum


class SecretKind(str, Enum):
    """The kinds of secret a user may paste into the chat."""

    MNEMONIC = "mnemonic"
    PRIVATE_KEY = "private_key"
    KEYSTORE = "keystore"
    PASSWORD = "password"
    VERIFICATION_CODE = "verification_code"


# Most severe first, by what a thief can do with the secret alone: a mnemonic opens every account
# of the wallet on every chain and cannot be changed; a private key opens one account; a keystore
# file is encrypted but opens that account with a (often weak or also shared) password; a password
# protects the app, not the keys; a verification code expires within minutes.
SEVERITY: tuple[SecretKind, ...] = (
    SecretKind.MNEMONIC,
    SecretKind.PRIVATE_KEY,
    SecretKind.KEYSTORE,
    SecretKind.PASSWORD,
    SecretKind.VERIFICATION_CODE,
)


@dataclass(frozen=True)
class Finding:
    """A secret in a message: its kind and its span ``text[start:end]``.

    ``uncertain`` marks a 64-hex or Solana base58 string whose surrounding words decide nothing:
    it may be a transaction hash, which the caller may look up before deciding to hide it.
    """

    kind: SecretKind
    start: int
    end: int
    uncertain: bool = False

    def candidate(self, text: str) -> str:
        """The matched string, folded (NFKC); for an uncertain finding, the hash to look up."""
        return unicodedata.normalize("NFKC", text[self.start : self.end])
