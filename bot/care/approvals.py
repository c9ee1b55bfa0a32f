"""How risky each of a user's token approvals (授权) is, and which one could have drained a token.

An approval lets a spender contract move the owner's token. Its risk is the most serious that
applies: a spender on the denylist, an unlimited allowance, a spender nobody knows or an
approval left in force for more than half a year; else low. After a theft whose mnemonic was not
shared, the most serious approval of the stolen token is the usual cause (PRODUCT.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from bot.care.poisoning import same_address
from bot.wallet.records import Approval

# An approval granted longer ago than this is one the user has likely forgotten.
STALE_AFTER = timedelta(days=180)


class Risk(str, Enum):
    """An approval's risk, most serious first."""

    DENYLISTED = "denylisted"
    UNLIMITED = "unlimited"
    STALE_OR_UNKNOWN = "stale_or_unknown"
    LOW = "low"


class Reason(str, Enum):
    """One reason an approval is risky; an approval may have several."""

    DENYLISTED_SPENDER = "denylisted_spender"
    UNLIMITED = "unlimited"
    UNKNOWN_SPENDER = "unknown_spender"
    STALE = "stale"


_RISK_OF = {
    Reason.DENYLISTED_SPENDER: Risk.DENYLISTED,
    Reason.UNLIMITED: Risk.UNLIMITED,
    Reason.UNKNOWN_SPENDER: Risk.STALE_OR_UNKNOWN,
    Reason.STALE: Risk.STALE_OR_UNKNOWN,
}
_SEVERITY = {risk: rank for rank, risk in enumerate(Risk)}

# Whether a spender is denylisted: a check of (chain, address), such as
# ``LinkSafety.denylisted``, or a set of spender addresses.
Denylist = Callable[[str, str], bool] | Set[str]


@dataclass(frozen=True)
class Assessed:
    """An approval with its risk (the most serious of its reasons) and every reason, most
    serious first."""

    approval: Approval
    risk: Risk
    reasons: tuple[Reason, ...]


def assess(approvals: Iterable[Approval], denylisted: Denylist, now: datetime) -> list[Assessed]:
    """Each approval's risk, most serious first, then newest first."""
    listed = _checker(denylisted)
    assessed = []
    for approval in approvals:
        reasons = [
            reason
            for reason, applies in (
                (Reason.DENYLISTED_SPENDER, listed(approval.chain, approval.spender)),
                (Reason.UNLIMITED, approval.unlimited),
                (Reason.UNKNOWN_SPENDER, approval.spender_label is None),
                (Reason.STALE, now - approval.granted_at > STALE_AFTER),
            )
            if applies
        ]
        risk = _RISK_OF[reasons[0]] if reasons else Risk.LOW
        assessed.append(Assessed(approval, risk, tuple(reasons)))
    return sorted(assessed, key=_order)


def drain_suspect(
    assessed: Iterable[Assessed], token: str, chain: str | None = None
) -> Approval | None:
    """The approval that could have drained ``token`` (a symbol such as USDT, or its contract
    address), on ``chain`` (a port chain name) when given: the most serious approval of that
    token, the newest of equals; None when no approval covers it."""
    wanted = token.strip()
    for item in sorted(assessed, key=_order):
        approval = item.approval
        if chain is not None and approval.chain.upper() != chain.strip().upper():
            continue
        if approval.token.upper() == wanted.upper() or same_address(
            approval.chain, approval.token_address, wanted
        ):
            return approval
    return None


def _order(item: Assessed) -> tuple[int, float]:
    return _SEVERITY[item.risk], -item.approval.granted_at.timestamp()


def _checker(denylisted: Denylist) -> Callable[[str, str], bool]:
    if callable(denylisted):
        return denylisted
    spenders = denylisted
    return lambda chain, address: any(same_address(chain, s, address) for s in spenders)
