"""The HTTP adapter against a real local backend serving the contract over the demo data."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
import requests

from bot.wallet.demo_data import (
    ALICE,
    BOB,
    CAROL,
    TX_CONFIRMED,
    TX_FAILED_OUT_OF_GAS,
    TX_FAILED_REVERTED,
    TX_FAILED_WRONG_NETWORK,
    TX_INCOMING,
    TX_PENDING_FRESH,
    TX_PENDING_LONG,
    TX_PENDING_LOW_FEE,
    TX_POISON_DUST,
    TX_POISON_DUST_ETH,
    TX_POISONED,
)
from bot.wallet.errors import (
    AccountNotFound,
    NotFound,
    TransactionNotFound,
    WalletError,
    WalletUnavailable,
)
from bot.wallet.http import HttpWalletService
from bot.wallet.records import (
    Direction,
    Priority,
    TicketDraft,
    TicketKind,
    TicketState,
    TxStatus,
)
from bot.wallet.sql import SqlWalletService, transactions
from tests.support.openapi import load_contract
from tests.support.wallet_backend import BackendServer

TOKEN = "test-token"
TIMEOUT = 0.5
RETRIES = 2

DEMO_HASHES = [
    TX_PENDING_LOW_FEE,
    TX_PENDING_LONG,
    TX_PENDING_FRESH,
    TX_FAILED_OUT_OF_GAS,
    TX_FAILED_WRONG_NETWORK,
    TX_FAILED_REVERTED,
    TX_CONFIRMED,
    TX_INCOMING,
    TX_POISON_DUST,
    TX_POISONED,
    TX_POISON_DUST_ETH,
]
DRAFT = TicketDraft(
    kind=TicketKind.COMPLAINT,
    category="transfer_delay",
    description="转账三个小时还没到账",
    priority=Priority.HIGH,
    conversation_id="conv-http-1",
    account_id=None,
)


@pytest.fixture
def backend() -> Iterator[BackendServer]:
    server = BackendServer(token=TOKEN).start()
    yield server
    server.stop()
    assert server.errors == [], "the test backend itself failed"


@pytest.fixture
def sql(backend: BackendServer) -> SqlWalletService:
    """The SQL adapter on the backend's own database: the reference answers."""
    return backend.service


@pytest.fixture
def wallet(backend: BackendServer) -> Iterator[HttpWalletService]:
    service = HttpWalletService(backend.url, token=TOKEN, timeout=TIMEOUT, retries=RETRIES)
    yield service
    service.close()


# Same records as the SQL adapter


@pytest.mark.parametrize("account_id", [ALICE, BOB, CAROL])
def test_account_matches_sql(
    wallet: HttpWalletService, sql: SqlWalletService, account_id: str
) -> None:
    assert wallet.account(account_id) == sql.account(account_id)


def test_locked_account_keeps_its_lock_time(wallet: HttpWalletService) -> None:
    bob = wallet.account(BOB)
    assert bob.locked_until is not None and bob.locked_until.tzinfo is not None
    assert bob.is_locked(datetime.now(timezone.utc))
    assert bob.phone is None


@pytest.mark.parametrize("days", [1, 2, 7])
@pytest.mark.parametrize("account_id", [ALICE, BOB, CAROL])
def test_logins_match_sql(
    wallet: HttpWalletService, sql: SqlWalletService, account_id: str, days: int
) -> None:
    # A +08:00 offset checks that the "+" of the query survives encoding.
    since = datetime.now(timezone(timedelta(hours=8))) - timedelta(days=days)
    assert wallet.logins(account_id, since) == sql.logins(account_id, since)


def test_logins_window_is_applied(wallet: HttpWalletService) -> None:
    since = datetime.now(timezone(timedelta(hours=8))) - timedelta(days=2)
    assert [login.location for login in wallet.logins(ALICE, since)] == ["Lagos, NG"]


