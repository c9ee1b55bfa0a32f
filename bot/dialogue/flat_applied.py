"""A conversation's applied events, extended from the last time they were listed.

``DialogueStateTracker.applied_events`` (the session's events without the reverted ones) folds
over every event of the session, and Rasa asks for it a few times in every turn: whether a
session has expired, the last user message, the tracker an action gets. The longer the
conversation, the slower each turn (about 0.25 ms a call at turn 50).

The fold depends only on the list so far, the next event and the names of the session's loops.
``install()``, called once when a server starts (``bot.services``), has every tracker keep the
list it returned last with how many events it covered, and fold only the events added since,
with Rasa's own steps. It lists from the start again when the events are no longer the same
deque, its covered part changed (the last covered event is another object), the new events
name a loop not seen before (which changes how earlier loop actions count), or the tracker
drops its oldest events (``max_event_history``). Callers get a copy, as from Rasa. A tracker's
copy (``bot.dialogue.flat_copy``, before every action) starts from its original's listing.
``tests/dialogue/test_flat_applied.py`` proves the lists equal to Rasa's after every event of
every conversation in tests/, random walks with forms, reverts and restarts.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

_RASA_APPLIED_EVENTS = DialogueStateTracker.applied_events
CACHE = "_flat_applied"


@dataclass
class _Listed:
    """The applied events of a tracker's first ``count`` events, the last of them ``last``."""

    events: deque[Event]
    count: int
    last: Event | None
    loop_names: frozenset[str]
    applied: list[Event]


def install() -> None:
    """Has every tracker of this process extend its applied events instead of listing them."""
    DialogueStateTracker.applied_events = _applied_events


def carry_over(original: DialogueStateTracker, copy: DialogueStateTracker) -> None:
    """Gives ``copy``, whose events are ``original``'s in a deque of its own, its listing."""
    listed: _Listed | None = original.__dict__.get(CACHE)
    if listed is not None and listed.events is original.events:
        # The kept list is never handed out or changed, only replaced: the two may share it.
        copy.__dict__[CACHE] = replace(listed, events=copy.events)


def _loop_names(events: Iterable[Event]) -> frozenset[str]:
    names = set()
    for event in events:
        if isinstance(event, ActiveLoop) and event.name:
            names.add(event.name)
    return frozenset(names)


def _fold(
    tracker: DialogueStateTracker, applied: list[Event], new: list[Event], loops: frozenset[str]
) -> list[Event]:
    """Rasa's ``applied_events`` loop over ``new``, from ``applied``."""
    for event in new:
        if isinstance(event, (Restarted, SessionStarted)):
            applied = []
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loops
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)
    return applied


def _applied_events(self: DialogueStateTracker) -> list[Event]:
    events = self.events
    if self._max_event_history is not None:
        return _RASA_APPLIED_EVENTS(self)
    count = len(events)
    listed: _Listed | None = self.__dict__.get(CACHE)
    if (
        listed is not None
        and listed.events is events
        and listed.count <= count
        and (listed.count == 0 or events[listed.count - 1] is listed.last)
    ):
        if listed.count == count:
            return list(listed.applied)
        new = list(itertools.islice(events, listed.count, None))
        if _loop_names(new) <= listed.loop_names:
            applied = _fold(self, list(listed.applied), new, listed.loop_names)
            self.__dict__[CACHE] = _Listed(
                events, count, events[-1] if count else None, listed.loop_names, applied
            )
            return list(applied)
    loops = _loop_names(events)
    applied = _fold(self, [], list(events), loops)
    self.__dict__[CACHE] = _Listed(events, count, events[-1] if count else None, loops, applied)
    return list(applied)
