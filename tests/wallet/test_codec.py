"""The JSON form of the wallet records: round trips, and malformed input refused."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from bot.wallet.codec import from_json, to_json
from bot.wallet.errors import WalletUnavailable
from bot.wallet.records import (
    Account,
    Approval,
    Direction,
    FailureReason,
    Login,
    NetworkFee,
    Priority,
    Ticket,
    TicketDraft,
    TicketKind,
    TicketState,
    Transaction,
    TxStatus,
)

UTC_NOW = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=timezone.utc)
BEIJING = timezone(timedelta(hours=8))

TRANSFER = Transaction(
    tx_hash="0x" + "ab" * 32,
    account_id="demo-alice",
    chain="ETH",
    currency="USDT",
    amount=Decimal("1000.000001"),
    direction=Direction.OUT,
    from_address="0x" + "a1" * 20,
    to_address="0x" + "e7" * 20,
    fee=Decimal("0.0012"),
    fee_currency="ETH",
    status=TxStatus.FAILED,
    confirmations=0,
    failure_reason=FailureReason.OUT_OF_GAS,
    created_at=UTC_NOW - timedelta(hours=5),
    updated_at=UTC_NOW,
)
TICKET = Ticket(
    number="C2026112300042",
    kind=TicketKind.COMPLAINT,
    category="transfer_delay",
    description="转账三个小时还没到账",
    priority=Priority.HIGH,
    state=TicketState.IN_PROGRESS,
    conversation_id="conv-1",
    account_id=None,
    created_at=UTC_NOW,
    updated_at=UTC_NOW.astimezone(BEIJING),
)

UNLIMITED = Approval(
    account_id="demo-alice",
    chain="TRON",
    owner_address="TAL1ceDem0WaLLetAddre55xxxxxxxxxxx",
    token="USDT",
    token_address="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
    spender="TDrainerSpenderDemoAddre55Xw9kQmRt",
    spender_label=None,
    allowance=None,
    granted_at=UTC_NOW - timedelta(days=400),
)
LIMITED = Approval(
    **{
        **vars(UNLIMITED),
        "chain": "ETH",
        "spender": "0xE592427A0AEce92De3Edee1F18E0157C05861564",
        "spender_label": "Uniswap V3 Router",
        "allowance": Decimal("100.5"),
        "granted_at": UTC_NOW.astimezone(BEIJING),
    }
)

RECORDS: list[Any] = [
    Account("demo-alice", "13812345678", "alice@example.com", False, None, False),
    Account("demo-bob", None, None, True, UTC_NOW + timedelta(minutes=18), True),
    Login("demo-alice", "Windows PC", "Lagos, NG", UTC_NOW.astimezone(BEIJING), True),
    TRANSFER,
    Transaction(
        **{
            **vars(TRANSFER),
            "direction": Direction.IN,
            "status": TxStatus.CONFIRMED,
            "failure_reason": None,
            "confirmations": 12000,
            "amount": Decimal("0.00000001"),
            "fee": Decimal("0"),
        }
    ),
    NetworkFee("TRON", "TRX", Decimal("6.5"), UTC_NOW),
    UNLIMITED,
    LIMITED,
    TicketDraft(TicketKind.INCIDENT, "account_frozen", "陌生设备登录", Priority.URGENT, "c", "x"),
    TicketDraft(TicketKind.COMPLAINT, "other", "", Priority.NORMAL, "conv-2", None),
    TICKET,
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: type(record).__name__)
def test_every_record_survives_a_round_trip_through_json_text(record: Any) -> None:
    text = json.dumps(to_json(record), ensure_ascii=False)
    decoded = from_json(type(record), json.loads(text))
    assert decoded == record
    assert type(decoded) is type(record)


def test_encoding_follows_the_contract() -> None:
    data = to_json(TRANSFER)
    assert data["amount"] == "1000.000001"
    assert data["fee"] == "0.0012"
    assert data["direction"] == "out"
    assert data["status"] == "failed"
    assert data["failure_reason"] == "out_of_gas"
    assert data["created_at"] == "2026-11-23T05:00:00.123456+00:00"
    assert data["confirmations"] == 0


def test_an_unlimited_approval_travels_as_a_null_allowance() -> None:
    assert to_json(UNLIMITED)["allowance"] is None
    assert "unlimited" not in to_json(UNLIMITED)  # derived from the allowance, not sent
    assert to_json(LIMITED)["allowance"] == "100.5"
    assert from_json(Approval, to_json(UNLIMITED)).unlimited
    zero = from_json(Approval, to_json(LIMITED) | {"allowance": "0"})
    assert not zero.unlimited and zero.allowance == Decimal("0")


def test_decoded_values_are_typed() -> None:
    transfer = from_json(Transaction, to_json(TRANSFER))
    assert isinstance(transfer.amount, Decimal)
    assert isinstance(transfer.status, TxStatus)
    assert isinstance(transfer.failure_reason, FailureReason)
    assert transfer.created_at.tzinfo is not None


def test_offsets_are_kept() -> None:
    ticket = from_json(Ticket, to_json(TICKET))
    assert ticket.updated_at.utcoffset() == timedelta(hours=8)
    assert ticket.updated_at == TICKET.created_at


def test_decimals_are_exact_and_never_exponents() -> None:
    fee = NetworkFee("ETH", "ETH", Decimal("1E-8"), UTC_NOW)
    assert to_json(fee)["typical_fee"] == "0.00000001"
    assert to_json(NetworkFee("ETH", "ETH", Decimal("1E+3"), UTC_NOW))["typical_fee"] == "1000"


def test_unknown_fields_are_ignored() -> None:
    data = to_json(TRANSFER) | {"memo": "added by a newer backend"}
    assert from_json(Transaction, data) == TRANSFER


def _transfer_with(**changes: Any) -> dict[str, Any]:
    return to_json(TRANSFER) | changes


def _without(field: str) -> dict[str, Any]:
    data = to_json(TRANSFER)
    del data[field]
    return data


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_without("amount"), id="missing field"),
        pytest.param(_without("failure_reason"), id="missing nullable field"),
        pytest.param(_transfer_with(created_at="2026-11-23T10:00:00"), id="naive datetime"),
        pytest.param(_transfer_with(created_at="2026-11-23"), id="date only"),
        pytest.param(_transfer_with(created_at="yesterday"), id="not a datetime"),
        pytest.param(_transfer_with(created_at=1_790_000_000), id="epoch number"),
        pytest.param(_transfer_with(amount=0.1), id="float amount"),
        pytest.param(_transfer_with(amount=1000), id="integer amount"),
        pytest.param(_transfer_with(amount="1,000"), id="not a decimal"),
        pytest.param(_transfer_with(amount=None), id="null amount"),
        pytest.param(_transfer_with(status="stuck"), id="unknown status"),
        pytest.param(_transfer_with(direction="OUT"), id="enum name instead of value"),
        pytest.param(_transfer_with(confirmations="12"), id="string count"),
        pytest.param(_transfer_with(confirmations=1.5), id="float count"),
        pytest.param(_transfer_with(tx_hash=None), id="null string"),
        pytest.param(_transfer_with(chain=["ETH"]), id="list for string"),
        pytest.param([], id="list"),
        pytest.param(None, id="null"),
        pytest.param("transaction", id="string"),
    ],
)
def test_malformed_transactions_are_unavailable(data: Any) -> None:
    with pytest.raises(WalletUnavailable):
        from_json(Transaction, data)


@pytest.mark.parametrize(
    ("record_type", "field", "value"),
    [
        (Account, "two_factor_enabled", "false"),
        (Account, "frozen", 0),
        (Account, "locked_until", "2026-11-23T10:00:00"),
        (Login, "logged_in_at", "2026-11-23T10:00:00"),
        (NetworkFee, "typical_fee", 6.5),
        (Approval, "allowance", 100),
        (Approval, "allowance", "unlimited"),
        (Approval, "granted_at", "2026-11-23T10:00:00"),
        (Approval, "spender", None),
        (Ticket, "state", "closed"),
        (TicketDraft, "priority", "low"),
    ],
)
def test_malformed_fields_of_other_records_are_unavailable(
    record_type: type[Any], field: str, value: Any
) -> None:
    record = next(record for record in RECORDS if type(record) is record_type)
    with pytest.raises(WalletUnavailable):
        from_json(record_type, to_json(record) | {field: value})


def test_an_approval_without_its_allowance_is_not_taken_for_unlimited() -> None:
    data = to_json(LIMITED)
    del data["allowance"]
    with pytest.raises(WalletUnavailable):
        from_json(Approval, data)


def test_naive_datetimes_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        to_json(NetworkFee("ETH", "ETH", Decimal("1"), datetime(2026, 11, 23, 10, 0)))


def test_utc_written_as_z_is_accepted() -> None:
    data = _transfer_with(created_at="2026-11-23T05:00:00.123456Z")
    assert from_json(Transaction, data).created_at == TRANSFER.created_at


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_amounts_are_unavailable(amount: str) -> None:
    with pytest.raises(WalletUnavailable):
        from_json(Transaction, _transfer_with(amount=amount))


def test_boolean_counts_are_unavailable() -> None:
    with pytest.raises(WalletUnavailable):
        from_json(Transaction, _transfer_with(confirmations=True))