@pytest.mark.parametrize("tx_hash", DEMO_HASHES)
def test_transaction_matches_sql(
    wallet: HttpWalletService, sql: SqlWalletService, tx_hash: str
) -> None:
    assert wallet.transaction(ALICE, tx_hash) == sql.transaction(ALICE, tx_hash)


def test_transaction_hash_case_does_not_matter(
    wallet: HttpWalletService, sql: SqlWalletService
) -> None:
    assert wallet.transaction(ALICE, TX_CONFIRMED.upper()) == sql.transaction(ALICE, TX_CONFIRMED)


@pytest.mark.parametrize("limit", [1, 3, 50])
@pytest.mark.parametrize("direction", list(Direction))
@pytest.mark.parametrize("account_id", [ALICE, CAROL])
def test_transactions_match_sql(
    wallet: HttpWalletService,
    sql: SqlWalletService,
    account_id: str,
    direction: Direction,
    limit: int,
) -> None:
    assert wallet.transactions(account_id, direction, limit) == sql.transactions(
        account_id, direction, limit
    )


@pytest.mark.parametrize("limit", [1, 50])
@pytest.mark.parametrize("account_id", [ALICE, BOB, CAROL])
def test_dust_transfers_match_sql(
    wallet: HttpWalletService, sql: SqlWalletService, account_id: str, limit: int
) -> None:
    assert wallet.dust_transfers(account_id, limit) == sql.dust_transfers(account_id, limit)


def test_dust_transfers_are_alices_poisoning_transfers(wallet: HttpWalletService) -> None:
    dust = wallet.dust_transfers(ALICE, 50)
    assert [tx.tx_hash for tx in dust] == [TX_POISON_DUST_ETH, TX_POISON_DUST]


@pytest.mark.parametrize("account_id", [ALICE, BOB, CAROL])
def test_approvals_match_sql(
    wallet: HttpWalletService, sql: SqlWalletService, account_id: str
) -> None:
    assert wallet.approvals(account_id) == sql.approvals(account_id)


def test_unlimited_approvals_travel_as_unlimited(wallet: HttpWalletService) -> None:
    alice = wallet.approvals(ALICE)
    assert [approval.unlimited for approval in alice] == [False, True, True]
    assert alice[0].allowance == Decimal("100")


@pytest.mark.parametrize("limit", [1, 3, 50])
@pytest.mark.parametrize("minutes_ago", [0, 30, 200, 10_000])
def test_changes_match_sql(
    wallet: HttpWalletService, sql: SqlWalletService, minutes_ago: int, limit: int
) -> None:
    # A +08:00 offset checks that the "+" of the query survives encoding.
    since = datetime.now(timezone(timedelta(hours=8))) - timedelta(minutes=minutes_ago)
    assert wallet.changes(since, limit) == sql.changes(since, limit)


def test_a_state_change_in_the_backend_reaches_the_change_feed(
    wallet: HttpWalletService, sql: SqlWalletService
) -> None:
    since = datetime.now(timezone.utc)
    assert wallet.changes(since, 10) == []
    with sql.engine.begin() as connection:
        connection.execute(
            transactions.update()
            .where(transactions.c.tx_hash == TX_PENDING_FRESH)
            .values(status=TxStatus.CONFIRMED.value, confirmations=20, updated_at=since)
        )
    (confirmed,) = wallet.changes(since, 10)
    assert (confirmed.tx_hash, confirmed.status) == (TX_PENDING_FRESH, TxStatus.CONFIRMED)
    assert confirmed.updated_at == since


def test_a_naive_since_is_refused_before_any_request(
    wallet: HttpWalletService, backend: BackendServer
) -> None:
    with pytest.raises(WalletUnavailable):
        wallet.changes(datetime.now(), 10)
    assert backend.requests == 0


