"""A real local wallet backend serving docs/wallet-backend.openapi.yaml over a seeded SQLite file.

Tests start it in a background thread (``with BackendServer.running() as backend:``, then
``backend.env()`` points an action server at it); to point the assistant at it by hand:

    python -m tests.support.wallet_backend --port 8088 --token dev-token
    WALLET_BACKEND_URL=http://127.0.0.1:8088/api WALLET_BACKEND_TOKEN=dev-token make run
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from bot.wallet.codec import from_json, to_json
from bot.wallet.demo_data import seed
from bot.wallet.errors import NotFound, WalletUnavailable
from bot.wallet.records import Direction, Ticket, TicketDraft, TicketKind
from bot.wallet.sql import SqlWalletService

logger = logging.getLogger(__name__)

PREFIX = "/api"

E = TypeVar("E", bound=Enum)


class BadRequest(Exception):
    """A request that does not fit the contract (400)."""


class BackendServer:
    """The wallet backend contract on 127.0.0.1, with knobs for slowness and failures."""

    def __init__(
        self, token: str = "test-token", service: SqlWalletService | None = None, port: int = 0
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if service is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="wallet-backend-")
            service = SqlWalletService.from_url(f"sqlite:///{self._tmp.name}/wallet.db")
            seed(service)
        self.service = service
        self.token = token
        self.delay = 0.0
        self.requests = 0
        self.errors: list[BaseException] = []
        self._port = port
        self._canned: list[tuple[int, bytes]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give ``HttpWalletService``."""
        if self._httpd is None:
            raise RuntimeError("the backend server is not started")
        return f"http://127.0.0.1:{self._httpd.server_port}{PREFIX}"

    def start(self) -> BackendServer:
        """Binds a free port (unless one was given) and serves in a daemon thread."""
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", self._port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits for one poll
            name="wallet-backend",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving, wakes delayed handlers and removes the temporary database."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.service.engine.dispose()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @classmethod
    @contextmanager
    def running(cls, token: str = "test-token") -> Iterator[BackendServer]:
        """A backend over its own seeded database, serving until the block ends."""
        with cls(token=token) as server:
            yield server

    def env(self) -> dict[str, str]:
        """The settings that point the action server at this backend."""
        return {"WALLET_BACKEND_URL": self.url, "WALLET_BACKEND_TOKEN": self.token}

    def __enter__(self) -> BackendServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def fail_next(self, n: int, status: int = 503) -> None:
        """Answers the next ``n`` requests with ``status`` (a 5xx) instead of serving them."""
        body = json.dumps({"error": "unavailable", "detail": "injected failure"}).encode()
        with self._lock:
            self._canned.extend([(status, body)] * n)

    def garble_next(self, n: int, body: bytes = b'{"not json') -> None:
        """Answers the next ``n`` requests with 200 and ``body``, whatever was asked."""
        with self._lock:
            self._canned.extend([(200, body)] * n)

    def handle(self, handler: _Handler, method: str) -> None:
        """Answers one request: canned answer, token check, then the contract."""
        with self._lock:
            self.requests += 1
            canned = self._canned.pop(0) if self._canned else None
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if self.delay and self._stopping.wait(self.delay):
            return  # stopping: drop the request rather than touch a database being removed
        if canned is not None:
            _send(handler, *canned)
            return
        given = handler.headers.get("Authorization") or ""
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            _send_json(handler, 401, _error("unauthorized", "missing or invalid bearer token"))
            return
        try:
            status, payload = self._route(method, handler.path, raw)
        except NotFound as error:
            status, payload = 404, _error("not_found", str(error))
        except BadRequest as error:
            status, payload = 400, _error("bad_request", str(error))
        except WalletUnavailable as error:
            status, payload = 503, _error("unavailable", str(error))
        except Exception as error:  # a bug in this server: answer, and let the test see it
            logger.exception("wallet backend server failed on %s", method)
            self.errors.append(error)
            status, payload = 500, _error("unavailable", "internal error")
        _send_json(handler, status, payload)

    def _route(self, method: str, target: str, raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        if not parts.path.startswith(PREFIX + "/"):
            raise NotFound("no such path")
        segments = [unquote(segment) for segment in parts.path[len(PREFIX) + 1 :].split("/")]
        query = parse_qs(parts.query, keep_blank_values=True)
        service = self.service
        match method, segments:
            case "GET", ["accounts", account_id]:
                return 200, to_json(service.account(account_id))
            case "GET", ["accounts", account_id, "logins"]:
                logins = service.logins(account_id, _since(query))
                return 200, {"logins": [to_json(login) for login in logins]}
            case "GET", ["accounts", account_id, "transactions", tx_hash]:
                return 200, to_json(service.transaction(account_id, tx_hash))
            case "GET", ["accounts", account_id, "transactions"]:
                direction = _enum(Direction, _param(query, "direction"))
                found = service.transactions(account_id, direction, _limit(query))
                return 200, {"transactions": [to_json(tx) for tx in found]}
            case "GET", ["accounts", account_id, "dust-transfers"]:
                found = service.dust_transfers(account_id, _limit(query))
                return 200, {"transactions": [to_json(tx) for tx in found]}
            case "GET", ["accounts", account_id, "approvals"]:
                approvals = service.approvals(account_id)
                return 200, {"approvals": [to_json(approval) for approval in approvals]}
            case "GET", ["transactions", "changes"]:
                found = service.changes(_since(query), _limit(query))
                return 200, {"transactions": [to_json(tx) for tx in found]}
            case "GET", ["network-fees", chain]:
                return 200, to_json(service.network_fee(chain))
            case "POST", ["accounts", account_id, "freeze"]:
                body = _body(raw)
                reason, conversation_id = body.get("reason"), body.get("conversation_id")
                if not isinstance(reason, str) or not isinstance(conversation_id, str):
                    raise BadRequest("reason and conversation_id must be strings")
                return 201, to_json(service.freeze_account(account_id, reason, conversation_id))
            case "POST", ["tickets"]:
                try:
                    draft = from_json(TicketDraft, _body(raw))
                except WalletUnavailable as error:
                    raise BadRequest(str(error)) from error
                return 201, to_json(service.create_ticket(draft))
            case "GET", ["tickets"]:
                return 200, {"tickets": [to_json(ticket) for ticket in self._tickets(query)]}
        raise NotFound("no such path")

    def _tickets(self, query: dict[str, list[str]]) -> list[Ticket]:
        # account_id wins when both are given, as in the SQL adapter.
        owner = _param(query, "account_id") if "account_id" in query else None
        return self.service.tickets(
            account_id=owner,
            conversation_id="" if owner is not None else _param(query, "conversation_id"),
            kind=_enum(TicketKind, _param(query, "kind")),
            limit=_limit(query),
        )


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that knows its ``BackendServer``."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        backend: BackendServer,
    ) -> None:
        self.backend = backend
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the ``BackendServer``; keep-alive like a real backend."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.backend.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.backend.handle(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines hold account ids and hashes; tests need no access log.
        pass


