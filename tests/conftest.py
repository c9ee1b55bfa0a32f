"""Shared fixtures: the trained model, a real action server and conversations through the agent."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.events import BotUttered, UserUttered

from bot.identity import IDENTITY_FIELD, sign_identity
from bot.wallet import demo_data
from bot.wallet.sql import SqlWalletService
from scripts.local_stack import MODEL, ROOT, LocalStack

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
IDENTITY_SECRET = "conversation-test-secret"
ALWAYS_OPEN = "00:00-23:59:59"  # agents on duty, so handoffs queue instead of waiting for morning
T = TypeVar("T")


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
    """The trained model with the project's endpoints.yml (in-memory trackers), as `make run` does."""
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


@dataclass
class Reply:
    """One bot message as the user sees it, with the response it came from."""

    response: str | None
    text: str
    buttons: list[dict[str, Any]] = field(default_factory=list)


class Conversation:
    """A conversation with the assistant through Rasa's agent and the real action server."""

    counter = 0

    def __init__(self, agent: Agent, run: Any) -> None:
        Conversation.counter += 1
        self.sender_id = f"test-{os.getpid()}-{Conversation.counter}"
        self._agent = agent
        self._run = run

    def say(self, text: str, account: str | None = None) -> list[Reply]:
        """Sends ``text``, as the proven owner of ``account`` if given; returns the replies."""
        existing = self._run(self._agent.tracker_store.retrieve(self.sender_id))
        before = len(existing.events) if existing else 0
        metadata = (
            {IDENTITY_FIELD: sign_identity(IDENTITY_SECRET.encode(), account, self.sender_id)}
            if account
            else None
        )
        message = UserMessage(
            text, CollectingOutputChannel(), self.sender_id, input_channel="rest", metadata=metadata
        )
        self._run(self._agent.handle_message(message))
        new_events = list(self.tracker().events)[before:]
        return [
            Reply(e.metadata.get("utter_action"), e.text or "", list(e.data.get("buttons") or []))
            for e in new_events
            if isinstance(e, BotUttered)
        ]

    def responses(self, text: str, account: str | None = None) -> list[str | None]:
        return [reply.response for reply in self.say(text, account)]

    def last_intent(self) -> str:
        user_events = [e for e in self.tracker().events if isinstance(e, UserUttered)]
        return str(user_events[-1].intent_name)

    def tracker(self) -> Any:
        """The stored tracker, read after the first message so that Rasa starts the session."""
        tracker = self._run(self._agent.tracker_store.retrieve(self.sender_id))
        assert tracker is not None, "no conversation yet"
        return tracker


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
