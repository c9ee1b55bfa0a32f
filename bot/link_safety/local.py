"""The local adapter of the link safety port: the official channels and a local denylist.

The official channels are the outbound guard's (``data/official_channels.yml``, read by
``bot.handoff.guard.official_channels``); the denylist is ``data/denylist.yml``. A candidate on
the denylist is a known scam; else one on the official list is official; else one that imitates
an official channel is reported as such: the same letters once look-alike characters are folded
(IMWalletOfficiaI, imwallet_0fficial), one letter off (tronscam.org), an official one inside it
(IMWalletOfficial_Help, example.com.verify.io), or a name scammers use (imwallet-support.com).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bot.care.poisoning import is_evm, same_address
from bot.handoff.guard import OfficialChannels, official_channels
from bot.handoff.references import bare_host, within
from bot.link_safety.records import UNKNOWN, Candidate, Kind, Reason, Status, Verdict
from bot.link_safety.service import LinkSafety

DENYLIST = Path(__file__).resolve().parents[2] / "data" / "denylist.yml"

# Characters that pass for one another at a glance, folded to one (after lower-casing, so the
# capital I of IMWalletOfficiaI is an l like the one it imitates).
_CONFUSABLE = str.maketrans({"i": "l", "1": "l", "|": "l", "!": "l", "0": "o", "5": "s", "$": "s"})
_SEPARATORS = re.compile(r"[\W_]+")
# Shorter values are one letter off from too much that is innocent.
MIN_NEAR = 6


@dataclass(frozen=True)
class Listed:
    """A denylisted value with its label, and its chain for an address."""

    value: str
    label: str
    chain: str | None = None


@dataclass(frozen=True)
class Denylist:
    """``data/denylist.yml``: scam addresses and spenders per chain, domains, contacts, and the
    names scammers use to pass as the wallet."""

    addresses: tuple[Listed, ...]
    spenders: tuple[Listed, ...]
    domains: tuple[Listed, ...]
    telegram: tuple[Listed, ...]
    wechat: tuple[Listed, ...]
    email: tuple[Listed, ...]
    impersonated_names: tuple[str, ...]

    @classmethod
    def load(cls, path: Path = DENYLIST) -> Denylist:
        raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}

        def entries(name: str) -> tuple[Listed, ...]:
            return tuple(
                Listed(str(e["value"]).strip(), str(e["label"]), e.get("chain"))
                for e in raw.get(name) or []
            )

        return cls(
            addresses=entries("addresses"),
            spenders=entries("spenders"),
            domains=entries("domains"),
            telegram=entries("telegram"),
            wechat=entries("wechat"),
            email=entries("email"),
            impersonated_names=tuple(str(n) for n in raw.get("impersonated_names") or []),
        )


class LocalLinkSafety(LinkSafety):
    """Checks against the official channels and the local denylist; never asks the network."""

    def __init__(self, official: OfficialChannels, denylist: Denylist) -> None:
        self._denylist = denylist
        listed = official.listed
        self._web = [bare_host(d) for d in listed.get("web_domains", ())]
        self._public = [bare_host(d) for d in listed.get("public_domains", ())]
        self._official = {
            Kind.TELEGRAM: [h.lstrip("@") for h in listed.get("telegram", ())],
            Kind.WECHAT: list(listed.get("wechat", ())),
            Kind.EMAIL: list(listed.get("email", ())),
        }
        self._names = [_fold(name) for name in denylist.impersonated_names]

    @classmethod
    def from_files(cls, denylist: Path = DENYLIST) -> LocalLinkSafety:
        """On data/official_channels.yml and ``denylist``."""
        return cls(official_channels(), Denylist.load(denylist))

    def check(self, candidate: Candidate) -> Verdict:
        if candidate.kind is Kind.ADDRESS:
            return self._address(candidate)
        if candidate.kind is Kind.URL:
            host = _host(candidate.value)
            return self._host(host) if host else UNKNOWN
        if candidate.kind is Kind.EMAIL:
            return self._email(candidate.value)
        return self._contact(candidate.kind, candidate.value)

    def _address(self, candidate: Candidate) -> Verdict:
        for listed, reason in (
            (self._denylist.addresses, Reason.DENYLISTED_ADDRESS),
            (self._denylist.spenders, Reason.DENYLISTED_SPENDER),
        ):
            for entry in listed:
                chain = entry.chain or ""
                if _same_chain(candidate.chain, chain) and same_address(
                    chain, entry.value, candidate.value
                ):
                    return Verdict(Status.DENYLISTED, entry.label, reason)
        return UNKNOWN

    def _host(self, host: str) -> Verdict:
        for entry in self._denylist.domains:
            if within(host, bare_host(entry.value)):
                return Verdict(Status.DENYLISTED, entry.label, Reason.DENYLISTED_DOMAIN)
        for domains, reason in (
            (self._web, Reason.OFFICIAL_DOMAIN),
            (self._public, Reason.PUBLIC_SITE),
        ):
            domain = next((d for d in domains if within(host, d)), None)
            if domain is not None:
                return Verdict(Status.OFFICIAL, domain, reason)
        # Another host of a public site's owner (store.apple.com) is theirs, not an imitation.
        if any(_registered(host) == _registered(d) for d in self._public):
            return UNKNOWN
        return self._lookalike(host, [*self._web, *self._public])

    def _email(self, email: str) -> Verdict:
        listed = self._contact(Kind.EMAIL, email)
        if listed.status is not Status.UNKNOWN:
            return listed
        at = self._host(bare_host(email.rsplit("@", 1)[-1]))
        if at.status is Status.DENYLISTED:
            return at
        if at.reason is Reason.OFFICIAL_DOMAIN:  # any address at our own domain is ours
            return Verdict(Status.OFFICIAL, email, Reason.OFFICIAL_CONTACT)
        if listed.reason is Reason.LOOKALIKE_OF_OFFICIAL:
            return listed
        return at if at.reason is Reason.LOOKALIKE_OF_OFFICIAL else UNKNOWN

    def _contact(self, kind: Kind, value: str) -> Verdict:
        name = value.lstrip("@").lower()
        denylisted = {
            Kind.TELEGRAM: self._denylist.telegram,
            Kind.WECHAT: self._denylist.wechat,
            Kind.EMAIL: self._denylist.email,
        }[kind]
        entry = next((e for e in denylisted if e.value.lstrip("@").lower() == name), None)
        if entry is not None:
            return Verdict(Status.DENYLISTED, entry.label, Reason.DENYLISTED_CONTACT)
        official = self._official[kind]
        match = next((o for o in official if o.lower() == name), None)
        if match is not None:
            return Verdict(Status.OFFICIAL, match, Reason.OFFICIAL_CONTACT)
        return self._lookalike(value.lstrip("@"), official)

    def _lookalike(self, value: str, official: list[str]) -> Verdict:
        folded = _fold(value)
        imitated = next((o for o in official if _imitates(folded, _fold(o))), None)
        if imitated is None and official and any(n in folded for n in self._names):
            imitated = official[0]
        if imitated is None:
            return UNKNOWN
        return Verdict(Status.UNKNOWN, imitated, Reason.LOOKALIKE_OF_OFFICIAL)


def _imitates(folded: str, official: str) -> bool:
    return bool(official) and (official in folded or _one_edit_apart(folded, official))


def _fold(value: str) -> str:
    """``value`` as an eye reads it: lower case, look-alike characters as one, no separators."""
    lowered = value.lower().replace("rn", "m").replace("vv", "w")
    return _SEPARATORS.sub("", lowered.translate(_CONFUSABLE))


def _one_edit_apart(a: str, b: str) -> bool:
    """One letter changed, added or dropped (both long enough for that to be an imitation)."""
    if min(len(a), len(b)) < MIN_NEAR or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
    return a[start + (len(a) == len(b)) :] == b[start + 1 :]


def _host(link: str) -> str | None:
    try:
        parts = urlsplit(link if "://" in link else "http://" + link)
        host = parts.hostname
    except ValueError:
        return None
    return bare_host(host) if host else None


def _registered(host: str) -> str:
    """The name a host is registered under: its last two labels."""
    return ".".join(host.split(".")[-2:])


def _same_chain(asked: str | None, listed: str) -> bool:
    """An address asked about on ``asked`` (None: its form did not tell) may be the one listed
    on ``listed``: the same chain, or any two EVM chains, which share addresses."""
    if asked is None:
        return True
    return asked.upper() == listed.upper() or (is_evm(asked) and is_evm(listed))