def _send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    _send(handler, status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        # The client gave up (a timeout test): nobody is left to answer.
        handler.close_connection = True


def _error(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail}


def _param(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    if not values or len(values) != 1:
        raise BadRequest(f"{name} must be given once")
    return values[0]


def _limit(query: dict[str, list[str]]) -> int:
    value = _param(query, "limit")
    if not value.isdigit() or int(value) < 1:
        raise BadRequest("limit must be a positive integer")
    return int(value)


def _since(query: dict[str, list[str]]) -> datetime:
    try:
        since = datetime.fromisoformat(_param(query, "since"))
    except ValueError as error:
        raise BadRequest("since must be an ISO 8601 datetime") from error
    if since.tzinfo is None:
        raise BadRequest("since needs an offset")
    return since


def _enum(enum_type: type[E], value: str) -> E:
    try:
        return enum_type(value)
    except ValueError as error:
        raise BadRequest(f"unknown {enum_type.__name__} {value!r}") from error


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise BadRequest("the body is not JSON") from error
    if not isinstance(body, dict):
        raise BadRequest("the body must be an object")
    return body


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--token", default="dev-token")
    args = parser.parse_args(argv)
    server = BackendServer(token=args.token, port=args.port).start()
    print(f"wallet backend serving demo data at {server.url}; Ctrl-C stops it")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
