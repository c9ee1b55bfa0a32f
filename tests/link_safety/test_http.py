"""The HTTP adapter against a small checking service on 127.0.0.1, and the factory.

The service is asked only about what the local lists do not know, with the contract's body and
the bearer token; its verdicts are taken; a slow, failing or malformed service is logged and
answered as unavailable, never raised.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema
import pytest

from bot.link_safety.factory import LinkSafetyBackend, link_safety_service
from bot.link_safety.http import HttpLinkSafety
from bot.link_safety.local import LocalLinkSafety
from bot.link_safety.records import Candidate, Kind, Reason, Status, Verdict
from bot.services import Services
from bot.settings import ConfigError, Settings
from tests.support.openapi import load_contract

TOKEN = "link-token"
TIMEOUT = 0.5
UNLISTED_ADDRESS = Candidate(Kind.ADDRESS, "TJRyWwFs9wTFGZg3JbrVriFbNfCug5tDeC", "TRON")
SCAM = {"status": "denylisted", "label": "慢雾标记的钓鱼地址", "reason": "denylisted_address"}


class Service:
    """A checking service: answers ``reply`` (status, body) after ``delay``; notes requests."""

    def __init__(self) -> None:
        self.reply: tuple[int, bytes] = (200, json.dumps(SCAM).encode())
        self.delay = 0.0
        self.requests: list[tuple[str, str | None, Any]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                service.requests.append((self.path, self.headers.get("Authorization"), body))
                time.sleep(service.delay)
                status, payload = service.reply
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it should

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True  # a slow answer does not hold up the test's end
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"


@pytest.fixture()
def service() -> Iterator[Service]:
    running = Service()
    thread = threading.Thread(
        target=running.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


@pytest.fixture()
def safety(service: Service) -> Iterator[HttpLinkSafety]:
    adapter = HttpLinkSafety(
        service.url, token=TOKEN, local=LocalLinkSafety.from_files(), timeout=TIMEOUT
    )
    yield adapter
    adapter.close()


def contract_schema(name: str) -> jsonschema.Draft7Validator:
    schemas = load_contract("link-safety.openapi.yaml")["components"]["schemas"]
    return jsonschema.Draft7Validator(schemas[name])


def test_the_service_is_asked_with_the_contracts_body_and_token(
    service: Service, safety: HttpLinkSafety
) -> None:
    assert safety.check(UNLISTED_ADDRESS) == Verdict(
        Status.DENYLISTED, "慢雾标记的钓鱼地址", Reason.DENYLISTED_ADDRESS
    )
    ((path, authorization, body),) = service.requests
    assert (path, authorization) == ("/v1/check", f"Bearer {TOKEN}")
    assert body == {"kind": "address", "value": UNLISTED_ADDRESS.value, "chain": "TRON"}
    contract_schema("Candidate").validate(body)
    contract_schema("Verdict").validate(SCAM)


def test_an_approval_spender_is_asked_about_on_its_chain(
    service: Service, safety: HttpLinkSafety
) -> None:
    assert safety.denylisted("ETH", "0x" + "5ca1ab1e" * 5)
    assert service.requests[0][2] == {
        "kind": "address",
        "value": "0x" + "5ca1ab1e" * 5,
        "chain": "ETH",
    }


def test_the_local_lists_answer_first(service: Service, safety: HttpLinkSafety) -> None:
    official = safety.check(Candidate(Kind.TELEGRAM, "IMWalletOfficial"))
    denylisted = safety.check(Candidate(Kind.URL, "https://imwallet-support.com/login"))
    assert (official.status, denylisted.status) == (Status.OFFICIAL, Status.DENYLISTED)
    assert service.requests == []


def test_a_local_imitation_stays_one_when_the_service_knows_nothing(
    service: Service, safety: HttpLinkSafety
) -> None:
    service.reply = (200, b'{"status": "unknown", "label": null, "reason": "unknown"}')
    fake = Candidate(Kind.TELEGRAM, "IMWalletOfficiaI")
    assert safety.check(fake) == Verdict(
        Status.UNKNOWN, "IMWalletOfficial", Reason.LOOKALIKE_OF_OFFICIAL
    )
    assert len(service.requests) == 1
    # The service may know more: a reported scam is denylisted.
    service.reply = (200, json.dumps({**SCAM, "reason": "denylisted_contact"}).encode())
    assert safety.check(fake).status is Status.DENYLISTED


@pytest.mark.parametrize(
    "reply",
    [
        (500, b'{"error": "internal"}'),
        (401, b'{"error": "unauthorized"}'),
        (200, b"<html>maintenance</html>"),
        (200, b'{"status": "phishing", "label": null, "reason": "unknown"}'),
        (200, b'{"status": "denylisted", "label": 7, "reason": "denylisted_address"}'),
        (200, b'{"status": "denylisted", "reason": "denylisted_address"}'),
        (200, b'["denylisted"]'),
    ],
)
def test_a_failing_service_is_unavailable_and_logged(
    service: Service,
    safety: HttpLinkSafety,
    caplog: pytest.LogCaptureFixture,
    reply: tuple[int, bytes],
) -> None:
    service.reply = reply
    with caplog.at_level(logging.WARNING, logger="bot.link_safety.http"):
        verdict = safety.check(UNLISTED_ADDRESS)
    assert verdict == Verdict(Status.UNKNOWN, None, Reason.UNAVAILABLE)
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    # What the user pasted is not logged.
    assert UNLISTED_ADDRESS.value not in caplog.text


def test_a_slow_service_is_given_up_after_the_timeout(
    service: Service, safety: HttpLinkSafety
) -> None:
    service.delay = TIMEOUT * 4
    started = time.monotonic()
    verdict = safety.check(UNLISTED_ADDRESS)
    assert verdict.reason is Reason.UNAVAILABLE
    assert time.monotonic() - started < TIMEOUT * 3
    # A local imitation is still reported while the service is down.
    assert safety.check(Candidate(Kind.WECHAT, "imwallet_0fficial")).reason is (
        Reason.LOOKALIKE_OF_OFFICIAL
    )


def test_a_service_that_is_not_there_is_unavailable() -> None:
    adapter = HttpLinkSafety(
        "http://127.0.0.1:9", token=TOKEN, local=LocalLinkSafety.from_files(), timeout=TIMEOUT
    )
    assert adapter.check(UNLISTED_ADDRESS).reason is Reason.UNAVAILABLE


# ---------------------------------------------------------------------------------------------
# The factory


def test_without_a_url_the_local_adapter_is_used() -> None:
    assert LinkSafetyBackend.from_env({}) is None
    assert isinstance(link_safety_service(None), LocalLinkSafety)
    assert isinstance(Services(Settings.from_env({})).link_safety, LocalLinkSafety)


def test_with_a_url_the_http_adapter_is_used(service: Service) -> None:
    env = {"LINK_SAFETY_URL": service.url, "LINK_SAFETY_TOKEN": TOKEN, "LINK_SAFETY_TIMEOUT": "1.5"}
    backend = LinkSafetyBackend.from_env(env)
    assert backend == LinkSafetyBackend(service.url, TOKEN, 1.5)
    adapter = Services(Settings.from_env(env)).link_safety
    assert isinstance(adapter, HttpLinkSafety)
    assert adapter.check(UNLISTED_ADDRESS).status is Status.DENYLISTED
    adapter.close()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LINK_SAFETY_URL": "http://x"}, "LINK_SAFETY_TOKEN"),
        (
            {
                "LINK_SAFETY_URL": "http://x",
                "LINK_SAFETY_TOKEN": "t",
                "LINK_SAFETY_TIMEOUT": "soon",
            },
            "LINK_SAFETY_TIMEOUT",
        ),
        (
            {"LINK_SAFETY_URL": "http://x", "LINK_SAFETY_TOKEN": "t", "LINK_SAFETY_TIMEOUT": "0"},
            "LINK_SAFETY_TIMEOUT",
        ),
    ],
)
def test_a_server_without_a_usable_setting_does_not_start(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)