@pytest.mark.parametrize("chain", ["ETH", "BTC", "TRON", "BSC", "POLYGON", "LTC", "SOLANA"])
def test_network_fee_matches_sql(
    wallet: HttpWalletService, sql: SqlWalletService, chain: str
) -> None:
    assert wallet.network_fee(chain) == sql.network_fee(chain)


def test_unknown_chain_is_plain_not_found(wallet: HttpWalletService) -> None:
    with pytest.raises(NotFound) as caught:
        wallet.network_fee("DOGE")
    assert type(caught.value) is NotFound


def test_freeze_account_freezes_and_files_an_incident(
    wallet: HttpWalletService, sql: SqlWalletService
) -> None:
    ticket = wallet.freeze_account(CAROL, "用户报告陌生设备登录", "conv-freeze-1")

    assert sql.account(CAROL).frozen
    assert (ticket.kind, ticket.priority, ticket.state) == (
        TicketKind.INCIDENT,
        Priority.URGENT,
        TicketState.OPEN,
    )
    assert (ticket.account_id, ticket.conversation_id) == (CAROL, "conv-freeze-1")
    stored = sql.tickets(
        account_id=CAROL, conversation_id="conv-freeze-1", kind=TicketKind.INCIDENT, limit=5
    )
    assert stored == [ticket]
    assert wallet.account(CAROL) == sql.account(CAROL)


def test_create_ticket_returns_the_stored_ticket(
    wallet: HttpWalletService, sql: SqlWalletService
) -> None:
    ticket = wallet.create_ticket(DRAFT)

    assert ticket.number.startswith("C")
    assert (ticket.description, ticket.account_id, ticket.state) == (
        DRAFT.description,
        None,
        TicketState.OPEN,
    )
    stored = sql.tickets(
        account_id=None, conversation_id=DRAFT.conversation_id, kind=TicketKind.COMPLAINT, limit=5
    )
    assert stored == [ticket]


@pytest.mark.parametrize("by_account", [True, False])
@pytest.mark.parametrize("kind", list(TicketKind))
def test_tickets_match_sql(
    wallet: HttpWalletService, sql: SqlWalletService, by_account: bool, kind: TicketKind
) -> None:
    wallet.freeze_account(ALICE, "new device in Lagos", "conv-t")
    wallet.create_ticket(DRAFT)
    wallet.create_ticket(replace(DRAFT, account_id=ALICE))
    wallet.create_ticket(replace(DRAFT, conversation_id="conv-t"))
    account_id = ALICE if by_account else None
    for limit in (1, 10):
        found = wallet.tickets(
            account_id=account_id, conversation_id="conv-t", kind=kind, limit=limit
        )
        assert found
        assert found == sql.tickets(
            account_id=account_id, conversation_id="conv-t", kind=kind, limit=limit
        )


# Not found


def test_unknown_account_is_account_not_found(wallet: HttpWalletService) -> None:
    with pytest.raises(AccountNotFound):
        wallet.account("demo-nobody")


def test_freezing_an_unknown_account_is_account_not_found(
    wallet: HttpWalletService, sql: SqlWalletService
) -> None:
    with pytest.raises(AccountNotFound):
        wallet.freeze_account("demo-nobody", "stolen phone", "conv-x")
    assert (
        sql.tickets(
            account_id="demo-nobody", conversation_id="conv-x", kind=TicketKind.INCIDENT, limit=5
        )
        == []
    )


@pytest.mark.parametrize(
    ("account_id", "tx_hash"),
    [
        (ALICE, "0x" + "0" * 64),  # unknown hash
        (BOB, TX_CONFIRMED),  # Alice's transfer, asked for by Bob
        ("demo-nobody", TX_CONFIRMED),
    ],
)
def test_unknown_hash_is_transaction_not_found(
    wallet: HttpWalletService, account_id: str, tx_hash: str
) -> None:
    with pytest.raises(TransactionNotFound):
        wallet.transaction(account_id, tx_hash)


