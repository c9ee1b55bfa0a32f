"""The review tests' lead, added to the served stack's agent directory, and an empty handoff
database on SQLite and on PostgreSQL for the stores' tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.handoff.records import Role
from bot.handoff.store import HandoffStore
from tests.support.http import LEAD, Login
from tests.support.stack import ServedStack


@pytest.fixture(scope="module")
def lead_login(served: ServedStack) -> Login:
    HandoffStore.from_url(served.handoff_url).agents.add(
        LEAD.username, LEAD.name, LEAD.password, role=Role.SUPERVISOR
    )
    return LEAD


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty handoff database: a SQLite file, or the module's PostgreSQL, emptied after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'handoff.db'}"
        return
    url = request.getfixturevalue("postgres").url("tracker")
    yield url
    engine = sa.create_engine(url)
    tables = sa.MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    engine.dispose()
