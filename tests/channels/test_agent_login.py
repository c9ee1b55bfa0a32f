"""Agent logins and sessions as an attacker meets them: over HTTP, against two Rasa servers that
share one handoff store.

Server ``b`` is the served stack: it exempts loopback, as by default, and logs without debug
lines. Server ``a`` runs in process, limits every client address (RATE_LIMIT_EXEMPT empty) and
logs at debug level. Both trust X-Forwarded-For from loopback, so a test can speak from an
address of its own. The store is the served stack's (``b.handoff_url``); ``a`` is pointed at it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from bot.handoff.directory import LOGIN_POLICY
from bot.handoff.records import Reason, Summary
from bot.handoff.store import HandoffStore
from scripts.local_stack import ROOT
from tests.support.http import AGENT, CONSOLE_API
from tests.support.stack import InProcessStack, ServedStack, Stack, empty_queue, running_stack

PASSWORD = AGENT.password
LIMIT = LOGIN_POLICY.max_failures
SCRYPT_SECONDS = 0.3  # far less than one password check takes on any machine we run on


@dataclass
class Answer:
    """An agent API answer (headers in lower case), and how long it took."""

    status: int
    body: Any
    headers: dict[str, str]
    seconds: float


def call(
    stack: Stack,
    path: str,
    body: Any = None,
    token: str | None = None,
    address: str | None = None,
) -> Answer:
    """A call to the agent API (a POST with ``body``); ``address`` is the client a trusted proxy
    forwards for."""
    http = stack.http.within(60) if address is None else stack.http.at(address).within(60)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = json.dumps(body).encode() if body is not None else None
    started = time.monotonic()
    answer = http.request(
        "GET" if body is None else "POST", f"{CONSOLE_API}{path}", data, headers=headers
    )
    seconds = time.monotonic() - started
    parsed = json.loads(answer.body) if answer.body else None
    return Answer(answer.status, parsed, answer.headers, seconds)


def login(
    stack: Stack, username: str, password: str = PASSWORD, address: str | None = None
) -> Answer:
    return call(stack, "/login", {"username": username, "password": password}, address=address)


def agents_cli(store_url: str, *args: str, password: str | None = None) -> int:
    """``python -m bot.handoff.agents`` on the servers' store, as an operator runs it."""
    env = {**os.environ, "HANDOFF_DB_URL": store_url}
    env.pop("AGENT_PASSWORD", None)
    if password:
        env["AGENT_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "bot.handoff.agents", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    ).returncode


@pytest.fixture(scope="module")
def b(served: ServedStack) -> ServedStack:
    store = HandoffStore.from_url(served.handoff_url)
    for name in ("wang", "zhao", "qian", "sun", "zhou", "timing-0", "timing-1", "timing-2"):
        store.agents.add(name, name, PASSWORD)  # and the served stack's own agent, li
    return served


@pytest.fixture(scope="module")
def a(tmp_path_factory: pytest.TempPathFactory, b: ServedStack) -> Iterator[InProcessStack]:
    settings = {
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "HANDOFF_WATCH_SECONDS": "1",
        "RATE_LIMIT_EXEMPT": "",
        "HANDOFF_DB_URL": b.handoff_url,
    }
    with running_stack(
        tmp_path_factory.mktemp("login-a"),
        in_process=True,
        actions=False,
        agent=None,
        debug=True,
        settings=settings,
    ) as local:
        yield local


def assert_locked(answer: Answer) -> None:
    assert answer.status == 429, answer
    assert 1 <= int(answer.headers["retry-after"]) <= LOGIN_POLICY.lock.total_seconds()
    assert answer.body["error"] and answer.body["retry_after"] == int(answer.headers["retry-after"])
    assert answer.seconds < SCRYPT_SECONDS, "a locked login must not check the password"


def test_guessing_from_one_address_is_locked_out_on_every_server(
    a: InProcessStack, b: ServedStack
) -> None:
    guesser = "203.0.113.7"
    # Five different usernames: no username reaches the limit, the address does.
    servers: list[Stack] = [a, b, a, b, a]
    for number, stack in enumerate(servers):
        assert login(stack, f"guess-{number}", "password1", guesser).status == 401
    for stack in (a, b):
        assert_locked(login(stack, "guess-5", "password1", guesser))
        # Locked means locked: not even the right password is checked.
        assert_locked(login(stack, "li", PASSWORD, guesser))
    # Another client, and the agent, are not affected.
    assert login(a, "li", PASSWORD, "203.0.113.8").status == 200
    assert login(b, "li", PASSWORD).status == 200


def test_parallel_guesses_get_no_more_tries_than_the_limit(
    a: InProcessStack, b: ServedStack
) -> None:
    with ThreadPoolExecutor(10) as pool:
        answers = list(
            pool.map(
                lambda n: login([a, b][n % 2], f"flood-{n}", "password1", "203.0.113.50"),
                range(20),
            )
        )
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [401] * LIMIT + [429] * (20 - LIMIT), statuses


def test_one_username_is_locked_out_even_from_an_exempt_address(
    a: InProcessStack, b: ServedStack
) -> None:
    # b exempts loopback from address limits, so only the username is counted here.
    failures = [login(b, "wang", f"guess-{n}") for n in range(LIMIT)]
    assert [answer.status for answer in failures] == [401] * LIMIT
    # Each failure is answered later than the one before.
    assert failures[-1].seconds > failures[0].seconds + LOGIN_POLICY.delay(LIMIT - 1)
    assert_locked(login(b, "wang", PASSWORD))
    assert_locked(login(a, "wang", PASSWORD, "203.0.113.20"))  # the other server knows
    assert login(b, "zhao", PASSWORD).status == 200  # the exempt address itself is not locked


def test_a_successful_login_clears_the_usernames_failures(b: ServedStack) -> None:
    for _ in range(2):
        for n in range(LIMIT - 1):
            assert login(b, "sun", f"guess-{n}").status == 401
        assert login(b, "sun", PASSWORD).status == 200


def test_an_unknown_username_takes_as_long_as_a_wrong_password(b: ServedStack) -> None:
    known, unknown = [], []
    for n in range(3):  # interleaved, and each name only once: the same delay for all
        known.append(login(b, f"timing-{n}", "wrong password").seconds)
        unknown.append(login(b, f"nobody-{n}", "wrong password").seconds)
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.67 < ratio < 1.5, (known, unknown)


def test_a_new_password_ends_the_agents_sessions_on_every_server(
    a: InProcessStack, b: ServedStack
) -> None:
    token = login(b, "qian").body["token"]
    assert call(a, "/queue", token=token, address="203.0.113.30").status == 200
    assert agents_cli(b.handoff_url, "qian", password="a-new-long-password") == 0
    assert call(a, "/queue", token=token, address="203.0.113.30").status == 401
    assert call(b, "/queue", token=token).status == 401
    assert login(b, "qian").status == 401
    assert login(b, "qian", "a-new-long-password").status == 200


def test_a_disabled_agent_is_logged_out_at_once_and_cannot_log_in(
    a: InProcessStack, b: ServedStack
) -> None:
    token = login(b, "zhou").body["token"]
    assert call(b, "/queue", token=token).status == 200
    assert agents_cli(b.handoff_url, "zhou", "--disable") == 0
    assert call(b, "/queue", token=token).status == 401
    refused, wrong = login(b, "zhou"), login(b, "zhou-typo")
    assert refused.status == wrong.status == 401 and refused.body == wrong.body
    assert agents_cli(b.handoff_url, "zhou", "--delete") == 0
    assert login(b, "zhou").status == 401
    assert agents_cli(b.handoff_url, "zhou", "--delete") == 1  # gone


def test_failed_logins_are_logged_with_the_name_masked(a: InProcessStack, b: ServedStack) -> None:
    typed, password = "mistyped-person-name-4711", "typed-password-0815"
    for stack, address in ((a, "203.0.113.40"), (b, None)):
        assert login(stack, typed, password, address).status == 401
        log = (stack.workdir / "rasa.log").read_text(encoding="utf-8", errors="replace")
        assert "failed agent login for 'mi'… (25 characters)" in log, stack.debug
        assert typed not in log and password not in log, stack.debug


def test_expired_sessions_are_purged(a: InProcessStack, b: ServedStack) -> None:
    store = HandoffStore.from_url(b.handoff_url)
    store.agents.login("li", PASSWORD, timedelta(seconds=-1))
    live = store.agents.login("li", PASSWORD, timedelta(hours=1))

    def sessions() -> int:
        with store.engine.connect() as connection:
            return int(
                connection.exec_driver_sql(
                    "select count(*) from handoff_agent_sessions where expires_at <= "
                    "datetime('now')"
                ).scalar()
            )

    deadline = time.monotonic() + 15
    while sessions() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sessions() == 0, "a's watchdog did not purge the expired session"
    assert store.agents.agent_for(live or "") == "li"


def test_the_queue_comes_in_pages(b: ServedStack) -> None:
    empty_queue(b)  # the earlier tests' tickets
    store = HandoffStore.from_url(b.handoff_url)
    paged = [
        store.tickets.open(f"paged-{n}", "rest", Reason.REQUESTED, Summary()) for n in range(7)
    ]
    token = login(b, "li").body["token"]

    def page(query: str) -> Any:
        answer = call(b, f"/queue{query}", token=token)
        assert answer.status == 200, answer
        return answer.body

    try:
        everything = page("")
        assert everything["total"] == 7 and everything["limit"] == 50
        ids = [t["ticket_id"] for t in everything["tickets"]]
        pages = [page(f"?limit=3&offset={offset}") for offset in (0, 3, 6)]
        assert [len(p["tickets"]) for p in pages] == [3, 3, 1]
        assert all(p["total"] == 7 for p in pages)
        assert [t["ticket_id"] for p in pages for t in p["tickets"]] == ids
        assert page("?offset=7")["tickets"] == []
        for bad in ("?limit=0", "?limit=201", "?limit=abc", "?offset=-1", f"?offset={2**70}"):
            assert call(b, f"/queue{bad}", token=token).status == 400, bad
    finally:
        for ticket in paged:  # the served stack's queue as it was
            store.tickets.cancel(ticket.conversation_id)
