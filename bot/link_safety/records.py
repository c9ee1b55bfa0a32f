"""Typed records of the link safety port: what a user pasted (``Candidate``) and what is known
about it (``Verdict``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """What a candidate is."""

    ADDRESS = "address"  # a blockchain address
    URL = "url"  # a link or a bare domain (a t.me link to a handle is TELEGRAM)
    TELEGRAM = "telegram"  # a Telegram handle, from @name or a t.me link
    EMAIL = "email"
    WECHAT = "wechat"  # a WeChat ID, only where the text names it as one


@dataclass(frozen=True)
class Candidate:
    """Something a user pasted to be checked.

    ``value`` is what is checked: an address (EVM ones in lower case), a link or domain as
    written, a Telegram handle without its @, an e-mail address, a WeChat ID. ``chain`` is the
    port's chain an address's form shows (TRON, BTC, LTC, SOLANA); None for an EVM address (the
    same one on ETH, BSC and POLYGON) and for anything else.
    """

    kind: Kind
    value: str
    chain: str | None = None


class Status(str, Enum):
    OFFICIAL = "official"  # on the official-channel list (ours, or a public site we link to)
    DENYLISTED = "denylisted"  # on a denylist: a known scam
    UNKNOWN = "unknown"  # on neither; ``reason`` may still say it imitates an official one


class Reason(str, Enum):
    """Why a verdict is what it is; the dialogue maps each to its own explanation."""

    OFFICIAL_DOMAIN = "official_domain"  # our website or one of its subdomains
    OFFICIAL_CONTACT = "official_contact"  # our Telegram, WeChat Official Account or e-mail
    PUBLIC_SITE = "public_site"  # not ours but safe: a block explorer or an app store
    DENYLISTED_ADDRESS = "denylisted_address"  # a scammer's address
    DENYLISTED_SPENDER = "denylisted_spender"  # a drainer contract that takes approvals
    DENYLISTED_DOMAIN = "denylisted_domain"  # a scam site (or an e-mail address at one)
    DENYLISTED_CONTACT = "denylisted_contact"  # a scam Telegram handle, WeChat ID or e-mail
    LOOKALIKE_OF_OFFICIAL = "lookalike_of_official"  # imitates an official channel
    UNKNOWN = "unknown"  # nothing is known about it
    UNAVAILABLE = "unavailable"  # the checking service could not be asked


@dataclass(frozen=True)
class Verdict:
    """What is known about a candidate. ``label`` names it: the official channel it is, or
    imitates, as listed (``IMWalletOfficial``, ``example.com``), or the denylist's label; None
    when unknown."""

    status: Status
    label: str | None
    reason: Reason


UNKNOWN = Verdict(Status.UNKNOWN, None, Reason.UNKNOWN)
UNAVAILABLE = Verdict(Status.UNKNOWN, None, Reason.UNAVAILABLE)
