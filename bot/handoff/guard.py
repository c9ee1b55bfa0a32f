"""The agent-outbound guard: stops an agent's reply that asks for a secret, carries one, or
carries an address, link or contact nobody in the conversation used (issue 19).

A wallet's desk is the way in for bribed insiders and for impostors: the reply that asks for a
mnemonic, or gives the user "our" deposit address or "verification" site, is what robs them. So
every agent reply is reviewed before it is sent, and stopped with its reasons (``Blocked``):

- ``secret_request``: it asks for a mnemonic, private key, keystore, password, payment password
  or verification code; warnings, third parties and conditions are no requests
  (``bot.handoff.secret_requests``);
- ``secret``: it holds a secret the secret guard finds (a mnemonic, a key, a password); the
  value reported is the guard's marker, never the secret;
- ``unknown_address`` (EVM, TRON, BTC, Solana), ``unknown_url`` (a link or a bare domain) and
  ``unknown_contact`` (a Telegram handle, a WeChat ID, an e-mail address) that appeared in none
  of: the ticket's conversation (the user's and the bot's lines), the user's own account (the
  wallet port's transfers and e-mail, when the ticket has a proven account), the official
  channels (``data/official_channels.yml``), the help center's articles, or the values a
  supervisor approved for the ticket (``GuardApprovals``). How they are found and compared
  (EVM addresses in any case) is ``bot.handoff.references``.

A blocked reply is recorded in the audit log (``REPLY_BLOCKED``) and alerted to supervisors
(``reply_blocked``), with the kinds and masked values only; the reply's text is never logged.
The review runs in a worker thread: regular expressions for a reply that names nothing, and the
stores and the wallet are read only for what the conversation does not already explain. A guard
that fails stops the reply (``unchecked``) rather than let it through unreviewed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sanic import Sanic
from sqlalchemy.engine import Engine

from bot.handoff.audit import REPLY_BLOCKED, AuditError
from bot.handoff.records import Ticket
from bot.handoff.references import (
    HASH,
    Reference,
    address_key,
    bare_host,
    link,
    references,
    telegram_key,
    within,
)
from bot.handoff.secret_requests import secret_requests
from bot.handoff.tables import guard_approvals, utc_now
from bot.privacy import mask_address, mask_email
from bot.secret_guard.cues import load_cues
from bot.services import Services, services_of
from bot.wallet.errors import WalletError
from bot.wallet.records import Direction

logger = logging.getLogger(__name__)

OFFICIAL_CHANNELS = Path(__file__).resolve().parents[2] / "data" / "official_channels.yml"

# Kinds of block (``Blocked.kind``).
SECRET_REQUEST = "secret_request"
SECRET = "secret"
UNKNOWN_ADDRESS = "unknown_address"
UNKNOWN_URL = "unknown_url"
UNKNOWN_CONTACT = "unknown_contact"
UNCHECKED = "unchecked"
ALERT_KIND = "reply_blocked"

MAX_VALUE = 200  # a reported value is cut here (a long link)
MAX_APPROVAL = 255  # the approvals table's column
ACCOUNT_TRANSFERS = 200  # per direction: the user's own addresses and hashes


@dataclass(frozen=True)
class Blocked:
    """Why a reply was stopped: ``kind`` (secret_request, secret, unknown_address, unknown_url,
    unknown_contact, unchecked) and the value concerned (masked for a secret)."""

    kind: str
    value: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}


# ---------------------------------------------------------------------------------------------
# What the reply may name: the official channels, the conversation, the account, approvals.


@dataclass(frozen=True)
class OfficialChannels:
    """``data/official_channels.yml``: domains (with their subdomains), Telegram handles,
    WeChat IDs and e-mail addresses an agent may always name."""

    domains: frozenset[str]
    keys: frozenset[str]
    # Each list of the file as written, by its name (web_domains, public_domains, telegram,
    # wechat, email): what bot.link_safety names and compares lookalikes with.
    listed: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    @classmethod
    def load(cls, path: Path = OFFICIAL_CHANNELS) -> OfficialChannels:
        raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        domains = [*raw.get("web_domains", []), *raw.get("public_domains", [])]
        keys = {telegram_key(str(h).lstrip("@")) for h in raw.get("telegram", [])}
        keys |= {"wechat:" + str(w).lower() for w in raw.get("wechat", [])}
        keys |= {"email:" + str(e).lower() for e in raw.get("email", [])}
        listed = {name: tuple(str(v) for v in values or []) for name, values in raw.items()}
        return cls(frozenset(bare_host(str(d)) for d in domains), frozenset(keys), listed)

    def covers(self, reference: Reference) -> bool:
        if reference.key in self.keys:
            return True
        if reference.key.startswith("host:"):
            return self._official_host(reference.key[5:])
        if reference.key.startswith("email:"):
            return self._official_host(reference.key.rsplit("@", 1)[-1])
        return False

    def _official_host(self, host: str) -> bool:
        return any(within(host, domain) for domain in self.domains)


@cache
def official_channels() -> OfficialChannels:
    """The official channels, read once."""
    return OfficialChannels.load()


@dataclass(frozen=True)
class Approval:
    """A value a supervisor checked and let an agent send on one ticket."""

    ticket_id: int
    value: str
    approved_by: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "value": self.value,
            "approved_by": self.approved_by,
            "at": self.at.isoformat(),
        }


class GuardApprovals:
    """Supervisors' approvals of blocked values, per ticket (the handoff database)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def approve(self, ticket_id: int, value: str, approved_by: str) -> Approval:
        """Records the approval; one already there stays as it was."""
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    guard_approvals.insert().values(
                        ticket_id=ticket_id, value=value, approved_by=approved_by, at=utc_now()
                    )
                )
        except sa.exc.IntegrityError:
            # Approved before (here or by another server), or no such ticket.
            before = [a for a in self.approvals(ticket_id) if a.value == value]
            if not before:
                raise
            return before[0]
        return next(a for a in self.approvals(ticket_id) if a.value == value)

    def approvals(self, ticket_id: int) -> list[Approval]:
        query = (
            sa.select(guard_approvals)
            .where(guard_approvals.c.ticket_id == ticket_id)
            .order_by(guard_approvals.c.at, guard_approvals.c.value)
        )
        with self._engine.connect() as connection:
            return [
                Approval(row["ticket_id"], row["value"], row["approved_by"], row["at"])
                for row in connection.execute(query).mappings()
            ]


