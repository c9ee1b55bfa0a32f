"""Masks identifiers before they are shown to users or written to logs."""

from __future__ import annotations

import re
from collections.abc import Callable

# Shown in place of a run that cannot be shortened like an identifier (a pasted mnemonic).
HIDDEN = "[已隐藏]"


def mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    """``value`` with its middle replaced by an ellipsis ("0x3f5e…9a1c")."""
    if len(value) <= keep_start + keep_end:
        return value
    return f"{value[:keep_start]}…{value[len(value) - keep_end :]}"


def mask_hash(tx_hash: str) -> str:
    """A transaction hash shortened for display."""
    start = 6 if tx_hash.lower().startswith("0x") else 4
    return mask_middle(tx_hash, start, 4)


def mask_address(address: str) -> str:
    """A wallet address shortened for display."""
    return mask_middle(address, 6, 4)


def mask_phone(phone: str) -> str:
    """138****5678."""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def mask_email(email: str) -> str:
    """a***@example.com."""
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


def mask_account_id(account_id: str | None) -> str:
    """For logs: enough to correlate, not enough to identify."""
    return f"{account_id[:3]}***" if account_id else "-"


def _hidden(_: str) -> str:
    return HIDDEN


_IDENTIFIERS: list[tuple[re.Pattern[str], Callable[[str], str]]] = [
    (re.compile(r"(?<![0-9A-Za-z])(?:0x)?[0-9a-fA-F]{64}(?![0-9A-Za-z])"), mask_hash),
    (
        re.compile(
            r"(?<![0-9A-Za-z])(?:0x[0-9a-fA-F]{40}|T[1-9A-HJ-NP-Za-km-z]{33}"
            r"|bc1[02-9ac-hj-np-z]{11,71}|[13][1-9A-HJ-NP-Za-km-z]{25,34})(?![0-9A-Za-z])"
        ),
        mask_address,
    ),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), mask_email),
    # A mnemonic pasted into the chat: twelve or more words, English or single characters.
    (re.compile(r"(?:\b[a-zA-Z]{3,8}\s+){11,}[a-zA-Z]{3,8}\b"), _hidden),
    (
        re.compile(
            r"(?<![\u4e00-\u9fff])(?:[\u4e00-\u9fff]\s+){11,}[\u4e00-\u9fff](?![\u4e00-\u9fff])"
        ),
        _hidden,
    ),
    (re.compile(r"(?<!\d)\d{6,}(?!\d)"), mask_phone),
]


def chain_identifiers(text: str) -> list[str]:
    """The transaction hashes and wallet addresses in ``text``, whole (public chain data), each
    once in order."""
    found = [m.group(0) for pattern, _ in _IDENTIFIERS[:2] for m in pattern.finditer(text)]
    return list(dict.fromkeys(found))


def mask_identifiers(text: str) -> str:
    """A user message fit to show in a report: whitespace collapsed; hashes, addresses, e-mails
    and long numbers shortened, a pasted mnemonic hidden."""
    cleaned = " ".join(text.split())
    for pattern, mask in _IDENTIFIERS:
        cleaned = pattern.sub(_masking(mask), cleaned)
    return cleaned


def _masking(mask: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    return lambda match: mask(match.group(0))
