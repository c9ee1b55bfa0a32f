"""Prometheus metrics: the registry, the turn recorder and the stage timers directly, then
``GET /metrics`` on the served stack, whose credentials.yml registers the metrics channel."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from urllib.parse import urljoin

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ConversationPaused, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import turn_stages
from bot.channels.metrics import (
    ACTION,
    CONTENT_TYPE,
    LOCK,
    REGISTRY,
    STAGES,
    MetricsChannel,
    QueueSnapshot,
    Registry,
    observe_turn,
    queue_snapshot,
)
from bot.handoff.records import Reason, Summary
from bot.handoff.store import HandoffStore
from tests.support.http import RestUser
from tests.support.stack import ServedStack, empty_queue


def sample(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus' text format."""
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == wanted:
            return float(value)
    raise KeyError(wanted)


def grew(before: str, after: str, name: str, labels: str = "") -> float:
    """How much one sample grew between two scrapes (a sample not yet shown counts as 0)."""
    try:
        old = sample(before, name, labels)
    except KeyError:
        old = 0
    return sample(after, name, labels) - old


def test_an_empty_registry_renders_zero_counts_and_the_queue() -> None:
    text = Registry(buckets=(0.1, 1.0)).render(QueueSnapshot(queued=3, assigned=1))
    assert text == (
        "# HELP im_messages_total User messages handled.\n"
        "# TYPE im_messages_total counter\n"
        "# HELP im_fallbacks_total User messages the classifier was unsure about (nlu_fallback).\n"
        "# TYPE im_fallbacks_total counter\n"
        "# HELP im_handoffs_total Turns that handed the conversation to a human agent.\n"
        "# TYPE im_handoffs_total counter\n"
        "# HELP im_failed_turns_total User messages that could not be processed "
        "(the user got an apology).\n"
        "# TYPE im_failed_turns_total counter\n"
        "# HELP im_reply_latency_seconds Time from a user message to the bot's reply.\n"
        "# TYPE im_reply_latency_seconds histogram\n"
        'im_reply_latency_seconds_bucket{le="0.1"} 0\n'
        'im_reply_latency_seconds_bucket{le="1"} 0\n'
        'im_reply_latency_seconds_bucket{le="+Inf"} 0\n'
        "im_reply_latency_seconds_sum 0\n"
        "im_reply_latency_seconds_count 0\n"
        "# HELP im_turn_stage_seconds Time spent in each stage of the turns.\n"
        "# TYPE im_turn_stage_seconds summary\n"
        + "".join(
            f'im_turn_stage_seconds_sum{{stage="{stage}"}} 0\n'
            f'im_turn_stage_seconds_count{{stage="{stage}"}} 0\n'
            for stage in STAGES
        )
        + "# HELP im_handoff_queue_length Handoff tickets waiting for an agent.\n"
        "# TYPE im_handoff_queue_length gauge\n"
        "im_handoff_queue_length 3\n"
        "# HELP im_handoff_assigned_tickets Handoff tickets an agent is working on.\n"
        "# TYPE im_handoff_assigned_tickets gauge\n"
        "im_handoff_assigned_tickets 1\n"
    )


def test_turns_are_counted_by_channel_and_reason_with_a_cumulative_histogram() -> None:
    registry = Registry(buckets=(0.1, 1.0))
    registry.record_turn("rest", 0.05, fallback=False, handoff_reason=None)
    registry.record_turn("rest", 0.5, fallback=True, handoff_reason=None)
    registry.record_turn("socketio", 2.0, fallback=True, handoff_reason="fallback")
    registry.record_turn('we"ird\\', 0.1, fallback=False, handoff_reason="requested")

    text = registry.render(None)
    assert sample(text, "im_messages_total", 'channel="rest"') == 2
    assert sample(text, "im_messages_total", 'channel="socketio"') == 1
    assert sample(text, "im_messages_total", 'channel="we\\"ird\\\\"') == 1
    assert sample(text, "im_fallbacks_total", 'channel="rest"') == 1
    assert sample(text, "im_fallbacks_total", 'channel="socketio"') == 1
    assert sample(text, "im_handoffs_total", 'reason="fallback"') == 1
    assert sample(text, "im_handoffs_total", 'reason="requested"') == 1
    assert sample(text, "im_reply_latency_seconds_bucket", 'le="0.1"') == 2
    assert sample(text, "im_reply_latency_seconds_bucket", 'le="1"') == 3
    assert sample(text, "im_reply_latency_seconds_bucket", 'le="+Inf"') == 4
    assert sample(text, "im_reply_latency_seconds_count") == 4
    assert sample(text, "im_reply_latency_seconds_sum") == pytest.approx(2.65)
    assert "im_handoff_queue_length" not in text  # the store could not be read


