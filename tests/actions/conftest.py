"""Actions run at ``NOW``: signed identities are checked against that time."""

from __future__ import annotations

import pytest

from tests.support.conversation import NOW


@pytest.fixture(autouse=True)
def _frozen_identity_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Signed identities are checked against the wall clock; the tests sign them at NOW."""
    monkeypatch.setattr("bot.identity.time.time", lambda: NOW.timestamp())