class _HelpCenterKeys:
    """The references in the live help-center articles, rebuilt when an article is saved
    (asked at most once per ``refresh_seconds``)."""

    def __init__(self, refresh_seconds: float) -> None:
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._stamp = -1
        self._checked_at: float | None = None
        self._keys: frozenset[str] = frozenset()

    def keys(self, services: Services) -> frozenset[str]:
        with self._lock:
            now = time.monotonic()
            if self._checked_at is not None and now - self._checked_at < self._refresh_seconds:
                return self._keys
            self._checked_at = now
            try:
                store = services.help_center.store
                stamp = store.stamp()
                if stamp != self._stamp:
                    texts = (article.text() for article in store.live())
                    self._keys = frozenset(r.key for r in references("\n".join(texts)))
                    self._stamp = stamp
            except sa.exc.SQLAlchemyError as error:
                logger.error("outbound guard: help center unreadable (%s)", type(error).__name__)
            return self._keys


def _help_center_keys(app: Sanic, services: Services) -> frozenset[str]:
    keys: _HelpCenterKeys | None = getattr(app.ctx, "outbound_guard_help", None)
    if keys is None:
        keys = _HelpCenterKeys(services.settings.help_center.refresh_seconds)
        app.ctx.outbound_guard_help = keys
    return keys.keys(services)


class _Known:
    """What the conversation, the help center, the approvals and the account name, each read
    only when the cheaper ones left something unexplained."""

    def __init__(
        self, app: Sanic, services: Services, ticket: Ticket, transcript: list[dict[str, Any]]
    ) -> None:
        self._app = app
        self._services = services
        self._ticket = ticket
        self._lines = [
            line["text"]
            for line in transcript
            if isinstance(line, dict)
            and line.get("role") in ("user", "bot")
            and isinstance(line.get("text"), str)
        ]
        self._account: tuple[frozenset[str], frozenset[str]] | None = None

    def unexplained(self, pending: list[Reference]) -> list[Reference]:
        sources = (
            lambda: frozenset(r.key for r in references("\n".join(self._lines))),
            lambda: _help_center_keys(self._app, self._services),
            self._approved,
            lambda: self._account_data()[0],
        )
        for source in sources:
            if not pending:
                break
            keys = source()
            pending = [r for r in pending if r.key not in keys]
        return pending

    def knows_hash(self, value: str) -> bool:
        wanted = value.lower().removeprefix("0x")
        said = {
            m.group().lower().removeprefix("0x")
            for line in self._lines
            for m in HASH.finditer(line)
        }
        return wanted in said or wanted in self._account_data()[1]

    def _approved(self) -> frozenset[str]:
        approvals = GuardApprovals(self._services.handoff.engine)
        try:
            values = approvals.approvals(self._ticket.ticket_id)
        except sa.exc.SQLAlchemyError as error:
            logger.error("outbound guard: approvals unreadable (%s)", type(error).__name__)
            return frozenset()
        return frozenset(r.key for a in values for r in references(a.value))

    def _account_data(self) -> tuple[frozenset[str], frozenset[str]]:
        """The keys of the account's addresses and e-mail, and its transaction hashes."""
        if self._account is not None:
            return self._account
        account_id = self._ticket.account_id
        keys: set[str] = set()
        hashes: set[str] = set()
        if account_id:
            wallet = self._services.wallet
            try:
                for direction in (Direction.OUT, Direction.IN):
                    for tx in wallet.transactions(account_id, direction, ACCOUNT_TRANSFERS):
                        keys |= {address_key(tx.from_address), address_key(tx.to_address)}
                        hashes.add(tx.tx_hash.lower().removeprefix("0x"))
                email = wallet.account(account_id).email
                if email:
                    keys.add("email:" + email.lower())
            except WalletError as error:
                logger.warning(
                    "outbound guard: account of ticket %s unreadable (%s)",
                    self._ticket.ticket_id,
                    type(error).__name__,
                )
        self._account = (frozenset(keys), frozenset(hashes))
        return self._account


