"""The RulePolicy that builds only the states its rules can see predicts exactly what Rasa's does:
at every step of every conversation in tests/ and of every rule, and of long generated sessions."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    Restarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from bot.dialogue import flat_rules
from scripts.local_stack import ROOT

CONVERSATIONS = (ROOT / "tests" / "test_stories.yml", ROOT / "data" / "rules.yml")


@pytest.fixture(scope="module")
def policy(agent: Agent) -> RulePolicy:
    """The trained model's RulePolicy, as a server loads it."""
    assert agent.processor is not None
    nodes = agent.processor.graph_runner._instantiated_nodes  # type: ignore[attr-defined]
    (found,) = [n._component for n in nodes.values() if isinstance(n._component, RulePolicy)]
    return found


@pytest.fixture(scope="module")
def conversations(agent: Agent) -> list[list[Event]]:
    return [list(t.events) for path in CONVERSATIONS for t in trackers(path, agent.domain)]


def trackers(path: Path, domain: Domain) -> list[DialogueStateTracker]:
    steps = YAMLStoryReader(domain).read_from_file(path)
    generator = TrainingDataGenerator(
        StoryGraph(steps), domain, remove_duplicates=False, augmentation_factor=0
    )
    return list(generator.generate())


def random_walk(policy: RulePolicy, domain: Domain, seed: int, turns: int = 60) -> list[Event]:
    """A session of random intents, each answered by the actions the rules predict; a predicted
    form becomes active and a later turn may end it, so rules on the loop apply too."""
    rng = random.Random(seed)
    tracker = DialogueStateTracker("walk", domain.slots)
    events: list[Event] = []

    def add(event: Event) -> None:
        events.append(event)
        tracker.update(event, domain)

    add(ActionExecuted(ACTION_LISTEN_NAME))
    for _ in range(turns):
        add(UserUttered(intent={"name": rng.choice(domain.intents), "confidence": 1.0}))
        if tracker.active_loop_name and rng.random() < 0.3:
            add(ActiveLoop(None))
        for _ in range(4):
            prediction = policy.predict_action_probabilities(tracker, domain)
            action = domain.action_names_or_texts[prediction.max_confidence_index]
            add(ActionExecuted(action))
            if action in domain.form_names and tracker.active_loop_name != action:
                add(ActiveLoop(action))
            if action == ACTION_LISTEN_NAME:
                break
        else:
            add(ActionExecuted(ACTION_LISTEN_NAME))
    return events


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
    session = [event for conversation in conversations[:30] for event in conversation]
    middle = len(session) // 2
    session[middle:middle] = [
        UserUttered(intent={"name": "greet", "confidence": 1.0}),
        SlotSet("complaint_category", "fees"),
        UserUtteranceReverted(),
    ]
    session[middle * 3 // 2 : middle * 3 // 2] = [Restarted(), ActionExecuted(ACTION_LISTEN_NAME)]
    for count in (5, 12):
        tracker = DialogueStateTracker("hot", agent.domain.slots)
        for event in session:
            tracker.update(event, agent.domain)
            everything = tracker.past_states(agent.domain)
            assert flat_rules.recent_states(tracker, agent.domain, count) == everything[-count:]
