"""The account panel of a ticket: what the wallet port says about the identified user's account,
masked, and the one value an agent reveals (with a reason, recorded by the console first).

The panel shows 2FA, locks, the freeze, the devices that signed in within ``DEVICE_DAYS``, the
latest transfers each way and the open complaints and incidents. Phone, e-mail, transaction
hashes and counterparty addresses are masked; a transfer's explorer link holds its whole hash,
so the panel leaves it out and a reveal of the hash gives it. Each transfer carries an opaque
``ref`` that names it in a reveal: a keyed hash of the transfer on the ticket's own values, the
same on every server, and neither the hash nor a value anyone could compute from it.

Building reads the port (blocking: callers run it off the event loop) and raises its
``WalletError``; a reveal the panel cannot answer raises ``PanelError``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.handoff.records import Ticket
from bot.privacy import mask_account_id, mask_address, mask_email, mask_hash, mask_phone
from bot.wallet.explorers import explorer_link
from bot.wallet.records import Account, Direction, Login, TicketKind, TicketState, Transaction
from bot.wallet.records import Ticket as WalletTicket
from bot.wallet.service import WalletService

DEVICE_DAYS = 30
TRANSFERS = 10  # the latest of each direction
INCIDENTS = 10  # the latest of each kind, of which the open ones are shown
MIN_REASON, MAX_REASON = 4, 500
FIELDS = ("phone", "email", "tx_hash", "counterparty")
TRANSFER_FIELDS = ("tx_hash", "counterparty")
_OPEN = (TicketState.OPEN, TicketState.IN_PROGRESS)


class PanelError(ValueError):
    """A reveal the panel does not answer; the message says why."""


@dataclass(frozen=True)
class Transfer:
    """A transfer of the panel and the ``ref`` a reveal names it by."""

    ref: str
    tx: Transaction

    @property
    def counterparty(self) -> str:
        """The other side's address: where an outgoing transfer went, where an incoming one came
        from."""
        return self.tx.to_address if self.tx.direction is Direction.OUT else self.tx.from_address

    def as_dict(self) -> dict[str, Any]:
        tx = self.tx
        return {
            "ref": self.ref,
            "direction": tx.direction.value,
            "status": tx.status.value,
            "chain": tx.chain,
            "currency": tx.currency,
            "amount": str(tx.amount),
            "tx_hash": mask_hash(tx.tx_hash),
            "counterparty": mask_address(self.counterparty),
            "at": tx.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Revealed:
    """One value shown whole: ``ref`` names the transfer (None for phone and e-mail);
    ``explorer_link`` comes with a revealed hash (None when its chain has no explorer)."""

    field: str
    ref: str | None
    value: str
    explorer_link: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "ref": self.ref,
            "value": self.value,
            "explorer_link": self.explorer_link,
        }


@dataclass(frozen=True)
class AccountPanel:
    """What the wallet port said about a ticket's account when the panel was read."""

    account: Account
    devices: tuple[Login, ...]
    transfers: tuple[Transfer, ...]
    incidents: tuple[WalletTicket, ...]
    read_at: datetime

    @property
    def masked_account(self) -> str:
        return mask_account_id(self.account.account_id)

    def as_dict(self) -> dict[str, Any]:
        """The panel as the console shows it: every identifier masked, no explorer link."""
        account = self.account
        locked = account.locked_until if account.is_locked(self.read_at) else None
        return {
            "account": self.masked_account,
            "phone": mask_phone(account.phone) if account.phone else None,
            "email": mask_email(account.email) if account.email else None,
            "two_factor": account.two_factor_enabled,
            "locked_until": locked.isoformat() if locked else None,
            "frozen": account.frozen,
            "devices": [
                {
                    "device": login.device,
                    "location": login.location,
                    "logged_in_at": login.logged_in_at.isoformat(),
                    "new_device": login.new_device,
                }
                for login in self.devices
            ],
            "transfers": [transfer.as_dict() for transfer in self.transfers],
            "incidents": [
                {
                    "number": incident.number,
                    "kind": incident.kind.value,
                    "state": incident.state.value,
                    "created_at": incident.created_at.isoformat(),
                }
                for incident in self.incidents
            ],
        }

    def reveal(self, field: str, ref: str | None) -> Revealed:
        """``field`` whole: the account's phone or e-mail, or the hash or counterparty of the
        transfer ``ref``; PanelError for a field the panel has no value of."""
        if field not in FIELDS:
            raise PanelError(f"field must be one of {', '.join(FIELDS)}")
        if field not in TRANSFER_FIELDS:
            value = self.account.phone if field == "phone" else self.account.email
            if not value:
                raise PanelError(f"the account has no {field}")
            return Revealed(field, None, value)
        transfer = next((t for t in self.transfers if ref and t.ref == ref), None)
        if transfer is None:
            raise PanelError("ref must name a transfer of the panel")
        if field == "counterparty":
            return Revealed(field, transfer.ref, transfer.counterparty)
        tx = transfer.tx
        return Revealed(field, transfer.ref, tx.tx_hash, explorer_link(tx.chain, tx.tx_hash))


def read_panel(wallet: WalletService, ticket: Ticket, now: datetime) -> AccountPanel:
    """The panel of ``ticket``'s account from ``wallet`` (blocking); ValueError for a ticket
    whose user was not identified, the port's ``WalletError`` when it fails."""
    account_id = ticket.account_id
    if not account_id:
        raise ValueError("the ticket's user is not identified")
    account = wallet.account(account_id)
    devices = wallet.logins(account_id, now - timedelta(days=DEVICE_DAYS))
    sent = wallet.transactions(account_id, Direction.OUT, TRANSFERS)
    received = wallet.transactions(account_id, Direction.IN, TRANSFERS)
    transfers = sorted(sent + received, key=lambda tx: tx.created_at, reverse=True)
    incidents = [
        incident
        for kind in (TicketKind.INCIDENT, TicketKind.COMPLAINT)
        for incident in wallet.tickets(
            account_id=account_id,
            conversation_id=ticket.conversation_id,
            kind=kind,
            limit=INCIDENTS,
        )
        if incident.state in _OPEN
    ]
    return AccountPanel(
        account=account,
        devices=tuple(devices),
        transfers=tuple(Transfer(transfer_ref(ticket, tx), tx) for tx in transfers),
        incidents=tuple(sorted(incidents, key=lambda i: i.created_at, reverse=True)),
        read_at=now,
    )


def transfer_ref(ticket: Ticket, tx: Transaction) -> str:
    """The opaque name of ``tx`` on ``ticket``'s panel: stable for the ticket on any server,
    different on every other ticket."""
    key = f"{ticket.ticket_id}|{ticket.created_at.isoformat()}|{ticket.account_id}".encode()
    message = f"{tx.direction.value}|{tx.chain}|{tx.tx_hash}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def checked_reason(value: object) -> str:
    """A reveal's reason, trimmed; PanelError when it is missing, shorter than ``MIN_REASON``
    or longer than ``MAX_REASON`` characters."""
    reason = " ".join(value.split()) if isinstance(value, str) else ""
    if len(reason) < MIN_REASON:
        raise PanelError(f"a reason of at least {MIN_REASON} characters is required")
    if len(reason) > MAX_REASON:
        raise PanelError(f"the reason must be at most {MAX_REASON} characters")
    return reason
