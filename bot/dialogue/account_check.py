"""What to tell a user about their own account: lock state, reset channel, security check-up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.dialogue.replies import Reply, shown_time
from bot.privacy import mask_email, mask_phone
from bot.wallet.records import Account, Login

CHECKUP_DAYS = 7


def reset_destination(account: Account) -> str:
    """Where reset codes go, masked: "138****5678 / a***@example.com"."""
    parts = [mask_phone(account.phone) if account.phone else "", mask_email(account.email or "")]
    return " / ".join(part for part in parts if part and part != "***")


def account_status_replies(account: Account, now: datetime, zone: ZoneInfo) -> list[Reply]:
    """Lock or freeze state, where the reset code goes, 2FA, then the reset steps."""
    replies: list[Reply] = []
    if account.frozen:
        replies.append(Reply("utter_account_frozen_state"))
    elif account.locked_until is not None and account.is_locked(now):
        minutes = max(int((account.locked_until - now).total_seconds() // 60), 1)
        until = f"{account.locked_until.astimezone(zone):%H:%M}"
        replies.append(Reply("utter_account_locked", {"until": until, "minutes": minutes}))
    else:
        replies.append(Reply("utter_account_not_locked"))
    destination = reset_destination(account)
    if destination:
        replies.append(Reply("utter_reset_code_destination", {"destination": destination}))
    if account.two_factor_enabled:
        replies.append(Reply("utter_reset_two_factor_on"))
    replies.append(Reply("utter_password_reset"))
    return replies


def security_checkup_replies(
    account: Account, logins: Sequence[Login], zone: ZoneInfo, days: int = CHECKUP_DAYS
) -> list[Reply]:
    """Findings of the check-up (2FA off, new devices in the last ``days``), then general advice."""
    findings: list[Reply] = []
    if not account.two_factor_enabled:
        findings.append(Reply("utter_checkup_two_factor_off"))
    new_devices = [login for login in logins if login.new_device]
    if new_devices:
        lines = "\n".join(
            f"• {login.device} · {login.location} · {shown_time(login.logged_in_at, zone)}"
            for login in new_devices
        )
        findings.append(Reply("utter_checkup_new_logins", {"days": days, "logins": lines}))
    if not findings:
        findings.append(Reply("utter_checkup_all_good", {"days": days}))
    return [*findings, Reply("utter_account_security")]
