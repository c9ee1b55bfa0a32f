"""A tracker's copy taken over from its state equals Rasa's replayed copy in every field: after
every event of every conversation in tests/ and every rule, of random walks through the rules
(forms among them) and of a long session with a pause, a rewound message and a restart."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecutionRejected,
    ActiveLoop,
    ConversationPaused,
    Event,
    LoopInterrupted,
    SlotSet,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.dialogue import flat_applied, flat_copy
from tests.support import dialogue
from tests.support.dialogue import eventful_session, random_walk, rule_policy


@pytest.fixture(scope="module", autouse=True)
def installed() -> Iterator[None]:
    """The copy taken over, for this module (the process's own copy is put back after)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DialogueStateTracker, "copy", DialogueStateTracker.copy)
        flat_copy.install()
        yield


def fields(tracker: DialogueStateTracker) -> dict[str, Any]:
    """Everything a tracker holds, its slots by value."""
    held = dict(vars(tracker))
    held.pop(flat_applied.CACHE, None)  # derived from the events, compared in test_flat_applied
    held["events"] = list(tracker.events)
    held["slots"] = {name: (type(s), vars(s)) for name, s in tracker.slots.items()}
    return held


def assert_copies_equal(
    domain: Domain, events: Sequence[Event], max_history: int | None = None
) -> None:
    tracker = DialogueStateTracker("copy", domain.slots, max_event_history=max_history)
    for event in events:
        tracker.update(event, domain)
        taken, replayed = tracker.copy(), tracker.travel_back_in_time(float("inf"))
        assert fields(taken) == fields(replayed)


def test_every_conversation_and_rule_is_copied_as_rasa_copies_it(agent: Agent) -> None:
    conversations = dialogue.conversations(agent.domain)
    assert len(conversations) >= 40
    for conversation in conversations:
        assert_copies_equal(agent.domain, conversation)


@pytest.mark.parametrize("seed", range(4))
def test_random_walks_with_forms_are_copied_as_rasa_copies_them(agent: Agent, seed: int) -> None:
    policy = rule_policy(agent)
    with pytest.MonkeyPatch.context() as patch:
        patch.delattr(RulePolicy, "_prediction_states", raising=False)  # Rasa's own policy
        walk = random_walk(policy, agent.domain, seed)
    assert_copies_equal(agent.domain, walk)


def test_a_session_with_a_revert_and_a_restart_is_copied_as_rasa_copies_it(agent: Agent) -> None:
    session = eventful_session(dialogue.conversations(agent.domain))
    assert_copies_equal(agent.domain, session)
    # A tracker that drops its oldest events is replayed: its copy forgets what they set.
    assert_copies_equal(agent.domain, session, max_history=20)


def test_a_copy_changes_apart_from_its_tracker(agent: Agent) -> None:
    tracker = DialogueStateTracker("copy", agent.domain.slots)
    for event in [*dialogue.conversations(agent.domain)[0], ActiveLoop("complaint_form")]:
        tracker.update(event, agent.domain)
    before = copy.deepcopy(fields(tracker))
    taken = tracker.copy()
    for event in (
        SlotSet("complaint_category", "scam"),
        LoopInterrupted(True),
        ActionExecutionRejected("complaint_form"),
        ConversationPaused(),
    ):
        taken.update(event, agent.domain)
    assert fields(tracker) == before
    assert taken.get_slot("complaint_category") == "scam"
    assert taken.active_loop is not None and taken.active_loop.rejected