# ---------------------------------------------------------------------------------------------
# The review.


class OutboundGuard:
    """Reviews agents' replies on the server's services."""

    def __init__(self, app: Sanic) -> None:
        self._app = app

    async def review(
        self, ticket: Ticket, agent: str, text: str, transcript: list[dict[str, Any]]
    ) -> list[Blocked]:
        """What stops ``agent``'s reply ``text`` on ``ticket``: nothing, or the reasons (each
        block logged in the audit log and alerted to supervisors)."""
        try:
            blocked = await asyncio.to_thread(self.check, ticket, text, transcript)
        except Exception as error:  # a guard that fails must not let a reply out unreviewed
            logger.error(
                "outbound guard failed on ticket %s (%s): reply stopped",
                ticket.ticket_id,
                type(error).__name__,
            )
            blocked = [Blocked(UNCHECKED, "")]
        if blocked:
            await asyncio.to_thread(self._report, ticket, agent, blocked)
        return blocked

    def check(self, ticket: Ticket, text: str, transcript: list[dict[str, Any]]) -> list[Blocked]:
        """The reasons to stop ``text`` (blocking: runs in a worker thread)."""
        # Imported here: the detector loads jieba and the word lists when first used.
        from bot.secret_guard import find_secrets

        services = services_of(self._app)
        known = _Known(
            self._app, services, ticket, transcript if isinstance(transcript, list) else []
        )
        blocked = [Blocked(SECRET_REQUEST, word) for word in secret_requests(text)]
        markers = load_cues().markers
        for finding in find_secrets(text):
            if finding.uncertain and known.knows_hash(text[finding.start : finding.end]):
                continue  # a transaction hash of the conversation or the account
            blocked.append(Blocked(SECRET, markers[finding.kind]))
        official = official_channels()
        pending = [r for r in references(text) if not official.covers(r)]
        for reference in known.unexplained(pending):
            kind = {"address": UNKNOWN_ADDRESS, "url": UNKNOWN_URL}.get(
                reference.kind, UNKNOWN_CONTACT
            )
            blocked.append(Blocked(kind, reference.value[:MAX_VALUE]))
        return list(dict.fromkeys(blocked))

    def _report(self, ticket: Ticket, agent: str, blocked: list[Blocked]) -> None:
        """The block in the audit log and an alert for supervisors, with masked values."""
        detail = "; ".join(f"{b.kind}={masked_value(b)}" for b in blocked)
        logger.warning(
            "reply of %s on ticket %s blocked: %s",
            agent,
            ticket.ticket_id,
            ",".join(sorted({b.kind for b in blocked})),
        )
        audit = services_of(self._app).handoff.audit
        try:
            audit.record(agent, REPLY_BLOCKED, f"ticket:{ticket.ticket_id}", detail)
        except AuditError:
            logger.error("blocked reply on ticket %s not recorded", ticket.ticket_id)
        try:
            audit.alert(ALERT_KIND, agent, ticket.ticket_id, detail)
        except sa.exc.SQLAlchemyError as error:
            logger.error("blocked reply alert not stored (%s)", type(error).__name__)


def masked_value(blocked: Blocked) -> str:
    """A block's value fit for the audit log and alerts: an address shortened, a link's host,
    an e-mail masked; a secret is already a marker and a request names the word only."""
    value = blocked.value
    if blocked.kind == UNKNOWN_ADDRESS:
        return mask_address(value)
    if blocked.kind == UNKNOWN_URL:
        reference = link(value, has_scheme="://" in value)
        if reference is not None and reference.key.startswith("host:"):
            return reference.key[5:]
        return value.split("?", 1)[0][:60]
    if blocked.kind == UNKNOWN_CONTACT and "@" in value[1:]:
        return mask_email(value)
    return value
