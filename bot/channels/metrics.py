"""Prometheus metrics of the assistant, served at ``GET /metrics`` on the Rasa server.

    im_messages_total{channel}           user messages handled
    im_fallbacks_total{channel}          of which the classifier was unsure (nlu_fallback)
    im_handoffs_total{reason}            turns that handed the conversation to a human
    im_failed_turns_total{reason}        messages not processed: store or lock store down, a bug
    im_reply_latency_seconds             histogram: time from a message to the bot's reply
    im_turn_stage_seconds{stage}         summary: time spent in each stage of the turns (below)
    im_handoff_queue_length              tickets waiting for an agent (read at scrape time)
    im_handoff_assigned_tickets          tickets an agent owns (read at scrape time)
    im_model_info{digest}                1 for the model this server runs (bot.improvement.pulling)

The counters live in this process (``REGISTRY``) and are fed by the channel intake through
``observe_turn`` and ``record_failure``; Prometheus expects them to restart from zero with the
server.

The stages (``STAGES``, in a turn's order) are timed where they run: ``intake`` (cleaning, rate
limits) and ``secret_guard`` by the intake, ``reply_guard`` (the check that the turn was
answered) by the reply guard, Rasa's ``lock``, ``nlu``, ``policies``, ``action`` (a call to the
action server) and ``store_save`` by ``bot.turn_stages``. A stage has a sum and a count only, no
buckets: its cost per turn (``rate(_sum)`` over ``rate(im_messages_total)``) is what shows a
change that adds cost, the tail of a turn is in the latency histogram, and buckets would add a
dozen series per stage with no one scale for a 50 µs guard and a 50 ms action call.

The endpoint shows counts only, no conversation ids or text; expose it to the monitoring network
only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import ConversationPaused, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.records import State
from bot.handoff.store import HandoffStore
from bot.improvement.pulling import MODEL_INFO
from bot.services import services_of, use_services
from bot.tracking import turn_tracker

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FALLBACK_INTENT = "nlu_fallback"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNKNOWN = "unknown"
INTAKE = "intake"
SECRET_GUARD = "secret_guard"
LOCK = "lock"
NLU = "nlu"
POLICIES = "policies"
ACTION = "action"
STORE_SAVE = "store_save"
REPLY_GUARD = "reply_guard"
STAGES = (INTAKE, SECRET_GUARD, LOCK, NLU, POLICIES, ACTION, STORE_SAVE, REPLY_GUARD)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass(frozen=True)
class QueueSnapshot:
    """Open handoff tickets by state, read from the store when Prometheus scrapes."""

    queued: int
    assigned: int


class Registry:
    """The counters and the latency histogram of this server process."""

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self._lock = threading.Lock()
        self._buckets = tuple(sorted(buckets))
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._messages: Counter[str] = Counter()
            self._fallbacks: Counter[str] = Counter()
            self._handoffs: Counter[str] = Counter()
            self._failures: Counter[str] = Counter()
            self._latency_counts = [0] * len(self._buckets)
            self._latency_sum = 0.0
            self._latency_count = 0
            self._stage_seconds = dict.fromkeys(STAGES, 0.0)
            self._stage_counts = dict.fromkeys(STAGES, 0)

    def record_turn(
        self, channel: str, seconds: float, fallback: bool, handoff_reason: str | None
    ) -> None:
        """One user message handled on ``channel`` in ``seconds``."""
        with self._lock:
            self._messages[channel] += 1
            if fallback:
                self._fallbacks[channel] += 1
            if handoff_reason is not None:
                self._handoffs[handoff_reason] += 1
            for index, bound in enumerate(self._buckets):
                if seconds <= bound:
                    self._latency_counts[index] += 1
            self._latency_sum += seconds
            self._latency_count += 1

    def record_failure(self, reason: str) -> None:
        """A message that could not be processed (the user got an apology)."""
        with self._lock:
            self._failures[reason] += 1

    def record_stage(self, stage: str, seconds: float) -> None:
        """One run of ``stage`` (one of ``STAGES``) that took ``seconds``."""
        with self._lock:
            self._stage_seconds[stage] += seconds
            self._stage_counts[stage] += 1

    def timed(self, stage: str) -> StageTimer:
        """``with registry.timed(stage):`` records the block as one run of ``stage``."""
        return StageTimer(self, stage)

    def render(self, queue: QueueSnapshot | None) -> str:
        """Everything in Prometheus' text format; the queue gauges only when it could be read."""
        with self._lock:
            lines = [
                *_counter("im_messages_total", "User messages handled.", "channel", self._messages),
                *_counter(
                    "im_fallbacks_total",
                    "User messages the classifier was unsure about (nlu_fallback).",
                    "channel",
                    self._fallbacks,
                ),
                *_counter(
                    "im_handoffs_total",
                    "Turns that handed the conversation to a human agent.",
                    "reason",
                    self._handoffs,
                ),
                *_counter(
                    "im_failed_turns_total",
                    "User messages that could not be processed (the user got an apology).",
                    "reason",
                    self._failures,
                ),
                "# HELP im_reply_latency_seconds Time from a user message to the bot's reply.",
                "# TYPE im_reply_latency_seconds histogram",
            ]
            for bound, count in zip(self._buckets, self._latency_counts, strict=True):
                lines.append(f'im_reply_latency_seconds_bucket{{le="{_number(bound)}"}} {count}')
            lines += [
                f'im_reply_latency_seconds_bucket{{le="+Inf"}} {self._latency_count}',
                f"im_reply_latency_seconds_sum {_number(self._latency_sum)}",
                f"im_reply_latency_seconds_count {self._latency_count}",
                "# HELP im_turn_stage_seconds Time spent in each stage of the turns.",
                "# TYPE im_turn_stage_seconds summary",
            ]
            for stage in STAGES:
                seconds, count = self._stage_seconds[stage], self._stage_counts[stage]
                lines += [
                    f'im_turn_stage_seconds_sum{{stage="{stage}"}} {_number(seconds)}',
                    f'im_turn_stage_seconds_count{{stage="{stage}"}} {count}',
                ]
        if queue is not None:
            lines += [
                "# HELP im_handoff_queue_length Handoff tickets waiting for an agent.",
                "# TYPE im_handoff_queue_length gauge",
                f"im_handoff_queue_length {queue.queued}",
                "# HELP im_handoff_assigned_tickets Handoff tickets an agent is working on.",
                "# TYPE im_handoff_assigned_tickets gauge",
                f"im_handoff_assigned_tickets {queue.assigned}",
            ]
        return "\n".join(lines) + "\n"


