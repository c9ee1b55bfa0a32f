"""RulePolicy at a flat cost per turn: it builds only the dialogue states a rule can see.

For every prediction Rasa's RulePolicy makes one state per action of the whole session, walks all
of them back for every learned rule (``_get_possible_keys``) and copies them for a debug log,
although a rule reaches back only as far as it is long. So each turn of a long conversation cost
more than the one before: turns 46–50 took 12.2 ms p50 against 7.0 ms for turns 1–5.

``install()``, called once when a server starts (``bot.services``), has a loaded RulePolicy build
only the last ``longest rule + 1`` states. The predictions stay the same, for three reasons:

- RulePolicy hides no rule-only turns (it learns from rule data), so each state is made from the
  tracker at its point alone (``Domain.states_for_tracker_history``): the last states of the
  session are the states of its last turns. Every event is still applied to the replayed tracker,
  so slots and the active loop are as before.
- A rule of n states is matched against the last n states; past the longest rule,
  ``_is_rule_applicable`` keeps every rule.
- When no rule applies, the key of the states is the prediction's source, which is only compared
  with rule keys (``RULES_NOT_IN_STORIES``). With one state more than the longest rule it equals
  none of them, cut or not.

A policy loaded without rules, and ``rasa train`` (another process, which never installs this),
see the whole history, as Rasa's contradiction checks expect. A RulePolicy subclass in config.yml
would be more explicit, but Rasa's recipe validator asks for RulePolicy itself
(``node.uses == RulePolicy``) and refuses forms without it. ``tests/dialogue/test_flat_rules.py``
proves the predictions identical on every conversation in tests/ and on generated long ones.
"""

from __future__ import annotations

import itertools
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker

PredictionStates = Callable[..., list[State]]

# The longest rule of each loaded policy, in states: its lookup never changes once loaded.
_HORIZONS: weakref.WeakKeyDictionary[RulePolicy, int] = weakref.WeakKeyDictionary()
# Where a tracker object keeps its replay, which lives as long as the tracker (a hot one lives
# across turns). Trackers compare by value and cannot be the keys of a weak dictionary.
_REPLAY = "_flat_rules_replay"


def install() -> None:
    """Has every RulePolicy of this process predict from the states its rules can see."""
    RulePolicy._prediction_states = _recent_prediction_states


def recent_states(
    tracker: DialogueStateTracker, domain: Domain, count: int, omit_unset_slots: bool = False
) -> list[State]:
    """The last ``count`` of ``tracker.past_states(domain)``, without making the ones before.

    A tracker kept from turn to turn (the hot trackers of ``bot.tracking``) is replayed once: the
    next call applies only the events added since, unless one of them changes which earlier
    events apply (a restart, a revert, a form's own turn); then the whole session is replayed.
    """
    replay: _Replay | None = getattr(tracker, _REPLAY, None)
    if replay is None or not replay.extends_to(tracker, domain, count, omit_unset_slots):
        replay = _Replay.of(tracker, domain, count, omit_unset_slots)
        setattr(tracker, _REPLAY, replay)
    return [*replay.states, _state(domain, replay.tracker, omit_unset_slots)]


@dataclass
class _Replay:
    """A session replayed up to its ``seen``-th event, with the states before its last actions."""

    tracker: DialogueStateTracker
    states: deque[State]
    domain: Domain
    omit_unset_slots: bool
    loops: set[str]
    seen: int
    last: Event | None

    @classmethod
    def of(
        cls, tracker: DialogueStateTracker, domain: Domain, count: int, omit_unset_slots: bool
    ) -> _Replay:
        """The whole session replayed, as ``Domain.states_for_tracker_history`` does."""
        events = tracker.applied_events()
        skipped = sum(isinstance(event, ActionExecuted) for event in events) + 1 - count
        replay = cls(
            tracker.init_copy(),
            deque(maxlen=count - 1),
            domain,
            omit_unset_slots,
            {e.name for e in tracker.events if isinstance(e, ActiveLoop) and e.name},
            0,
            None,
        )
        for event in events:
            if isinstance(event, ActionExecuted):
                if skipped <= 0:
                    replay.states.append(_state(domain, replay.tracker, omit_unset_slots))
                skipped -= 1
            replay.tracker.update(event)
        replay._saw(tracker)
        return replay

    def extends_to(
        self, tracker: DialogueStateTracker, domain: Domain, count: int, omit_unset_slots: bool
    ) -> bool:
        """Brings the replay up to ``tracker`` if its new events only add to the applied ones."""
        events = tracker.events
        if (
            domain is not self.domain
            or (count - 1, omit_unset_slots) != (self.states.maxlen, self.omit_unset_slots)
            or len(events) < self.seen
            or (self.seen and events[self.seen - 1] is not self.last)
        ):
            return False
        added = list(itertools.islice(events, self.seen, None))
        if not all(_only_adds(event, self.loops) for event in added):
            return False
        for event in added:
            if isinstance(event, ActionExecuted):
                self.states.append(_state(domain, self.tracker, omit_unset_slots))
            self.tracker.update(event)
        self._saw(tracker)
        return True

    def _saw(self, tracker: DialogueStateTracker) -> None:
        self.seen = len(tracker.events)
        self.last = tracker.events[-1] if tracker.events else None


def _only_adds(event: Event, loops: set[str]) -> bool:
    """Whether ``applied_events`` just appends ``event`` (see ``DialogueStateTracker``)."""
    if isinstance(event, (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted)):
        return False
    if isinstance(event, ActiveLoop):
        return not event.name or event.name in loops
    return not (isinstance(event, ActionExecuted) and event.action_name in loops)


@dataclass(frozen=True)
class _RecentPast:
    """Stands in for a tracker where RulePolicy's featurizer asks it for its past states."""

    tracker: DialogueStateTracker
    count: int

    def past_states(
        self,
        domain: Domain,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[State]:
        # Only RulePolicy asks here, and it hides no rule-only turns: each state is its own.
        assert not ignore_rule_only_turns, "a policy learning from stories needs every state"
        return recent_states(self.tracker, domain, self.count, omit_unset_slots)


def _recent_prediction_states(
    self: RulePolicy,
    tracker: DialogueStateTracker,
    domain: Domain,
    use_text_for_last_user_input: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    horizon = _horizon(self)
    if horizon:
        tracker = cast(DialogueStateTracker, _RecentPast(tracker, horizon + 1))
    whole_history = cast(PredictionStates, super(RulePolicy, self)._prediction_states)
    return whole_history(tracker, domain, use_text_for_last_user_input, rule_only_data)


def _horizon(policy: RulePolicy) -> int:
    """How many states back the policy's longest rule reaches; 0 before it has rules."""
    if policy not in _HORIZONS:
        keys = [
            key
            for table in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH)
            for key in policy.lookup.get(table, {})
        ]
        _HORIZONS[policy] = max((len(policy._rule_key_to_state(key)) for key in keys), default=0)
    return _HORIZONS[policy]


def _state(domain: Domain, tracker: DialogueStateTracker, omit_unset_slots: bool) -> State:
    return domain._clean_state(domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots))
