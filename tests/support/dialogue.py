"""Conversations for the dialogue core's own tests: every test story and rule as events, the
trained model's RulePolicy, random walks through the rules (forms among them), and a long session
with a pause, a rewound message and a restart."""

from __future__ import annotations

import random
from pathlib import Path

from rasa.core.agent import Agent
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    ConversationResumed,
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

from scripts.local_stack import ROOT

FILES = (ROOT / "tests" / "test_stories.yml", ROOT / "data" / "rules.yml")


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


def conversations(domain: Domain) -> list[list[Event]]:
    """The events of every story in tests/test_stories.yml and every rule in data/rules.yml."""
    return [list(t.events) for path in FILES for t in trackers(path, domain)]


def rule_policy(agent: Agent) -> RulePolicy:
    """The loaded model's RulePolicy, as a server runs it."""
    assert agent.processor is not None
    nodes = agent.processor.graph_runner._instantiated_nodes  # type: ignore[attr-defined]
    (found,) = [n._component for n in nodes.values() if isinstance(n._component, RulePolicy)]
    return found


def eventful_session(conversations: list[list[Event]]) -> list[Event]:
    """Thirty conversations in a row, with a pause (an agent took over), a message rewound (and
    the slot it set with it) and a restart inside."""
    session = [event for conversation in conversations[:30] for event in conversation]
    middle = len(session) // 2
    session[middle:middle] = [
        UserUttered(intent={"name": "greet", "confidence": 1.0}),
        SlotSet("complaint_category", "fees"),
        UserUtteranceReverted(),
    ]
    session[middle * 3 // 2 : middle * 3 // 2] = [Restarted(), ActionExecuted(ACTION_LISTEN_NAME)]
    session[middle // 2 : middle // 2] = [ConversationPaused()]
    session[middle * 3 // 4 : middle * 3 // 4] = [ConversationResumed()]
    return session
