"""An exact copy of a conversation's tracker, made without replaying the session.

Before every action it runs, Rasa copies the tracker (``MessageProcessor._run_action``) with
``DialogueStateTracker.copy``, which applies every event of the session to a new tracker: the
longer the conversation, the longer each action takes to start (about 0.8 ms at turn 50).

The state those events build is already in the tracker. ``install()``, called once when a server
starts (``bot.services``), has ``copy`` take it over: the events, the slots, the latest message,
action and bot utterance, the follow-up action, the active loop and the pause. What a replay
shares with the original (the event objects, the latest message, the loop's trigger message) is
shared; what a replay makes anew (the slots, the latest action, the active loop) is copied, and
the copy starts from the original's applied events (``bot.dialogue.flat_applied``).

A tracker that dropped its oldest events (``max_event_history``) is still replayed, as Rasa
does: its copy forgets what the dropped events set. ``tests/dialogue/test_flat_copy.py`` proves
every field of the copies equal to Rasa's, after every event of every conversation in tests/,
every rule and random walks with forms, reverts and restarts.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import deque

from rasa.shared.core.trackers import DialogueStateTracker

from bot.dialogue import flat_applied

_REPLAYED_COPY = DialogueStateTracker.copy


def install() -> None:
    """Has every tracker of this process copy its state instead of replaying its events."""
    DialogueStateTracker.copy = _copy


def _copy(self: DialogueStateTracker) -> DialogueStateTracker:
    if self._max_event_history is not None:
        return _REPLAYED_COPY(self)
    tracker = self.init_copy()
    tracker.events = deque(self.events)
    for name, slot in self.slots.items():
        tracker.slots[name] = copy.copy(slot)
    tracker._paused = self._paused
    tracker.followup_action = self.followup_action
    tracker.latest_action = None if self.latest_action is None else dict(self.latest_action)
    tracker.latest_message = self.latest_message
    tracker.latest_bot_utterance = self.latest_bot_utterance
    tracker.active_loop = self.active_loop and dataclasses.replace(self.active_loop)
    flat_applied.carry_over(self, tracker)
    return tracker
