"""Address poisoning: lookalikes in a user's own history, per chain, in any case on EVM chains,
and a transfer's destination checked against the addresses used before it."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from bot.care.poisoning import (
    Lookalike,
    lookalikes,
    looks_alike,
    poisoned_destination,
    same_address,
)
from bot.wallet import demo_data
from bot.wallet.records import Direction, Transaction, TxStatus
from bot.wallet.sql import SqlWalletService

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
USER_TRON = "TUserWa11etAddressXw9kQmRt7bCu3Nh"
USER_ETH = "0x" + "a1" * 20
EXCHANGE_TRON = "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"
POISON_TRON = "TQn9" + "PoisonedMimicAddre55Tw7kQm" + "bLSE"
EXCHANGE_ETH = "0x28c6c06298d514db089934071355e5743bf21d60"
POISON_ETH = "0x28C6" + "4f1d9a3c7b2e8d6f0a5c3e9b1d7f2a4c" + "1D60"  # mixed case, as pasted
FRIEND_TRON = "TJRyWwFs9wTFGZg3JbrVriFbNfCug5tDeC"
_hashes = itertools.count(1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def sent(to: str, hours: float, chain: str = "TRON", amount: str = "500") -> Transaction:
    own = USER_ETH if chain != "TRON" else USER_TRON
    return _tx(chain, Direction.OUT, own, to, Decimal(amount), at(hours))


def dust(sender: str, hours: float, chain: str = "TRON") -> Transaction:
    own = USER_ETH if chain != "TRON" else USER_TRON
    return _tx(chain, Direction.IN, sender, own, Decimal("0"), at(hours))


def _tx(
    chain: str, direction: Direction, from_: str, to: str, amount: Decimal, when: datetime
) -> Transaction:
    return Transaction(
        tx_hash=f"{next(_hashes):064x}",
        account_id="u-1",
        chain=chain,
        currency="USDT",
        amount=amount,
        direction=direction,
        from_address=from_,
        to_address=to,
        fee=Decimal("1"),
        fee_currency="TRX" if chain == "TRON" else "ETH",
        status=TxStatus.CONFIRMED,
        confirmations=100,
        failure_reason=None,
        created_at=when,
        updated_at=when,
    )


# ---------------------------------------------------------------------------------------------
# Comparing addresses


@pytest.mark.parametrize("chain", ["ETH", "BSC", "POLYGON", "erc20", "BEP20", "MATIC"])
def test_evm_addresses_are_one_address_in_any_case(chain: str) -> None:
    assert same_address(chain, EXCHANGE_ETH, EXCHANGE_ETH.upper().replace("0X", "0x"))
    assert same_address(chain, f" {EXCHANGE_ETH}\n", EXCHANGE_ETH)


def test_other_chains_compare_addresses_exactly() -> None:
    assert same_address("TRON", f" {EXCHANGE_TRON} ", EXCHANGE_TRON)
    assert not same_address("TRON", EXCHANGE_TRON, EXCHANGE_TRON.lower())
    assert not same_address(
        "SOLANA",
        "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV",
        "7ecdhsygxxyscszyep35khn8vvw3svaulktzxwcfltv",
    )


def test_a_lookalike_shares_the_first_and_last_four_characters() -> None:
    assert looks_alike("TRON", POISON_TRON, EXCHANGE_TRON)
    # On EVM chains the four after 0x count, in any case.
    assert looks_alike("ETH", POISON_ETH, EXCHANGE_ETH)
    assert looks_alike("BSC", POISON_ETH, EXCHANGE_ETH)


def test_the_same_address_or_other_ends_are_no_lookalike() -> None:
    assert not looks_alike("ETH", EXCHANGE_ETH.upper().replace("0X", "0x"), EXCHANGE_ETH)
    assert not looks_alike("TRON", EXCHANGE_TRON, EXCHANGE_TRON)
    assert not looks_alike("TRON", FRIEND_TRON, EXCHANGE_TRON)
    assert not looks_alike("TRON", "TQn9" + "x" * 26 + "bLSF", EXCHANGE_TRON)  # last character
    # Case matters on TRON: these ends differ there.
    assert not looks_alike("TRON", "TQN9" + "x" * 26 + "bLSE", EXCHANGE_TRON)


# ---------------------------------------------------------------------------------------------
# Every lookalike in the history


def test_a_dust_sender_imitating_a_destination_is_found_with_its_dust() -> None:
    bait = dust(POISON_TRON, 30)
    found = lookalikes(
        [sent(EXCHANGE_TRON, 0), sent(FRIEND_TRON, 10)], [dust(FRIEND_TRON, 40), bait]
    )
    assert found == [Lookalike("TRON", POISON_TRON, EXCHANGE_TRON, bait.created_at, bait)]


def test_a_poisoned_transfer_is_one_lookalike_with_its_first_dust() -> None:
    first, second = dust(POISON_TRON, 30), dust(POISON_TRON, 50)
    history = [sent(EXCHANGE_TRON, 0), sent(POISON_TRON, 60)]
    found = lookalikes(history, [second, first])
    assert found == [Lookalike("TRON", POISON_TRON, EXCHANGE_TRON, first.created_at, first)]


def test_a_later_destination_imitating_an_earlier_one_is_found_without_dust() -> None:
    found = lookalikes([sent(POISON_TRON, 20), sent(EXCHANGE_TRON, 0)], [])
    assert found == [Lookalike("TRON", POISON_TRON, EXCHANGE_TRON, at(20), None)]


def test_an_address_first_seen_as_dust_is_the_lookalike_even_if_used_first() -> None:
    # The poisoner's dust came before anything; the user sent to the bait, then to the genuine.
    bait = dust(POISON_TRON, 0)
    found = lookalikes([sent(POISON_TRON, 5), sent(EXCHANGE_TRON, 10)], [bait])
    assert [(item.address, item.imitates) for item in found] == [(POISON_TRON, EXCHANGE_TRON)]


def test_dust_from_the_genuine_address_after_use_does_not_make_it_the_lookalike() -> None:
    # The exchange refunded a few cents after the user had used it.
    found = lookalikes([sent(EXCHANGE_TRON, 0), sent(POISON_TRON, 20)], [dust(EXCHANGE_TRON, 10)])
    assert [(item.address, item.imitates) for item in found] == [(POISON_TRON, EXCHANGE_TRON)]


def test_evm_lookalikes_are_found_in_another_case() -> None:
    bait = dust(POISON_ETH, 30, chain="ETH")
    found = lookalikes([sent(EXCHANGE_ETH.upper().replace("0X", "0x"), 0, chain="ETH")], [bait])
    assert [(item.chain, item.address) for item in found] == [("ETH", POISON_ETH)]


def test_addresses_are_compared_per_chain() -> None:
    # The same characters on another chain imitate nothing the user used there.
    bsc_lookalike = "0x28c6" + "0" * 32 + "1d60"
    found = lookalikes([sent(EXCHANGE_ETH, 0, chain="ETH")], [dust(bsc_lookalike, 5, chain="BSC")])
    assert found == []


def test_lookalikes_come_newest_first() -> None:
    older, newer = dust(POISON_TRON, 30), dust(POISON_ETH, 40, chain="ETH")
    found = lookalikes([sent(EXCHANGE_TRON, 0), sent(EXCHANGE_ETH, 1, chain="ETH")], [older, newer])
    assert [item.address for item in found] == [POISON_ETH, POISON_TRON]


def test_a_clean_history_has_no_lookalike() -> None:
    history = [sent(EXCHANGE_TRON, 0), sent(FRIEND_TRON, 5), sent(EXCHANGE_TRON, 9)]
    assert lookalikes(history, [dust(FRIEND_TRON, 7)]) == []


# ---------------------------------------------------------------------------------------------
# One transfer's destination


def test_a_transfer_to_a_dust_sender_imitating_a_used_address_is_poisoned() -> None:
    bait = dust(POISON_TRON, 30)
    tx = sent(POISON_TRON, 60)
    history = [tx, sent(EXCHANGE_TRON, 0), sent(EXCHANGE_TRON, 20)]
    assert poisoned_destination(tx, history, [bait]) == Lookalike(
        "TRON", POISON_TRON, EXCHANGE_TRON, bait.created_at, bait
    )


def test_a_transfer_to_a_lookalike_without_dust_is_poisoned_too() -> None:
    tx = sent(POISON_ETH, 60, chain="ETH")
    found = poisoned_destination(tx, [tx, sent(EXCHANGE_ETH, 0, chain="ETH")], [])
    assert found == Lookalike("ETH", POISON_ETH, EXCHANGE_ETH, tx.created_at, None)


def test_a_transfer_to_an_address_used_before_is_not_poisoned() -> None:
    tx = sent(EXCHANGE_TRON, 60)
    # Even with a lookalike dust sender in the history, the destination is the genuine one.
    assert poisoned_destination(tx, [tx, sent(EXCHANGE_TRON, 0)], [dust(POISON_TRON, 30)]) is None
    evm = sent(EXCHANGE_ETH.upper().replace("0X", "0x"), 60, chain="ETH")
    assert poisoned_destination(evm, [evm, sent(EXCHANGE_ETH, 0, chain="ETH")], []) is None


def test_sending_again_to_a_bait_address_is_still_poisoned() -> None:
    bait = dust(POISON_TRON, 30)
    tx = sent(POISON_TRON, 90)
    history = [tx, sent(POISON_TRON, 60), sent(EXCHANGE_TRON, 0)]
    found = poisoned_destination(tx, history, [bait])
    assert found is not None and found.imitates == EXCHANGE_TRON and found.dust == bait


def test_only_what_came_before_the_transfer_counts() -> None:
    tx = sent(POISON_TRON, 10)
    # The alike address was first used after this transfer, the dust came after it too.
    later = [sent(EXCHANGE_TRON, 20)]
    assert poisoned_destination(tx, [tx, *later], [dust(POISON_TRON, 30)]) is None


def test_a_first_transfer_or_an_unlike_destination_is_not_poisoned() -> None:
    tx = sent(FRIEND_TRON, 10)
    assert poisoned_destination(tx, [tx], []) is None
    assert poisoned_destination(tx, [tx, sent(EXCHANGE_TRON, 0)], [dust(POISON_TRON, 5)]) is None


# ---------------------------------------------------------------------------------------------
# The demo account


def test_demo_alices_poisoned_history_is_found(tmp_path: Path) -> None:
    service = SqlWalletService.from_url(f"sqlite:///{tmp_path / 'wallet.db'}")
    demo_data.seed(service, datetime.now(timezone.utc))
    history = service.transactions(demo_data.ALICE, Direction.OUT, 50)
    baits = service.dust_transfers(demo_data.ALICE, 50)

    found = {(item.chain, item.address, item.imitates) for item in lookalikes(history, baits)}
    assert found == {
        ("TRON", demo_data.POISON_TRON, demo_data.EXCHANGE_TRON),
        ("ETH", demo_data.POISON_ETH, demo_data.EXCHANGE_ETH),
    }
    poisoned = service.transaction(demo_data.ALICE, demo_data.TX_POISONED)
    warning = poisoned_destination(poisoned, history, baits)
    assert warning is not None and warning.imitates == demo_data.EXCHANGE_TRON
    assert warning.dust is not None and warning.dust.from_address == demo_data.POISON_TRON
    flagged = [tx.tx_hash for tx in history if poisoned_destination(tx, history, baits)]
    assert flagged == [demo_data.TX_POISONED]
