"""The demo holds whenever it is tried: demo-bob locked, demo-alice's fresh transfer fresh,
her poisoned history and approvals as old as described.

The clock offset: the demo accounts are seeded an hour before they are shown. Unit tests on a
real temporary SQLite store; one conversation through the real Rasa agent and action server.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from actions.transfer import RECENT_TRANSFERS
from bot.dialogue.transfer_check import TransferCheckSettings, transfer_replies
from bot.wallet import demo_data, demo_refresh
from bot.wallet.records import Direction, Priority, TicketDraft, TicketKind, TxStatus
from bot.wallet.sql import SqlWalletService, accounts
from scripts.local_stack import LocalStack
from tests.support.conversation import Conversation

SEEDED = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
HOUR_LATER = SEEDED + timedelta(hours=1)


def store(tmp_path: Path) -> SqlWalletService:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return SqlWalletService.from_url(f"sqlite:///{tmp_path / 'wallet.db'}")


def fresh_transfer_replies(service: SqlWalletService, now: datetime) -> list[str]:
    tx = service.transaction(demo_data.ALICE, demo_data.TX_PENDING_FRESH)
    settings = TransferCheckSettings(timedelta(minutes=60))
    return [reply.response for reply in transfer_replies(tx, None, now, settings)]


def test_an_hour_after_seeding_the_demo_has_aged_without_a_refresh(tmp_path: Path) -> None:
    service = store(tmp_path)
    demo_data.seed(service, SEEDED)
    assert not service.account(demo_data.BOB).is_locked(HOUR_LATER)
    assert "utter_transfer_pending_long" in fresh_transfer_replies(service, HOUR_LATER)


def test_a_refresh_an_hour_later_shows_the_demo_as_described(tmp_path: Path) -> None:
    service = store(tmp_path)
    demo_data.seed(service, SEEDED)
    assert demo_refresh.refresh(service, HOUR_LATER)
    bob = service.account(demo_data.BOB)
    assert bob.is_locked(HOUR_LATER)
    assert bob.locked_until == HOUR_LATER + timedelta(minutes=18)
    replies = fresh_transfer_replies(service, HOUR_LATER)
    assert "utter_transfer_pending_wait" in replies
    assert "utter_transfer_pending_long" not in replies
    assert not demo_refresh.refresh(service, HOUR_LATER)  # already current


def test_a_refresh_keeps_what_users_did_and_filed(tmp_path: Path) -> None:
    service = store(tmp_path)
    demo_data.seed(service, SEEDED)
    service.freeze_account(demo_data.CAROL, "test", "someone")
    draft = TicketDraft(
        kind=TicketKind.COMPLAINT,
        category="transfer",
        description="提币两天没到账",
        priority=Priority.NORMAL,
        conversation_id="someone",
        account_id=demo_data.ALICE,
    )
    ticket = service.create_ticket(draft)
    assert demo_refresh.prepare(service, HOUR_LATER) == "refreshed"
    assert service.account(demo_data.CAROL).frozen
    kept = service.tickets(
        account_id=demo_data.ALICE, conversation_id="someone", kind=TicketKind.COMPLAINT, limit=5
    )
    assert [t.number for t in kept] == [ticket.number]


def test_a_refresh_moves_approvals_and_the_poisoned_history_too(tmp_path: Path) -> None:
    service = store(tmp_path)
    demo_data.seed(service, SEEDED)
    before = service.approvals(demo_data.ALICE) + service.approvals(demo_data.CAROL)
    dust_before = service.dust_transfers(demo_data.ALICE, 10)
    assert demo_refresh.refresh(service, HOUR_LATER)
    after = service.approvals(demo_data.ALICE) + service.approvals(demo_data.CAROL)
    assert after == [replace(a, granted_at=a.granted_at + timedelta(hours=1)) for a in before]
    assert [HOUR_LATER - a.granted_at for a in after[:3]] == [
        timedelta(days=10),
        timedelta(days=20),
        timedelta(days=400),
    ]
    moved = timedelta(hours=1)
    assert service.dust_transfers(demo_data.ALICE, 10) == [
        replace(tx, created_at=tx.created_at + moved, updated_at=tx.updated_at + moved)
        for tx in dust_before
    ]
    poisoned = service.transaction(demo_data.ALICE, demo_data.TX_POISONED)
    assert HOUR_LATER - poisoned.created_at == timedelta(minutes=200)


def test_the_lookalikes_imitate_the_exchange_addresses() -> None:
    for lookalike, real in (
        (demo_data.POISON_TRON, demo_data.EXCHANGE_TRON),
        (demo_data.POISON_ETH.lower().removeprefix("0x"), demo_data.EXCHANGE_ETH[2:]),
    ):
        assert len(lookalike) == len(real)
        assert (lookalike[:4], lookalike[-4:]) == (real[:4], real[-4:])
        assert lookalike[4:-4] != real[4:-4]
    # Only a case-insensitive comparison sees the likeness of the EVM lookalike.
    assert demo_data.POISON_ETH[2:6] != demo_data.EXCHANGE_ETH[2:6]
    assert demo_data.POISON_ETH[-4:] != demo_data.EXCHANGE_ETH[-4:]


def test_alice_paid_the_tron_lookalike_but_never_the_eth_one(tmp_path: Path) -> None:
    service = store(tmp_path)
    demo_data.seed(service, SEEDED)
    sent = service.transactions(demo_data.ALICE, Direction.OUT, 50)
    destinations = {tx.to_address.lower() for tx in sent}
    assert demo_data.POISON_TRON.lower() in destinations
    assert demo_data.POISON_ETH.lower() not in destinations
    assert demo_data.EXCHANGE_ETH.lower() in destinations  # the address it imitates
    poisoned = service.transaction(demo_data.ALICE, demo_data.TX_POISONED)
    assert (poisoned.status, poisoned.amount, poisoned.chain) == (
        TxStatus.CONFIRMED,
        Decimal("1500"),
        "TRON",
    )
    offered = service.transactions(demo_data.ALICE, Direction.OUT, RECENT_TRANSFERS)
    assert demo_data.TX_POISONED not in {tx.tx_hash for tx in offered}
    assert demo_data.TX_PENDING_LONG in {tx.tx_hash for tx in offered}


def test_make_run_seeds_an_empty_database_and_leaves_another_alone(tmp_path: Path) -> None:
    empty = store(tmp_path / "empty")
    assert demo_refresh.prepare(empty, SEEDED) == "seeded" and demo_refresh.is_seeded(empty)
    other = store(tmp_path / "other")
    with other.engine.begin() as connection:
        connection.execute(
            accounts.insert(),
            [
                {
                    "account_id": "real-user",
                    "phone": None,
                    "email": None,
                    "two_factor_enabled": True,
                    "locked_until": None,
                    "frozen": False,
                }
            ],
        )
    assert demo_refresh.prepare(other, SEEDED) == "untouched"
    assert not demo_refresh.is_seeded(other)


def test_the_demo_seeded_an_hour_ago_works_after_make_run(
    conversation: Conversation, action_stack: LocalStack
) -> None:
    service = SqlWalletService.from_url(action_stack.wallet_url)
    now = datetime.now(timezone.utc)
    demo_data.seed(service, now - timedelta(hours=1))
    try:
        assert conversation.responses("密码输错好几次登不上了", demo_data.BOB)[0] != (
            "utter_account_locked"
        )
        assert demo_refresh.prepare(service) == "refreshed"  # what `make run` does
        assert conversation.responses("密码输错好几次登不上了", demo_data.BOB)[0] == (
            "utter_account_locked"
        )
        responses = conversation.responses(
            f"这笔转账一直pending {demo_data.TX_PENDING_FRESH}", demo_data.ALICE
        )
        assert responses == [
            "utter_transfer_pending_status",
            "utter_transfer_pending_wait",
            "utter_transfer_explorer",
            "utter_offer_watch",
        ]
    finally:
        demo_data.seed(service)
