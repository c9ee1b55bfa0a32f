"""Base58 and Base58Check decoding, as Bitcoin, TRON and Solana write keys and addresses."""

from __future__ import annotations

import hashlib

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_DIGITS = {char: value for value, char in enumerate(ALPHABET)}


def is_base58(text: str) -> bool:
    """Whether every character is a Base58 digit."""
    return all(char in _DIGITS for char in text)


def decode(text: str) -> bytes | None:
    """The bytes ``text`` encodes, or None when it holds a character outside the alphabet."""
    number = 0
    for char in text:
        digit = _DIGITS.get(char)
        if digit is None:
            return None
        number = number * 58 + digit
    # Each leading "1" stands for a zero byte that the number itself cannot show.
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def decode_check(text: str) -> bytes | None:
    """The payload of a Base58Check string, or None when its four-byte checksum is wrong."""
    raw = decode(text)
    if raw is None or len(raw) < 5:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    expected = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return payload if checksum == expected else None
