"""No store call blocks the Rasa server's event loop.

Every SQL statement is watched while a server in process serves REST, Telegram, WeChat, the
agent console and the metrics: one that runs on a thread whose event loop is running (a
coroutine calling the store directly, instead of through ``asyncio.to_thread``) is reported
with the code that ran it. The conversation store is left out: Rasa's tracker store API is
synchronous inside Rasa's own coroutines, and Rasa calls it there.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.handoff.store import HandoffStore
from tests.support.fakes import FakePlatforms
from tests.support.http import AgentConsole, RestUser
from tests.support.platform_users import TelegramUser, WeChatUser
from tests.support.stack import SERVED, InProcessStack, running_stack


@contextmanager
def sql_on_the_loop(ignored_database: str) -> Iterator[list[str]]:
    """The statements run on a running event loop's thread while the block runs, with where."""
    found: list[str] = []

    def check(connection: Any, *_: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread (asyncio.to_thread) or plain synchronous code
        if connection.engine.url.database == ignored_database:
            return
        ours = [f for f in traceback.extract_stack() if "/bot/" in f.filename]
        found.append(
            f"{connection.engine.url.database}: "
            + " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in ours[::-1])
        )

    sa.event.listen(Engine, "before_cursor_execute", check)
    try:
        yield found
    finally:
        sa.event.remove(Engine, "before_cursor_execute", check)


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, platforms: FakePlatforms
) -> Iterator[InProcessStack]:
    with running_stack(
        tmp_path_factory.mktemp("event-loop"),
        settings={**SERVED, **platforms.env()},
        in_process=True,
    ) as local:
        yield local


def test_the_check_sees_a_store_called_on_the_loop(tmp_path: Path) -> None:
    store = HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")

    async def blocking() -> None:
        store.tickets.queue()

    async def off_the_loop() -> None:
        await asyncio.to_thread(store.tickets.queue)

    with sql_on_the_loop(ignored_database="") as found:
        asyncio.run(off_the_loop())
        assert found == []
        asyncio.run(blocking())
    assert found and "handoff.db" in found[0]


def test_no_channel_blocks_the_loop_with_a_store_call(
    stack: InProcessStack, platforms: FakePlatforms
) -> None:
    tracker_db = sa.engine.make_url(stack.env()["TRACKER_DB_URL"]).database or ""
    with sql_on_the_loop(ignored_database=tracker_db) as found:
        user = RestUser(stack.http)
        assert user.say("你好")
        assert user.say("转人工")
        console = AgentConsole(stack.http)
        ticket = console.ticket_of(user.sender)
        assert console.post(f"/tickets/{ticket['ticket_id']}/claim")[0] == 200
        assert (
            console.post(f"/tickets/{ticket['ticket_id']}/reply", {"text": "您好，我来帮您"})[0]
            == 200
        )
        assert any("我来帮您" in text for text in user.say("在吗"))
        assert console.post(f"/tickets/{ticket['ticket_id']}/close", {"note": "已解答"})[0] == 200
        assert console.get(f"/tickets/{ticket['ticket_id']}")
        assert stack.http.get("/metrics").status == 200

        telegram = TelegramUser(stack.http, platforms)
        assert telegram.say("你好")
        telegram.bind(stack.env()["BINDING_DB_URL"])
        assert WeChatUser(stack.http, platforms, "o-event-loop-check").says("你好")
    assert found == [], "store calls on the event loop:\n" + "\n".join(found)
