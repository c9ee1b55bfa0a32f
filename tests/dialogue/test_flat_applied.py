"""A tracker's applied events, extended from the last listing, equal Rasa's listing from the
start, for the tracker and for its copies: after every event of every conversation in tests/
and every rule, of random walks through the rules (forms among them), of a long session with a
pause, a rewound message and a restart, and when the tracker's events are replaced or a new
loop appears."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from rasa.core.agent import Agent
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.dialogue import flat_applied
from tests.support import dialogue
from tests.support.dialogue import eventful_session, random_walk, rule_policy

rasa_applied_events = flat_applied._RASA_APPLIED_EVENTS


@pytest.fixture(scope="module", autouse=True)
def installed() -> Iterator[None]:
    """The extending listing, for this module (the process's own is put back after)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DialogueStateTracker, "applied_events", DialogueStateTracker.applied_events)
        flat_applied.install()
        yield


def assert_listed_as_rasa_lists(
    domain: Domain, events: Sequence[Event], max_history: int | None = None, every: int = 1
) -> None:
    tracker = DialogueStateTracker("applied", domain.slots, max_event_history=max_history)
    for number, event in enumerate(events):
        tracker.update(event, domain)
        if number % every == 0:
            listed = tracker.applied_events()
            assert listed == rasa_applied_events(tracker)
            listed.clear()  # a caller changing its list changes nothing kept
            assert tracker.applied_events() == rasa_applied_events(tracker)
            # A copy, as Rasa takes before every action, starts from the original's listing.
            copied = tracker.copy()
            assert copied.applied_events() == rasa_applied_events(copied)
            copied.update(ActionExecuted("action_listen"), domain)
            assert copied.applied_events() == rasa_applied_events(copied)
            assert tracker.applied_events() == rasa_applied_events(tracker)


def test_every_conversation_and_rule_is_listed_as_rasa_lists_it(agent: Agent) -> None:
    conversations = dialogue.conversations(agent.domain)
    assert len(conversations) >= 40
    for conversation in conversations:
        assert_listed_as_rasa_lists(agent.domain, conversation)
        # Listed only now and then, as a turn asks: several events folded at once.
        assert_listed_as_rasa_lists(agent.domain, conversation, every=5)


@pytest.mark.parametrize("seed", range(4))
def test_random_walks_with_forms_are_listed_as_rasa_lists_them(agent: Agent, seed: int) -> None:
    policy = rule_policy(agent)
    with pytest.MonkeyPatch.context() as patch:
        patch.delattr(RulePolicy, "_prediction_states", raising=False)  # Rasa's own policy
        walk = random_walk(policy, agent.domain, seed)
    assert_listed_as_rasa_lists(agent.domain, walk)
    assert_listed_as_rasa_lists(agent.domain, walk, every=3)


def test_a_session_with_a_revert_and_a_restart_is_listed_as_rasa_lists_it(agent: Agent) -> None:
    session = eventful_session(dialogue.conversations(agent.domain))
    assert_listed_as_rasa_lists(agent.domain, session)
    assert_listed_as_rasa_lists(agent.domain, session, max_history=20)


def test_a_loop_seen_late_and_replaced_events_are_listed_anew(agent: Agent) -> None:
    domain = agent.domain
    tracker = DialogueStateTracker("applied", domain.slots)
    for event in dialogue.conversations(domain)[0]:
        tracker.update(event, domain)
    # The form ran before its ActiveLoop event: its earlier runs count differently from now on.
    for event in (
        ActionExecuted("complaint_form"),
        ActionExecuted("action_listen"),
        UserUttered("诈骗", {"name": "inform", "confidence": 1.0}),
        ActionExecuted("complaint_form"),
    ):
        tracker.update(event, domain)
        assert tracker.applied_events() == rasa_applied_events(tracker)
    tracker.update(ActiveLoop("complaint_form"), domain)
    assert tracker.applied_events() == rasa_applied_events(tracker)
    # New events ending as the listed ones did, another one first: listed from the start.
    before = list(tracker.events)
    other = UserUttered("你好", {"name": "greet", "confidence": 1.0})
    tracker.events = tracker._create_events([other, *before[1:], ActionExecuted("action_listen")])
    assert tracker.applied_events() == rasa_applied_events(tracker)
    tracker.events = tracker._create_events(before[:4])
    assert tracker.applied_events() == rasa_applied_events(tracker)
