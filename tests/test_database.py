"""When the stores prune their old rows: at once, then at most once per period."""

from __future__ import annotations

import pytest

from bot import database
from bot.database import Every


def test_housekeeping_is_due_at_first_then_once_per_period(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(database.time, "monotonic", lambda: clock[0])
    every = Every(60)
    assert every.due()
    clock[0] += 59
    assert not every.due()
    clock[0] += 1
    assert every.due()
    assert not every.due()


def test_a_machine_just_started_prunes_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """monotonic() may start near 0: the first call is due all the same."""
    monkeypatch.setattr(database.time, "monotonic", lambda: 5.0)
    assert Every(3600).due()
