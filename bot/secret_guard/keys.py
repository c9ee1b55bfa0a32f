"""Private keys: 64 hex digits, WIF, extended private keys and Solana secret keys.

A 64-hex string is also what a transaction hash looks like, and a Solana secret key is as long
as a Solana signature. The words around such a string decide; when they do not, the finding is
uncertain and the caller checks whether the user has a transfer with that hash.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.secret_guard import base58, ed25519
from bot.secret_guard.cues import Cues
from bot.secret_guard.findings import Finding, SecretKind

# How far around a hash-like string its deciding words may be; a message rarely says more.
CONTEXT_CHARS = 30
# Version bytes of WIF keys: Bitcoin, Bitcoin and Litecoin testnets, Litecoin.
WIF_VERSIONS = frozenset({0x80, 0xEF, 0xB0})
# BIP32 and SLIP-132 extended private keys (single-signature and multi-signature).
EXTENDED_PREFIXES = frozenset(
    {"xprv", "yprv", "zprv", "Yprv", "Zprv", "tprv", "uprv", "vprv", "Uprv", "Vprv"}
)
EXTENDED_LENGTHS = range(104, 117)  # 111 when whole
SOLANA_LENGTHS = range(80, 89)  # 64 bytes in Base58, shorter when it starts with zero bytes
_ALNUM = re.compile(r"[0-9A-Za-z]+")
_HEX_64 = re.compile(r"(?:0[xX])?[0-9a-fA-F]{64}")
# A Solana key file or a wallet's "export as array": 64 numbers 0-255.
_BYTE_ARRAY = re.compile(r"\[\s*(?:[0-9]{1,3}\s*,\s*){63}[0-9]{1,3}\s*,?\s*\]")


def find_keys(text: str, cues: Cues) -> list[Finding]:
    """Private keys in ``text``, certain or (for undecided hash-like strings) uncertain."""
    found: list[Finding] = []
    hash_like: list[tuple[int, int]] = []
    for match in _ALNUM.finditer(text):
        token = match.group()
        if _HEX_64.fullmatch(token):
            hash_like.append(match.span())
        elif _is_wif(token) or _is_extended(token):
            found.append(Finding(SecretKind.PRIVATE_KEY, *match.span()))
        elif len(token) in SOLANA_LENGTHS:
            secret = base58.decode(token)
            if secret is not None and len(secret) == 64:
                if ed25519.is_keypair(secret):
                    found.append(Finding(SecretKind.PRIVATE_KEY, *match.span()))
                else:
                    hash_like.append(match.span())
    found.extend(_decided(text, hash_like, cues))
    found.extend(
        Finding(SecretKind.PRIVATE_KEY, *match.span())
        for match in _BYTE_ARRAY.finditer(text)
        if all(int(number) <= 255 for number in re.findall(r"[0-9]+", match.group()))
    )
    return found


def _is_wif(token: str) -> bool:
    if len(token) not in (51, 52):
        return False
    payload = base58.decode_check(token)
    if payload is None or payload[0] not in WIF_VERSIONS:
        return False
    # 32 key bytes after the version, and a trailing 0x01 when the public key is compressed.
    return len(payload) == 33 or (len(payload) == 34 and payload[33] == 1)


def _is_extended(token: str) -> bool:
    # No checksum test: the prefix decides, and a mistyped key is still a secret.
    return (
        token[:4] in EXTENDED_PREFIXES
        and len(token) in EXTENDED_LENGTHS
        and base58.is_base58(token)
    )


def _decided(text: str, spans: list[tuple[int, int]], cues: Cues) -> Iterator[Finding]:
    """Key words around a span make it a key, hash words a hash, neither an uncertain key."""
    for i, (start, end) in enumerate(spans):
        # Each string's context stops at its neighbours, so words about one do not decide another.
        left = max(start - CONTEXT_CHARS, spans[i - 1][1] if i else 0)
        right = min(end + CONTEXT_CHARS, spans[i + 1][0] if i + 1 < len(spans) else len(text))
        context = f"{text[left:start]} {text[end:right]}"
        if cues.key_words.search(context):
            yield Finding(SecretKind.PRIVATE_KEY, start, end)
        elif not cues.hash_words.search(context):
            yield Finding(SecretKind.PRIVATE_KEY, start, end, uncertain=True)