class StageTimer:
    """Times one run of a stage, recorded when the block ends, also by an exception."""

    __slots__ = ("_registry", "_stage", "_started")

    def __init__(self, registry: Registry, stage: str) -> None:
        self._registry = registry
        self._stage = stage
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._registry.record_stage(self._stage, time.perf_counter() - self._started)


def _counter(name: str, help_text: str, label: str, values: Counter[str]) -> Iterable[str]:
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} counter"
    for key in sorted(values):
        yield f'{name}{{{label}="{_label(key)}"}} {values[key]}'


REGISTRY = Registry()


def queue_snapshot(store: HandoffStore) -> QueueSnapshot:
    states = Counter(ticket.state for ticket in store.tickets.queue())
    return QueueSnapshot(queued=states[State.QUEUED], assigned=states[State.ASSIGNED])


async def observe_turn(
    handle: Callable[[UserMessage], Awaitable[Any]],
    message: UserMessage,
    agent: Agent,
    registry: Registry,
    store: HandoffStore,
) -> None:
    """Hands ``message`` to Rasa (``handle``) and records the turn: latency, fallback, handoff.

    Exceptions from ``handle`` propagate after the turn is recorded; a failure to record is
    logged and never reaches the user.
    """
    started = time.perf_counter()
    try:
        await handle(message)
    finally:
        seconds = time.perf_counter() - started
        try:
            fallback, reason = await _outcome(agent, store, message.sender_id)
        except Exception:
            logger.exception("could not read the turn's outcome in %s", message.sender_id)
            fallback, reason = False, None
        registry.record_turn(message.input_channel or UNKNOWN, seconds, fallback, reason)


async def _outcome(agent: Agent, store: HandoffStore, sender_id: str) -> tuple[bool, str | None]:
    """Whether the latest user message fell back, and the reason if the turn handed off."""
    tracker = await turn_tracker(agent, sender_id)
    if tracker is None:
        return False, None
    events = list(tracker.events)
    last_user = max(
        (index for index, event in enumerate(events) if isinstance(event, UserUttered)),
        default=None,
    )
    if last_user is None:
        return False, None
    latest = events[last_user]
    assert isinstance(latest, UserUttered)
    paused = any(isinstance(event, ConversationPaused) for event in events[last_user + 1 :])
    if not paused:
        # A message written while an agent owns the conversation is not the bot's to understand.
        to_bot = not tracker.is_paused()
        return to_bot and latest.intent_name == FALLBACK_INTENT, None
    fallback = latest.intent_name == FALLBACK_INTENT
    ticket = await asyncio.to_thread(store.tickets.open_for, sender_id)
    return fallback, ticket.reason.value if ticket is not None else UNKNOWN


class MetricsChannel(InputChannel):
    """Serves ``GET /metrics`` at the server's root; registered in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return "metrics"

    def __init__(self, store: HandoffStore | None = None, registry: Registry = REGISTRY) -> None:
        self._store = store
        self._registry = registry

    def url_prefix(self) -> str:
        # Rasa mounts channels at urljoin("/webhooks/", prefix): "/" puts /metrics at the root.
        return "/"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        metrics = Blueprint("im_metrics", __name__)
        use_services(metrics)

        @metrics.route("/metrics", methods=["GET"])
        async def scrape(request: Request) -> HTTPResponse:
            store = self._store or services_of(request.app).handoff
            try:
                queue = await asyncio.to_thread(queue_snapshot, store)
            except Exception:
                logger.exception("could not read the handoff queue for /metrics")
                queue = None
            page = self._registry.render(queue) + MODEL_INFO.render()
            return response.text(page, content_type=CONTENT_TYPE)

        return metrics
