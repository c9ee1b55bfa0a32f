"""The RulePolicy that builds only the states its rules can see predicts exactly what Rasa's does:
at every step of every conversation in tests/ and of every rule, and of long generated sessions."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import pytest
from rasa.core.agent import Agent
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker

from bot.dialogue import flat_rules
from tests.support import dialogue
from tests.support.dialogue import eventful_session, random_walk, rule_policy


@pytest.fixture(scope="module")
def policy(agent: Agent) -> RulePolicy:
    return rule_policy(agent)


@pytest.fixture(scope="module")
def conversations(agent: Agent) -> list[list[Event]]:
    return dialogue.conversations(agent.domain)


def predictions(
    policy: RulePolicy, domain: Domain, events: Sequence[Event], flat: bool
) -> Iterator[PolicyPrediction]:
    """The policy's prediction before every action of the conversation, replayed event by event."""
    tracker = DialogueStateTracker("flat-rules", domain.slots)
    with pytest.MonkeyPatch.context() as patch:
        patch.delattr(RulePolicy, "_prediction_states")  # Rasa's own, until installed again
        if flat:
            flat_rules.install()
        for event in events:
            if isinstance(event, ActionExecuted):
                yield policy.predict_action_probabilities(tracker, domain)
            tracker.update(event, domain)


def assert_same_predictions(policy: RulePolicy, domain: Domain, events: Sequence[Event]) -> int:
    rasas = list(predictions(policy, domain, events, flat=False))
    flats = list(predictions(policy, domain, events, flat=True))
    assert flats == rasas
    return len(rasas)


def test_every_conversation_and_rule_gets_the_same_predictions(
    policy: RulePolicy, agent: Agent, conversations: list[list[Event]]
) -> None:
    compared = sum(assert_same_predictions(policy, agent.domain, c) for c in conversations)
    assert len(conversations) >= 40 and compared >= 150


@pytest.mark.parametrize("seed", range(6))
def test_long_generated_sessions_get_the_same_predictions(
    policy: RulePolicy, agent: Agent, conversations: list[list[Event]], seed: int
) -> None:
    """Sessions of 80+ turns: conversations and rules one after the other, forms among them."""
    chosen = random.Random(seed).choices(conversations, k=40)
    session = [event for conversation in chosen for event in conversation]
    turns = sum(isinstance(e, ActionExecuted) for e in session)
    assert turns >= 80
    assert assert_same_predictions(policy, agent.domain, session) == turns


@pytest.mark.parametrize("seed", range(8))
def test_random_walks_through_the_rules_get_the_same_predictions(
    policy: RulePolicy, agent: Agent, seed: int
) -> None:
    """Random intents, answered as the rules say: sequences no author wrote, where a cut history
    would let a longer rule match on too little (or a shorter one win)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delattr(RulePolicy, "_prediction_states")
        walk = random_walk(policy, agent.domain, seed)
    assert assert_same_predictions(policy, agent.domain, walk) >= 120


def test_a_long_session_builds_only_the_states_its_rules_can_see(
    policy: RulePolicy, agent: Agent, conversations: list[list[Event]]
) -> None:
    session = [event for conversation in conversations for event in conversation]
    tracker = DialogueStateTracker.from_events("flat-rules", session, agent.domain.slots)
    everything = tracker.past_states(agent.domain)
    assert len(everything) > 200
    for count in (1, 5, 12, len(everything), len(everything) + 3):
        assert flat_rules.recent_states(tracker, agent.domain, count) == everything[-count:]


def test_a_tracker_kept_across_turns_is_replayed_from_where_it_was(
    agent: Agent, conversations: list[list[Event]]
) -> None:
    """The hot tracker of a long session: after every event its last states are still the tail
    of all its states, through forms, slots, a rewound message and a restart."""
    session = eventful_session(conversations)
    for count in (5, 12):
        tracker = DialogueStateTracker("hot", agent.domain.slots)
        for event in session:
            tracker.update(event, agent.domain)
            everything = tracker.past_states(agent.domain)
            assert flat_rules.recent_states(tracker, agent.domain, count) == everything[-count:]