def test_a_stage_is_timed_also_when_it_fails() -> None:
    registry = Registry()
    with registry.timed("nlu"):
        pass
    with pytest.raises(RuntimeError), registry.timed("nlu"):
        raise RuntimeError("the classifier failed")
    registry.record_stage("action", 0.25)

    text = registry.render(None)
    assert sample(text, "im_turn_stage_seconds_count", 'stage="nlu"') == 2
    assert sample(text, "im_turn_stage_seconds_sum", 'stage="nlu"') > 0
    assert sample(text, "im_turn_stage_seconds_count", 'stage="action"') == 1
    assert sample(text, "im_turn_stage_seconds_sum", 'stage="action"') == 0.25
    assert sample(text, "im_turn_stage_seconds_count", 'stage="store_save"') == 0


def test_installed_twice_a_lock_is_timed_once_also_when_the_turn_fails() -> None:
    turn_stages.install()
    turn_stages.install()  # every channel's start installs
    store = InMemoryLockStore()
    before = REGISTRY.render(None)

    async def turns() -> None:
        async with store.lock("stages-1"):
            pass
        with pytest.raises(RuntimeError):
            async with store.lock("stages-2"):
                raise RuntimeError("the turn failed")

    asyncio.run(turns())
    assert grew(before, REGISTRY.render(None), "im_turn_stage_seconds_count", 'stage="lock"') == 2
    assert store.get_lock("stages-2") is None  # released all the same


def test_the_queue_gauges_come_from_the_handoff_store(tmp_path: Path) -> None:
    store = HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")
    assert queue_snapshot(store) == QueueSnapshot(0, 0)
    for conversation in ("q1", "q2", "q3"):
        store.tickets.open(conversation, "rest", Reason.REQUESTED, Summary())
    claimed = store.tickets.open_for("q1")
    assert claimed is not None and store.tickets.claim(claimed.ticket_id, "li") is not None
    assert store.tickets.cancel("q2") is not None
    assert queue_snapshot(store) == QueueSnapshot(queued=1, assigned=1)


@dataclass
class FakeRasa:
    """Plays Rasa's part in a turn: stores the events the message would have produced."""

    store: InMemoryTrackerStore
    events: list[Event]
    fail: bool = False

    async def __call__(self, message: UserMessage) -> None:
        tracker = await self.store.get_or_create_tracker(message.sender_id)
        for event in self.events:
            tracker.update(event)
        await self.store.save(tracker)
        if self.fail:
            raise RuntimeError("processing failed")


def run_turn(
    tracker_store: InMemoryTrackerStore,
    handoffs: HandoffStore,
    registry: Registry,
    sender: str,
    events: list[Event],
    fail: bool = False,
) -> None:
    agent = cast(Agent, type("AgentStub", (), {"tracker_store": tracker_store})())
    message = UserMessage("…", CollectingOutputChannel(), sender, input_channel="rest")
    asyncio.run(
        observe_turn(FakeRasa(tracker_store, events, fail), message, agent, registry, handoffs)
    )


def user(intent: str) -> UserUttered:
    return UserUttered("…", intent={"name": intent, "confidence": 0.5})


def test_observe_turn_records_fallbacks_handoffs_and_latency(tmp_path: Path) -> None:
    tracker_store = InMemoryTrackerStore(Domain.empty())
    handoffs = HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")
    registry = Registry()

    run_turn(tracker_store, handoffs, registry, "u1", [user("network_fee")])
    run_turn(tracker_store, handoffs, registry, "u1", [user("nlu_fallback")])
    # The second unclear turn hands off: the action opened a ticket and paused.
    handoffs.tickets.open("u1", "rest", Reason.FALLBACK, Summary())
    run_turn(tracker_store, handoffs, registry, "u1", [user("nlu_fallback"), ConversationPaused()])
    # Written to the agent: neither a fallback of the bot nor another handoff.
    run_turn(tracker_store, handoffs, registry, "u1", [user("nlu_fallback")])
    with pytest.raises(RuntimeError, match="processing failed"):
        run_turn(tracker_store, handoffs, registry, "u2", [user("greet")], fail=True)

    text = registry.render(None)
    assert sample(text, "im_messages_total", 'channel="rest"') == 5
    assert sample(text, "im_fallbacks_total", 'channel="rest"') == 2
    assert sample(text, "im_handoffs_total", 'reason="fallback"') == 1
    assert sample(text, "im_reply_latency_seconds_count") == 5
    assert sample(text, "im_reply_latency_seconds_sum") > 0