@pytest.mark.parametrize(
    "tx_hash",
    [
        "abc/def",
        "abc?limit=1&direction=out",
        "abc#fragment",
        "%2F%2E%2E",
        "..",
        ".",
        "",
        "../../" + ALICE,  # unencoded, this would reach GET /accounts/demo-alice
        TX_CONFIRMED + "/",
        TX_CONFIRMED + "?x=1",
        " " + TX_CONFIRMED,
        "哈希 0x12",
        "a" * 3000,
    ],
)
def test_hashes_are_encoded_as_one_path_segment(
    wallet: HttpWalletService, backend: BackendServer, tx_hash: str
) -> None:
    with pytest.raises(TransactionNotFound):
        wallet.transaction(ALICE, tx_hash)
    if tx_hash in ("", ".", ".."):
        # Even percent-encoded, dot segments are resolved away: such a hash is never sent.
        assert backend.requests == 0


@pytest.mark.parametrize("account_id", ["demo-alice/logins", "../tickets", "demo-alice?x=1", ".."])
def test_account_ids_are_encoded_as_one_path_segment(
    wallet: HttpWalletService, account_id: str
) -> None:
    with pytest.raises(AccountNotFound):
        wallet.account(account_id)


# Failures


def test_wrong_token_is_unavailable_and_logged(
    backend: BackendServer, caplog: pytest.LogCaptureFixture
) -> None:
    wallet = HttpWalletService(backend.url, token="wrong", timeout=TIMEOUT, retries=RETRIES)
    with pytest.raises(WalletUnavailable):
        wallet.account(ALICE)
    assert backend.requests == 1
    assert any(
        record.levelno == logging.ERROR and "WALLET_BACKEND_TOKEN" in record.getMessage()
        for record in caplog.records
    )


def test_slow_backend_is_unavailable_within_the_timeout(
    wallet: HttpWalletService, backend: BackendServer
) -> None:
    backend.delay = TIMEOUT * 6
    started = time.monotonic()
    with pytest.raises(WalletUnavailable):
        wallet.account(ALICE)
    assert time.monotonic() - started < TIMEOUT * (RETRIES + 1) + 1


def test_one_503_is_retried(
    wallet: HttpWalletService, backend: BackendServer, sql: SqlWalletService
) -> None:
    backend.fail_next(1, 503)
    assert wallet.account(ALICE) == sql.account(ALICE)
    assert backend.requests == 2


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_a_bounded_number_of_times(
    wallet: HttpWalletService, backend: BackendServer, status: int
) -> None:
    backend.fail_next(10, status)
    with pytest.raises(WalletUnavailable):
        wallet.transactions(ALICE, Direction.OUT, 5)
    assert backend.requests == RETRIES + 1


def test_persistent_500_is_unavailable_without_retries(
    wallet: HttpWalletService, backend: BackendServer
) -> None:
    backend.fail_next(10, 500)
    with pytest.raises(WalletUnavailable):
        wallet.account(ALICE)
    assert backend.requests == 1


@pytest.mark.parametrize(
    "post",
    [
        lambda wallet: wallet.create_ticket(DRAFT),
        lambda wallet: wallet.freeze_account(CAROL, "stolen phone", DRAFT.conversation_id),
    ],
    ids=["create_ticket", "freeze_account"],
)
def test_posts_are_not_retried(
    wallet: HttpWalletService,
    backend: BackendServer,
    sql: SqlWalletService,
    post: Callable[[HttpWalletService], Any],
) -> None:
    backend.fail_next(1, 503)
    with pytest.raises(WalletUnavailable):
        post(wallet)
    assert backend.requests == 1
    assert not sql.account(CAROL).frozen


def test_unreachable_backend_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    wallet = HttpWalletService(f"http://127.0.0.1:{port}", token=TOKEN, timeout=TIMEOUT)
    started = time.monotonic()
    with pytest.raises(WalletUnavailable):
        wallet.account(ALICE)
    assert time.monotonic() - started < TIMEOUT * (RETRIES + 1) + 1


