"""Masks identifiers before they are shown to users or written to logs."""

from __future__ import annotations


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