def test_observe_turn_survives_an_unreadable_tracker(tmp_path: Path) -> None:
    class Broken(InMemoryTrackerStore):
        async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
            raise OSError("tracker store down")

    async def answered(_: UserMessage) -> None:
        return None

    registry = Registry()
    agent = cast(Agent, type("AgentStub", (), {"tracker_store": Broken(Domain.empty())})())
    message = UserMessage("…", CollectingOutputChannel(), "u1", input_channel="rest")
    handoffs = HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")
    asyncio.run(observe_turn(answered, message, agent, registry, handoffs))
    assert sample(registry.render(None), "im_messages_total", 'channel="rest"') == 1


def test_the_channel_mounts_at_the_server_root() -> None:
    channel = MetricsChannel()
    assert channel.name() == "metrics"
    # Rasa registers channel blueprints with url_prefix=urljoin("/webhooks/", url_prefix()).
    assert urljoin("/webhooks/", channel.url_prefix()) == "/"


# Against the served stack


@pytest.fixture
def stack(served: ServedStack) -> ServedStack:
    empty_queue(served)  # the earlier tests' tickets
    return served


def scrape(stack: ServedStack) -> tuple[str, str]:
    answer = stack.http.get("/metrics")
    assert answer.status == 200, answer
    return answer.content_type, answer.text


def test_metrics_are_served_at_the_root_with_the_queue_length(stack: ServedStack) -> None:
    content_type, text = scrape(stack)
    assert content_type == CONTENT_TYPE
    assert sample(text, "im_handoff_queue_length") == 0
    HandoffStore.from_url(stack.handoff_url).tickets.open(
        "metrics-queued", "rest", Reason.REQUESTED, Summary()
    )
    assert sample(scrape(stack)[1], "im_handoff_queue_length") == 1
    # Not also under /webhooks/.
    assert stack.http.get("/webhooks/metrics").status >= 400


def test_rest_turns_are_counted(stack: ServedStack) -> None:
    before = scrape(stack)[1]
    user = RestUser(stack.http, "metrics-user")
    user.send("矿工费怎么算")
    user.send("怎么回事")
    user.send("啥意思")  # the second unclear turn hands off
    user.send("有人吗")  # to the agent: no fallback of the bot

    text = scrape(stack)[1]
    assert grew(before, text, "im_messages_total", 'channel="rest"') == 4
    assert grew(before, text, "im_fallbacks_total", 'channel="rest"') == 2
    assert grew(before, text, "im_handoffs_total", 'reason="fallback"') == 1
    assert grew(before, text, "im_reply_latency_seconds_count") == 4
    assert re.search(r'^im_reply_latency_seconds_bucket\{le="\+Inf"\} \d+$', text, re.M)
    assert sample(text, "im_handoff_queue_length") >= 1


def stage_runs(before: str, after: str) -> dict[str, float]:
    return {
        stage: grew(before, after, "im_turn_stage_seconds_count", f'stage="{stage}"')
        for stage in STAGES
    }


def test_a_faq_turn_is_timed_stage_by_stage_without_the_action_server(stack: ServedStack) -> None:
    user = RestUser(stack.http)
    before = scrape(stack)[1]
    assert user.say("矿工费怎么算")
    after = scrape(stack)[1]

    runs = stage_runs(before, after)
    # The answer is a domain response: the policies chose it, then to listen; no action server.
    assert runs == {**dict.fromkeys(STAGES, 1), "policies": 2, ACTION: 0}
    timed = {
        stage
        for stage in STAGES
        if grew(before, after, "im_turn_stage_seconds_sum", f'stage="{stage}"') > 0
    }
    assert timed == set(STAGES) - {ACTION}


def test_a_look_up_turn_also_times_the_call_to_the_action_server(stack: ServedStack) -> None:
    user = RestUser(stack.http)
    before = scrape(stack)[1]
    assert user.say("我的账户被锁了吗")
    runs = stage_runs(before, scrape(stack)[1])
    assert runs[ACTION] == 1
    assert all(runs[stage] >= 1 for stage in STAGES), runs
    assert runs[LOCK] == 1
