"""What a user pasted to be checked: the addresses, links and contacts in a message.

They are read as the outbound guard reads an agent's reply (``bot.handoff.references``): each
once, in order, EVM addresses in any case, a t.me link as the handle it opens.
"""

from __future__ import annotations

import re

from bot.handoff.references import Reference, references
from bot.link_safety.records import Candidate, Kind

_TRON = re.compile(r"T[1-9A-HJ-NP-Za-km-z]{33}")
_KINDS = {
    "address": Kind.ADDRESS,
    "host": Kind.URL,
    "url": Kind.URL,
    "telegram": Kind.TELEGRAM,
    "email": Kind.EMAIL,
    "wechat": Kind.WECHAT,
}


def candidates(text: str) -> list[Candidate]:
    """The addresses, links, Telegram handles, e-mail addresses and named WeChat IDs in
    ``text``, each once, in order."""
    return [_candidate(reference) for reference in references(text)]


def chain_of(address: str) -> str | None:
    """The port's chain an address's form shows; None for an EVM address (ETH, BSC and POLYGON
    share it) or a form no chain has."""
    lowered = address.lower()
    if lowered.startswith("0x"):
        return None
    if _TRON.fullmatch(address):
        return "TRON"
    if lowered.startswith("bc1") or (address[:1] in ("1", "3") and len(address) <= 35):
        return "BTC"
    if lowered.startswith("ltc1") or (address[:1] in ("L", "M") and len(address) == 34):
        return "LTC"
    return "SOLANA" if 32 <= len(address) <= 44 else None


def _candidate(reference: Reference) -> Candidate:
    prefix, _, key = reference.key.partition(":")
    kind = _KINDS[prefix]
    if kind is Kind.ADDRESS:
        return Candidate(kind, key, chain_of(key))
    if kind is Kind.TELEGRAM:
        # The handle as written (IMWalletOfficiaI, not its folded key): its letters are the point.
        written = re.search(re.escape(key), reference.value, re.IGNORECASE)
        return Candidate(kind, written.group() if written else key)
    return Candidate(kind, reference.value)
