"""Rasa's graph run in sequence (bot/sequential_graph.py) gives what dask's scheduler gives: the
same parse of every hand-written NLU example and message of the test conversations, and the same
prediction after every event of every conversation and rule in tests/."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.loading import load_data

from bot import sequential_graph
from scripts.local_stack import ROOT
from tests.support import dialogue


@pytest.fixture(scope="module", autouse=True)
def installed() -> Iterator[None]:
    """The sequential runs, for this module (the process's own runner is put back after)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DaskGraphRunner, "run", DaskGraphRunner.run)
        sequential_graph.install()
        yield


def with_dask(run: Any) -> Any:
    """``run()`` with Rasa's dask scheduling instead."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DaskGraphRunner, "run", sequential_graph._DASK_RUN)
        return run()


def texts(agent: Agent) -> list[str]:
    """Every seventh hand-written NLU example, and what the users of the test conversations say."""
    examples = load_data(str(ROOT / "data" / "nlu")).intent_examples
    spoken = [
        event.text
        for events in dialogue.conversations(agent.domain)
        for event in events
        if isinstance(event, UserUttered) and event.text
    ]
    return [example.get("text") for example in examples[::7]] + spoken


def test_every_message_is_parsed_as_dask_parses_it(agent: Agent) -> None:
    messages = texts(agent)
    assert len(messages) >= 400

    def parse_all() -> list[dict[str, Any]]:
        return [asyncio.run(agent.parse_message(text)) for text in messages]

    assert parse_all() == with_dask(parse_all)


def test_every_conversation_gets_the_predictions_dask_gives(agent: Agent) -> None:
    processor = agent.processor
    assert processor is not None
    compared = 0
    for events in dialogue.conversations(agent.domain):
        tracker = DialogueStateTracker("sequential", agent.domain.slots)
        for event in events:
            tracker.update(event, agent.domain)
            if not isinstance(event, (UserUttered, ActionExecuted)):
                continue
            ours = processor._predict_next_with_tracker(tracker)
            theirs = with_dask(lambda t=tracker: processor._predict_next_with_tracker(t))
            assert vars(ours) == vars(theirs)
            compared += 1
    assert compared >= 250


def test_an_input_named_like_a_node_is_refused_as_rasa_refuses_it(agent: Agent) -> None:
    processor = agent.processor
    assert processor is not None
    runner = processor.graph_runner
    node = next(iter(runner._graph_schema.nodes))
    with pytest.raises(GraphRunError, match="clashes with a node name"):
        runner.run(inputs={"__message__": node}, targets=[processor.model_metadata.nlu_target])
