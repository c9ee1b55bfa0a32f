"""HTTP adapter of the wallet port: the JSON contract in docs/wallet-backend.openapi.yaml."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from bot.wallet.codec import from_json, to_json
from bot.wallet.errors import (
    AccountNotFound,
    NotFound,
    TransactionNotFound,
    WalletUnavailable,
)
from bot.wallet.records import (
    Account,
    Approval,
    Direction,
    Login,
    NetworkFee,
    Ticket,
    TicketDraft,
    TicketKind,
    Transaction,
)
from bot.wallet.service import WalletService

logger = logging.getLogger(__name__)

R = TypeVar("R")

RETRIED_STATUSES = frozenset({502, 503, 504})
BACKOFF_SECONDS = 0.1


def mask(account_id: str | None) -> str:
    """An account id fit for logs: at most its first three characters."""
    if not account_id:
        return "-"
    return account_id[: min(3, len(account_id) // 2)] + "***"


class HttpWalletService(WalletService):
    """The wallet port over the wallet company's HTTP backend, with a bearer token."""

    def __init__(self, url: str, *, token: str, timeout: float = 3.0, retries: int = 2) -> None:
        self._url = url.rstrip("/")
        self._timeout = (timeout, timeout)
        # GETs are idempotent, so they may be repeated on connection errors and gateway errors;
        # POSTs go through a session without retries, since urllib3 would repeat any method
        # after a connection error.
        self._reads = self._session(token, self._retry(retries))
        self._writes = self._session(token, Retry(total=0, read=False, redirect=False))

    def account(self, account_id: str) -> Account:
        path = f"/accounts/{_segment(account_id, AccountNotFound)}"
        data = self._get("account", path, {}, account_id, AccountNotFound)
        return _decode(Account, data, "account")

    def logins(self, account_id: str, since: datetime) -> list[Login]:
        if since.tzinfo is None:
            raise WalletUnavailable("naive datetime for since")
        path = f"/accounts/{_segment(account_id, AccountNotFound)}/logins"
        data = self._get("logins", path, {"since": since.isoformat()}, account_id, AccountNotFound)
        return [_decode(Login, item, "logins") for item in _items(data, "logins")]

    def transaction(self, account_id: str, tx_hash: str) -> Transaction:
        path = (
            f"/accounts/{_segment(account_id, TransactionNotFound)}"
            f"/transactions/{_segment(tx_hash, TransactionNotFound)}"
        )
        data = self._get("transaction", path, {}, account_id, TransactionNotFound)
        return _decode(Transaction, data, "transaction")

    def transactions(self, account_id: str, direction: Direction, limit: int) -> list[Transaction]:
        path = f"/accounts/{_segment(account_id, AccountNotFound)}/transactions"
        params = {"direction": direction.value, "limit": str(limit)}
        data = self._get("transactions", path, params, account_id, AccountNotFound)
        items = _items(data, "transactions")
        return [_decode(Transaction, item, "transactions") for item in items]

    def dust_transfers(self, account_id: str, limit: int) -> list[Transaction]:
        path = f"/accounts/{_segment(account_id, AccountNotFound)}/dust-transfers"
        data = self._get("dust_transfers", path, {"limit": str(limit)}, account_id, AccountNotFound)
        items = _items(data, "transactions")
        return [_decode(Transaction, item, "dust_transfers") for item in items]

    def approvals(self, account_id: str) -> list[Approval]:
        path = f"/accounts/{_segment(account_id, AccountNotFound)}/approvals"
        data = self._get("approvals", path, {}, account_id, AccountNotFound)
        return [_decode(Approval, item, "approvals") for item in _items(data, "approvals")]

    def changes(self, since: datetime, limit: int) -> list[Transaction]:
        if since.tzinfo is None:
            raise WalletUnavailable("naive datetime for since")
        params = {"since": since.isoformat(), "limit": str(limit)}
        data = self._get("changes", "/transactions/changes", params, None, NotFound)
        return [_decode(Transaction, item, "changes") for item in _items(data, "transactions")]

    def network_fee(self, chain: str) -> NetworkFee:
        path = f"/network-fees/{_segment(chain, NotFound)}"
        data = self._get("network_fee", path, {}, None, NotFound)
        return _decode(NetworkFee, data, "network_fee")

    def freeze_account(self, account_id: str, reason: str, conversation_id: str) -> Ticket:
        path = f"/accounts/{_segment(account_id, AccountNotFound)}/freeze"
        body = {"reason": reason, "conversation_id": conversation_id}
        data = self._post("freeze_account", path, body, account_id, AccountNotFound)
        return _decode(Ticket, data, "freeze_account")

    def create_ticket(self, draft: TicketDraft) -> Ticket:
        data = self._post("create_ticket", "/tickets", to_json(draft), draft.account_id, NotFound)
        return _decode(Ticket, data, "create_ticket")

    def tickets(
        self, *, account_id: str | None, conversation_id: str, kind: TicketKind, limit: int
    ) -> list[Ticket]:
        params = {"kind": kind.value, "limit": str(limit)}
        if account_id is not None:
            params["account_id"] = account_id
        else:
            params["conversation_id"] = conversation_id
        data = self._get("tickets", "/tickets", params, account_id, NotFound)
        return [_decode(Ticket, item, "tickets") for item in _items(data, "tickets")]

    def close(self) -> None:
        """Closes the pooled connections."""
        self._reads.close()
        self._writes.close()

    @staticmethod
    def _retry(retries: int) -> Retry:
        return Retry(
            total=retries,
            connect=retries,
            read=False,  # a slow backend stays slow: waiting timeout x (retries + 1) helps nobody
            status=retries,
            other=0,
            redirect=False,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRIED_STATUSES,
            backoff_factor=BACKOFF_SECONDS,
            backoff_max=1.0,
            respect_retry_after_header=False,
            raise_on_status=False,
        )

    @staticmethod
    def _session(token: str, retry: Retry) -> requests.Session:
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _get(
        self,
        operation: str,
        path: str,
        params: dict[str, str],
        account_id: str | None,
        not_found: type[NotFound],
    ) -> Any:
        return self._call(self._reads, "GET", operation, path, account_id, not_found, params=params)

    def _post(
        self,
        operation: str,
        path: str,
        body: dict[str, Any],
        account_id: str | None,
        not_found: type[NotFound],
    ) -> Any:
        return self._call(self._writes, "POST", operation, path, account_id, not_found, json=body)

    def _call(
        self,
        session: requests.Session,
        method: str,
        operation: str,
        path: str,
        account_id: str | None,
        not_found: type[NotFound],
        **kwargs: Any,
    ) -> Any:
        """The decoded JSON body of a successful call; the port's errors for anything else."""
        started = time.perf_counter()
        try:
            response = session.request(
                method,
                self._url + path,
                timeout=self._timeout,
                allow_redirects=False,
                **kwargs,
            )
        except requests.Timeout as error:
            _log_failure(operation, account_id, started, type(error).__name__)
            raise WalletUnavailable(f"wallet backend timed out on {operation}") from error
        except requests.RequestException as error:
            # The exception's text holds the URL, hence account ids and user-typed hashes.
            _log_failure(operation, account_id, started, type(error).__name__)
            raise WalletUnavailable(f"wallet backend unreachable on {operation}") from error
        status = response.status_code
        logger.debug(
            "wallet %s %s account=%s -> %s in %.1f ms",
            method,
            operation,
            mask(account_id),
            status,
            _elapsed_ms(started),
        )
        if status == 404:
            raise not_found(f"{operation}: not found")
        if status in (401, 403):
            logger.error(
                "wallet backend refused the token on %s (HTTP %s): check WALLET_BACKEND_TOKEN",
                operation,
                status,
            )
            raise WalletUnavailable(f"wallet backend refused the token on {operation}")
        if not 200 <= status < 300:
            logger.warning("wallet backend answered HTTP %s on %s", status, operation)
            raise WalletUnavailable(f"wallet backend answered HTTP {status} on {operation}")
        try:
            return response.json()
        except ValueError as error:
            logger.warning("wallet backend sent a body that is not JSON on %s", operation)
            raise WalletUnavailable(f"wallet backend sent no JSON on {operation}") from error


def _segment(value: str, not_found: type[NotFound]) -> str:
    """``value`` as one percent-encoded path segment; ids and hashes come from users."""
    # "." and ".." would be resolved away as relative segments, even percent-encoded,
    # and no account, hash or chain is empty or made of dots.
    if value in ("", ".", ".."):
        raise not_found("not a valid identifier")
    return quote(value, safe="")


def _items(data: Any, key: str) -> list[Any]:
    """The list under ``key`` of a list response."""
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        logger.warning("wallet backend sent no %r list", key)
        raise WalletUnavailable(f"expected a list under {key!r}")
    return items


def _decode(record_type: type[R], data: Any, operation: str) -> R:
    """A record from a response body; ``WalletUnavailable`` if it breaks the contract."""
    try:
        return from_json(record_type, data)
    except WalletUnavailable:
        # The codec's message quotes the offending value, which may be personal data.
        logger.warning("wallet backend sent a malformed %s on %s", record_type.__name__, operation)
        raise


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _log_failure(operation: str, account_id: str | None, started: float, error: str) -> None:
    logger.warning(
        "wallet %s account=%s failed after %.1f ms: %s",
        operation,
        mask(account_id),
        _elapsed_ms(started),
        error,
    )