CALLS: dict[str, Callable[[HttpWalletService], Any]] = {
    "account": lambda wallet: wallet.account(ALICE),
    "logins": lambda wallet: wallet.logins(ALICE, datetime.now(timezone.utc)),
    "transaction": lambda wallet: wallet.transaction(ALICE, TX_CONFIRMED),
    "transactions": lambda wallet: wallet.transactions(ALICE, Direction.OUT, 5),
    "dust_transfers": lambda wallet: wallet.dust_transfers(ALICE, 5),
    "approvals": lambda wallet: wallet.approvals(ALICE),
    "changes": lambda wallet: wallet.changes(datetime.now(timezone.utc), 5),
    "network_fee": lambda wallet: wallet.network_fee("ETH"),
    "create_ticket": lambda wallet: wallet.create_ticket(DRAFT),
    "tickets": lambda wallet: wallet.tickets(
        account_id=ALICE, conversation_id="c", kind=TicketKind.COMPLAINT, limit=5
    ),
}


@pytest.mark.parametrize(
    "body",
    [
        b'{"not json',
        b"<html>502 Bad Gateway</html>",
        b"",
        b"[]",
        b"null",
        b'{"logins": {}, "transactions": "none", "tickets": null, "approvals": [1]}',
        b'{"approvals": [{"account_id": "demo-alice", "allowance": 100}], "transactions": [{}]}',
        b'{"account_id": "demo-alice"}',
    ],
)
@pytest.mark.parametrize("call", list(CALLS))
def test_malformed_bodies_are_unavailable(
    wallet: HttpWalletService, backend: BackendServer, call: str, body: bytes
) -> None:
    backend.garble_next(1, body)
    with pytest.raises(WalletUnavailable):
        CALLS[call](wallet)


def test_a_base_url_with_a_trailing_slash_works(backend: BackendServer) -> None:
    wallet = HttpWalletService(backend.url + "/", token=TOKEN, timeout=TIMEOUT, retries=RETRIES)
    assert wallet.account(ALICE).account_id == ALICE


# What reaches logs and error messages


