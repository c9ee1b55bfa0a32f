"""Approval risk: denylisted spender, unlimited, old or unknown spender, low; grouped most serious
first; the approval that could have drained a stolen token named."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.care.approvals import Reason, Risk, assess, drain_suspect
from bot.link_safety.local import LocalLinkSafety
from bot.wallet import demo_data
from bot.wallet.records import Approval
from bot.wallet.sql import SqlWalletService

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
USDT_ETH = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
DRAINER = "0x0000dB5C8B030ae20308ac975898E09741e70000"
UNISWAP = "0xE592427A0AEce92De3Edee1F18E0157C05861564"
BASE = Approval(
    account_id="u-1",
    chain="ETH",
    owner_address="0x" + "a1" * 20,
    token="USDT",
    token_address=USDT_ETH,
    spender=UNISWAP,
    spender_label="Uniswap V3 Router",
    allowance=Decimal("100"),
    granted_at=NOW - timedelta(days=10),
)


def approval(**changes: Any) -> Approval:
    return replace(BASE, **changes)


def test_each_approval_gets_its_most_serious_risk_and_every_reason() -> None:
    drainer = approval(spender=DRAINER, spender_label=None, allowance=None)
    unlimited = approval(allowance=None)
    old = approval(granted_at=NOW - timedelta(days=181))
    unknown = approval(spender="0x" + "5ca1ab1e" * 5, spender_label=None)
    fine = approval(granted_at=NOW - timedelta(days=180))

    found = {
        item.approval: (item.risk, item.reasons)
        for item in assess([fine, unknown, old, unlimited, drainer], {DRAINER.lower()}, NOW)
    }
    assert found == {
        drainer: (
            Risk.DENYLISTED,
            (Reason.DENYLISTED_SPENDER, Reason.UNLIMITED, Reason.UNKNOWN_SPENDER),
        ),
        unlimited: (Risk.UNLIMITED, (Reason.UNLIMITED,)),
        old: (Risk.STALE_OR_UNKNOWN, (Reason.STALE,)),
        unknown: (Risk.STALE_OR_UNKNOWN, (Reason.UNKNOWN_SPENDER,)),
        fine: (Risk.LOW, ()),
    }


def test_approvals_come_most_serious_first_then_newest_first() -> None:
    older_unlimited = approval(allowance=None, granted_at=NOW - timedelta(days=30))
    newer_unlimited = approval(allowance=None, token="USDC", granted_at=NOW - timedelta(days=2))
    low = approval(granted_at=NOW - timedelta(days=1))
    drainer = approval(spender=DRAINER, granted_at=NOW - timedelta(days=90))

    assessed = assess([low, older_unlimited, drainer, newer_unlimited], {DRAINER}, NOW)
    assert [item.approval for item in assessed] == [
        drainer,
        newer_unlimited,
        older_unlimited,
        low,
    ]
    assert [item.risk for item in assessed] == [
        Risk.DENYLISTED,
        Risk.UNLIMITED,
        Risk.UNLIMITED,
        Risk.LOW,
    ]


def test_the_denylist_may_be_a_check_per_chain() -> None:
    on_tron = approval(chain="TRON", spender=demo_data.DENYLISTED_TRON_SPENDER)
    same_on_eth = approval(spender=demo_data.DENYLISTED_TRON_SPENDER)

    def denylisted(chain: str, address: str) -> bool:
        return chain == "TRON" and address == demo_data.DENYLISTED_TRON_SPENDER

    risks = {
        item.approval.chain: item.risk for item in assess([on_tron, same_on_eth], denylisted, NOW)
    }
    assert risks == {"TRON": Risk.DENYLISTED, "ETH": Risk.LOW}


def test_a_denylist_set_compares_evm_spenders_in_any_case_and_tron_exactly() -> None:
    evm = approval(spender=DRAINER.upper().replace("0X", "0x"))
    tron = approval(chain="TRON", spender="TDrainerSpenderDemoAddre55Xw9kQmRt".lower())
    risks = [
        item.risk
        for item in assess([evm, tron], {DRAINER, "TDrainerSpenderDemoAddre55Xw9kQmRt"}, NOW)
    ]
    assert risks == [Risk.DENYLISTED, Risk.LOW]


def test_after_a_theft_the_most_serious_approval_of_the_token_is_the_suspect() -> None:
    usdt_low = approval(granted_at=NOW - timedelta(days=1))
    usdt_unlimited = approval(allowance=None, granted_at=NOW - timedelta(days=300))
    usdc_drainer = approval(token="USDC", token_address="0x" + "c0" * 20, spender=DRAINER)
    assessed = assess([usdt_low, usdt_unlimited, usdc_drainer], {DRAINER}, NOW)

    assert drain_suspect(assessed, "usdt") == usdt_unlimited
    assert drain_suspect(assessed, "USDC") == usdc_drainer
    # By contract address too, in any case on EVM chains.
    assert drain_suspect(assessed, USDT_ETH.lower()) == usdt_unlimited


def test_no_suspect_without_an_approval_of_that_token_on_that_chain() -> None:
    assessed = assess([approval(allowance=None)], set(), NOW)
    assert drain_suspect(assessed, "TRX") is None
    assert drain_suspect(assessed, "USDT", chain="TRON") is None
    assert drain_suspect(assessed, "USDT", chain="eth") is not None
    assert drain_suspect([], "USDT") is None


def test_demo_alices_approvals_through_the_local_denylist(tmp_path: Path) -> None:
    service = SqlWalletService.from_url(f"sqlite:///{tmp_path / 'wallet.db'}")
    demo_data.seed(service, NOW)
    safety = LocalLinkSafety.from_files()

    assessed = assess(service.approvals(demo_data.ALICE), safety.denylisted, NOW)
    assert [(item.risk, item.approval.token, item.approval.spender) for item in assessed] == [
        (Risk.DENYLISTED, "USDT", demo_data.DENYLISTED_TRON_SPENDER),
        (Risk.UNLIMITED, "USDT", demo_data.UNKNOWN_ETH_SPENDER),  # 400 days ago
        (Risk.LOW, "USDC", demo_data.UNISWAP_V3_ROUTER),
    ]
    # Stolen USDT: the TRON drainer before the old unlimited ETH approval.
    suspect = drain_suspect(assessed, "USDT")
    assert suspect is not None and suspect.spender == demo_data.DENYLISTED_TRON_SPENDER
    eth_suspect = drain_suspect(assessed, "USDT", chain="ETH")
    assert eth_suspect is not None and eth_suspect.spender == demo_data.UNKNOWN_ETH_SPENDER
