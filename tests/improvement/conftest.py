"""The review tests' lead, added to the served stack's agent directory."""

from __future__ import annotations

import pytest

from bot.handoff.store import HandoffStore
from tests.support.http import LEAD, Login
from tests.support.stack import ServedStack


@pytest.fixture(scope="module")
def lead_login(served: ServedStack) -> Login:
    HandoffStore.from_url(served.handoff_url).agents.add(
        LEAD.username, LEAD.name, LEAD.password, role="lead"
    )
    return LEAD
