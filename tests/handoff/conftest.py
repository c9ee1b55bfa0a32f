"""The handoff tests' store: a fresh SQLite database per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.handoff.store import HandoffStore


@pytest.fixture
def store(tmp_path: Path) -> HandoffStore:
    return HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")