def test_logs_mask_account_ids_and_give_latency(
    wallet: HttpWalletService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.wallet.http")
    wallet.account(ALICE)
    with pytest.raises(TransactionNotFound):
        wallet.transaction(ALICE, "my seed words are secret")

    assert ALICE not in caplog.text
    assert "secret" not in caplog.text
    assert "dem***" in caplog.text
    assert any(" ms" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("prepare", "call"),
    [
        (lambda backend: backend.fail_next(10, 500), CALLS["account"]),
        (lambda backend: None, lambda wallet: wallet.transaction(ALICE, "my seed words")),
        (lambda backend: None, lambda wallet: wallet.account("user@secret.example")),
    ],
)
def test_errors_carry_no_backend_text_or_user_input(
    wallet: HttpWalletService,
    backend: BackendServer,
    prepare: Callable[[BackendServer], None],
    call: Callable[[HttpWalletService], Any],
) -> None:
    prepare(backend)
    with pytest.raises(WalletError) as caught:
        call(wallet)
    message = str(caught.value)
    for leaked in ("injected failure", "seed", "secret", "no such", "demo-alice", backend.url):
        assert leaked not in message


# The test backend keeps to the documented contract


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return load_contract("wallet-backend.openapi.yaml")


def _response_schema(contract: dict[str, Any], template: str, method: str, status: int) -> Any:
    responses = contract["paths"][template][method.lower()]["responses"]
    response = responses.get(str(status)) or responses[f"{str(status)[0]}XX"]
    if "$ref" in response:
        response = contract["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    ("method", "template", "path", "body", "status"),
    [
        ("GET", "/accounts/{account_id}", f"/accounts/{ALICE}", None, 200),
        ("GET", "/accounts/{account_id}", f"/accounts/{BOB}", None, 200),
        ("GET", "/accounts/{account_id}", "/accounts/nobody", None, 404),
        (
            "GET",
            "/accounts/{account_id}/logins",
            f"/accounts/{ALICE}/logins?since=2000-01-01T00:00:00%2B00:00",
            None,
            200,
        ),
        ("GET", "/accounts/{account_id}/logins", f"/accounts/{ALICE}/logins", None, 400),
        *[
            (
                "GET",
                "/accounts/{account_id}/transactions/{tx_hash}",
                f"/accounts/{ALICE}/transactions/{tx_hash}",
                None,
                200,
            )
            for tx_hash in DEMO_HASHES
        ],
        (
            "GET",
            "/accounts/{account_id}/transactions",
            f"/accounts/{ALICE}/transactions?direction=out&limit=20",
            None,
            200,
        ),
        (
            "GET",
            "/accounts/{account_id}/transactions",
            f"/accounts/{ALICE}/transactions?direction=out&limit=0",
            None,
            400,
        ),
        (
            "GET",
            "/accounts/{account_id}/dust-transfers",
            f"/accounts/{ALICE}/dust-transfers?limit=5",
            None,
            200,
        ),
        (
            "GET",
            "/accounts/{account_id}/dust-transfers",
            f"/accounts/{ALICE}/dust-transfers",
            None,
            400,
        ),
        ("GET", "/accounts/{account_id}/approvals", f"/accounts/{ALICE}/approvals", None, 200),
        ("GET", "/accounts/{account_id}/approvals", f"/accounts/{CAROL}/approvals", None, 200),
        (
            "GET",
            "/transactions/changes",
            "/transactions/changes?since=2000-01-01T00:00:00%2B00:00&limit=50",
            None,
            200,
        ),
        (
            "GET",
            "/transactions/changes",
            "/transactions/changes?since=2000-01-01T00:00:00&limit=50",
            None,
            400,
        ),
        ("GET", "/transactions/changes", "/transactions/changes?limit=50", None, 400),
        ("GET", "/network-fees/{chain}", "/network-fees/TRON", None, 200),
        ("GET", "/network-fees/{chain}", "/network-fees/DOGE", None, 404),
        (
            "POST",
            "/accounts/{account_id}/freeze",
            f"/accounts/{BOB}/freeze",
            {"reason": "r", "conversation_id": "c"},
            201,
        ),
        ("POST", "/tickets", "/tickets", {"kind": "complaint"}, 400),
        (
            "POST",
            "/tickets",
            "/tickets",
            {
                "kind": "incident",
                "category": "phishing",
                "description": "d",
                "priority": "urgent",
                "conversation_id": "c",
                "account_id": ALICE,
            },
            201,
        ),
        ("GET", "/tickets", "/tickets?kind=complaint&limit=5&conversation_id=c", None, 200),
        ("GET", "/tickets", "/tickets?kind=complaint&limit=5", None, 400),
    ],
)
def test_backend_answers_as_documented(
    backend: BackendServer,
    contract: dict[str, Any],
    method: str,
    template: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = requests.request(method, backend.url + path, json=body, headers=headers, timeout=5)
    assert response.status_code == status
    schema = _response_schema(contract, template, method, status)
    resolver = jsonschema.RefResolver.from_schema(contract)
    jsonschema.Draft7Validator(schema, resolver=resolver).validate(response.json())


def test_backend_refuses_a_missing_token(backend: BackendServer, contract: dict[str, Any]) -> None:
    response = requests.get(f"{backend.url}/accounts/{ALICE}", timeout=5)
    assert response.status_code == 401
    schema = _response_schema(contract, "/accounts/{account_id}", "GET", 401)
    resolver = jsonschema.RefResolver.from_schema(contract)
    jsonschema.Draft7Validator(schema, resolver=resolver).validate(response.json())
