"""Shared fixtures: the trained model, the session's action server and agent, the served stack
most tests share, the production stack; and the count of Rasa server boots at the end. The tests
import Rasa as the servers do, without TensorFlow (bot/serving.py)."""

from __future__ import annotations

from bot import serving

serving.install()  # Rasa as the servers import it, without TensorFlow: before anything imports Rasa

import asyncio
import os
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from rasa.core.agent import Agent
from rasa.core.utils import read_endpoints_from_path

from bot.handoff.store import HandoffStore
from bot.services import adapt_rasa
from bot.wallet import demo_data
from bot.wallet.sql import SqlWalletService
from scripts.local_stack import BOOTS, MODEL, ROOT, LocalStack
from scripts.production_stack import Postgres, ProductionStack, Redis
from tests.support.conversation import IDENTITY_SECRET, NOW, Conversation
from tests.support.fakes import FakePlatforms
from tests.support.http import AGENT
from tests.support.stack import (
    ALWAYS_OPEN,
    SERVED,
    UNLIMITED,
    ServedStack,
    boot_summary,
    configure_rasa_logging,
    running_stack,
)

T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    configure_rasa_logging()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker hands its boot count to the controller, which prints the sum."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["rasa_boots"] = dict(BOOTS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    BOOTS.update(getattr(node, "workeroutput", {}).get("rasa_boots", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(boot_summary())


@pytest.fixture(scope="session")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


@pytest.fixture(scope="session")
def run(loop: asyncio.AbstractEventLoop) -> Any:
    """Runs a coroutine on the session's event loop."""

    def runner(coroutine: Coroutine[Any, Any, T]) -> T:
        return loop.run_until_complete(coroutine)

    return runner


@pytest.fixture(scope="session")
def model_path() -> Path:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` (`make test` does it)")
    return MODEL


@pytest.fixture(scope="session")
def action_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A running action server with demo wallet data, for the whole test session."""
    stack = LocalStack(
        tmp_path_factory.mktemp("action-stack"),
        identity_secret=IDENTITY_SECRET,
        settings={"SUPPORT_HOURS": ALWAYS_OPEN},
    )
    stack.seed()
    stack.start_actions()
    try:
        yield stack
    finally:
        stack.stop_all()


@pytest.fixture(scope="session")
def agent(model_path: Path, action_stack: LocalStack) -> Agent:
    """The trained model with the project's endpoints.yml (in-memory trackers), and Rasa changed
    as a server's start changes it (``adapt_rasa``), as `make run` serves it."""
    adapt_rasa()
    stack_env = action_stack.env()
    for name in (
        "ACTION_ENDPOINT_URL",
        "ACTION_SERVER_SECRET",
        "TRACKER_DB_URL",
        "HANDOFF_DB_URL",
    ):
        os.environ[name] = stack_env[name]
    endpoints = read_endpoints_from_path(ROOT / "endpoints.yml")
    return Agent.load(str(model_path), generator=endpoints.nlg, action_endpoint=endpoints.action)


@pytest.fixture
def conversation(agent: Agent, run: Any) -> Conversation:
    return Conversation(agent, run)


@pytest.fixture(scope="session")
def parse(agent: Agent, run: Any) -> Any:
    """Parses a message with the trained NLU pipeline."""

    def parser(text: str) -> dict[str, Any]:
        return run(agent.parse_message(text))

    return parser


@pytest.fixture
def sql_wallet(tmp_path: Path) -> SqlWalletService:
    """A real temporary SQLite wallet store seeded with the demo accounts as of NOW."""
    service = SqlWalletService.from_url(f"sqlite:///{tmp_path / 'wallet.db'}")
    demo_data.seed(service, NOW)
    return service


@pytest.fixture(scope="session")
def platforms() -> Iterator[FakePlatforms]:
    """Telegram's and WeChat's APIs on loopback, for the whole session."""
    with FakePlatforms.running() as fake:
        yield fake


@pytest.fixture(scope="session")
def served(
    tmp_path_factory: pytest.TempPathFactory, model_path: Path, platforms: FakePlatforms
) -> Iterator[ServedStack]:
    """The served stack the tests share (``SERVED`` settings, every channel, the agent li)."""
    with running_stack(
        tmp_path_factory.mktemp("served"), settings={**SERVED, **platforms.env()}
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL of the module's own, with a ``tracker`` database."""
    server = Postgres(databases=("tracker",))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    """A Redis of the module's own."""
    server = Redis(Path(tmp_path_factory.mktemp("redis")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def production(
    tmp_path_factory: pytest.TempPathFactory, model_path: Path, platforms: FakePlatforms
) -> Iterator[ProductionStack]:
    """Two servers on one PostgreSQL and one Redis, with agents on duty, the agent li, and
    Telegram and WeChat on the stand-in APIs."""
    stack = ProductionStack(
        tmp_path_factory.mktemp("production"),
        servers=2,
        settings={"SUPPORT_HOURS": ALWAYS_OPEN, **UNLIMITED, **platforms.env()},
    )
    with stack:
        HandoffStore.from_url(stack.store_urls["HANDOFF_DB_URL"]).agents.add(
            AGENT.username, AGENT.name, AGENT.password
        )
        yield stack
