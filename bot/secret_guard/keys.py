"""Private keys: 64 hex digits, WIF, extended private keys and Solana secret keys.

A 64-hex string is also what a transaction hash looks like, and a Solana secret key is as long
as a Solana signature. The words around such a string decide; when they do not, the finding is
uncertain and the caller checks whether the user has a transfer with that hash. 64 hex digits
written in groups (「私钥 1a2b3c4d 5e6f…」, dashes, dots, one group per line) are a key only
next to key words: nothing else writes a hash that way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
_BASE58_DIGITS = frozenset(base58.BITCOIN_ALPHABET.decode())
_ALNUM = re.compile(r"[0-9A-Za-z]+")
_HEX_64 = re.compile(r"(?:0[xX])?[0-9a-fA-F]{64}")
# A Solana key file or a wallet's "export as array": 64 numbers 0-255.
_BYTE_ARRAY = re.compile(r"\[\s*(?:[0-9]{1,3}\s*,\s*){63}[0-9]{1,3}\s*,?\s*\]")
_HEX = re.compile(r"[0-9a-fA-F]+")
# What may stand between two groups of a key: spaces and line breaks, dashes, dots, colons.
_GROUP_GAP = re.compile(r"[\s.,:_\-，：－]{1,3}")
# Two groups of hex digits: a quick test before looking for groups that make a key.
_TWO_GROUPS = re.compile(
    r"(?<![0-9A-Za-z])(?:0[xX])?[0-9a-fA-F]+[\s.,:_\-，：－]{1,3}[0-9a-fA-F]+(?![0-9A-Za-z])"
)
HEX_KEY_DIGITS = 64


def find_keys(text: str, cues: Cues) -> list[Finding]:
    """Private keys in ``text``, certain or (for undecided hash-like strings) uncertain."""
    found: list[Finding] = []
    hash_like: list[tuple[int, int]] = []
    tokens = list(_ALNUM.finditer(text))
    for match in tokens:
        token = match.group()
        if _HEX_64.fullmatch(token):
            hash_like.append(match.span())
        elif _is_wif(token) or _is_extended(token):
            found.append(Finding(SecretKind.PRIVATE_KEY, *match.span()))
        elif len(token) in SOLANA_LENGTHS:
            secret = _base58(token)
            if secret is not None and len(secret) == 64:
                if _is_solana_keypair(secret):
                    found.append(Finding(SecretKind.PRIVATE_KEY, *match.span()))
                else:
                    hash_like.append(match.span())
    found.extend(_decided(text, hash_like, cues))
    if _TWO_GROUPS.search(text) and cues.key_words.search(text):
        found.extend(_grouped(text, tokens, cues))
    found.extend(
        Finding(SecretKind.PRIVATE_KEY, *match.span())
        for match in _BYTE_ARRAY.finditer(text)
        if all(int(number) <= 255 for number in re.findall(r"[0-9]+", match.group()))
    )
    return found


def _is_wif(token: str) -> bool:
    if len(token) not in (51, 52):
        return False
    try:
        payload = base58.b58decode_check(token)
    except ValueError:  # a character outside the alphabet, or a wrong checksum
        return False
    if payload[0] not in WIF_VERSIONS:
        return False
    # 32 key bytes after the version, and a trailing 0x01 when the public key is compressed.
    return len(payload) == 33 or (len(payload) == 34 and payload[33] == 1)


def _is_extended(token: str) -> bool:
    # No checksum test: the prefix decides, and a mistyped key is still a secret.
    return (
        token[:4] in EXTENDED_PREFIXES
        and len(token) in EXTENDED_LENGTHS
        and _BASE58_DIGITS.issuperset(token)
    )


def _base58(token: str) -> bytes | None:
    try:
        return base58.b58decode(token)
    except ValueError:  # a character outside the alphabet
        return None


def _is_solana_keypair(secret: bytes) -> bool:
    """Whether 64 bytes are an Ed25519 seed followed by its own public key, as Solana stores a key.

    A transaction signature is 64 bytes too, but its second half is never the public key of its
    first half.
    """
    public = Ed25519PrivateKey.from_private_bytes(secret[:32]).public_key()
    return public.public_bytes_raw() == secret[32:]


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


def _grouped(text: str, tokens: list[re.Match[str]], cues: Cues) -> Iterator[Finding]:
    """Groups of hex digits that make 64 together, next to key words."""
    chain: list[re.Match[str]] = []
    for token in tokens:
        if (
            chain
            and _HEX.fullmatch(token.group())
            and _GROUP_GAP.fullmatch(text, chain[-1].end(), token.start())
        ):
            chain.append(token)
            continue
        yield from _keys_in_chain(text, chain, cues)
        chain = [token] if _HEX.fullmatch(_without_0x(token.group())) else []
    yield from _keys_in_chain(text, chain, cues)


def _without_0x(token: str) -> str:
    return token[2:] if token[:2] in ("0x", "0X") else token


def _keys_in_chain(text: str, chain: list[re.Match[str]], cues: Cues) -> Iterator[Finding]:
    """Runs of two groups or more in ``chain`` with 64 digits, next to key words."""
    groups = [_without_0x(token.group()) for token in chain]
    # A random key has letters; a list of decimal numbers has none.
    if len(groups) < 2 or all(group.isdigit() for group in groups):
        return
    first, last, digits = 0, 0, len(groups[0])  # digits: in groups[first : last + 1]
    while last < len(groups):
        if digits < HEX_KEY_DIGITS or last == first:
            last += 1
            digits += len(groups[last]) if last < len(groups) else 0
            continue
        start, end = chain[first].start(), chain[last].end()
        if digits == HEX_KEY_DIGITS and _near_key_words(text, start, end, cues):
            yield Finding(SecretKind.PRIVATE_KEY, start, end)
            first = last = last + 1
            digits = len(groups[first]) if first < len(groups) else 0
        else:
            digits -= len(groups[first])
            first += 1


def _near_key_words(text: str, start: int, end: int, cues: Cues) -> bool:
    context = f"{text[max(0, start - CONTEXT_CHARS) : start]} {text[end : end + CONTEXT_CHARS]}"
    return cues.key_words.search(context) is not None
