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

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker

PredictionStates = Callable[..., list[State]]

# The longest rule of each loaded policy, in states: its lookup never changes once loaded.
_HORIZONS: weakref.WeakKeyDictionary[RulePolicy, int] = weakref.WeakKeyDictionary()


def install() -> None:
    """Has every RulePolicy of this process predict from the states its rules can see."""
    RulePolicy._prediction_states = _recent_prediction_states


def recent_states(
    tracker: DialogueStateTracker, domain: Domain, count: int, omit_unset_slots: bool = False
) -> list[State]:
    """The last ``count`` of ``tracker.past_states(domain)``, without making the ones before."""
    events = tracker.applied_events()
    actions = sum(isinstance(event, ActionExecuted) for event in events)
    skipped = actions + 1 - count  # the states before the ones kept (one per action, one now)
    replay = tracker.init_copy()
    states: list[State] = []
    for event in events:
        if isinstance(event, ActionExecuted):
            if skipped <= 0:
                states.append(_state(domain, replay, omit_unset_slots))
            skipped -= 1
        replay.update(event)
    states.append(_state(domain, replay, omit_unset_slots))
    return states


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
        if ignore_rule_only_turns:  # a policy learning from stories: its states depend on others
            return self.tracker.past_states(
                domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
            )
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
