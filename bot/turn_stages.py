"""Times Rasa's stages of a turn for ``im_turn_stage_seconds``: lock, NLU, policies, action, save.

``install`` (called by the server's start, ``bot.services.start_services``) wraps, once, the
methods of Rasa's classes that each stage runs in, whatever is installed there already:

- ``lock``: ``LockStore.lock``, taking the conversation's lock (waiting for an earlier message
  of the conversation included) and releasing it; not the turn it guards.
- ``nlu``: ``MessageProcessor.parse_message``.
- ``policies``: ``MessageProcessor.predict_next_with_tracker_if_should``, once per predicted
  action: the policies and Rasa's check of the action limit (both read the whole session).
- ``action``: ``RemoteAction.run``, a call to the action server (a custom action, a form's
  validation, a custom slot mapping) with its answer checked and rendered. Actions Rasa runs
  itself (a domain response, ``action_listen``) are not timed.
- ``store_save``: ``MessageProcessor.save_tracker``.

What a turn does besides (reading the tracker, Rasa's bookkeeping, sending the replies) is in
``im_reply_latency_seconds`` only. A measurement costs two ``perf_counter`` calls and a lock.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from rasa.core.actions.action import RemoteAction
from rasa.core.lock_store import LockStore
from rasa.core.processor import MessageProcessor

from bot.channels.metrics import ACTION, LOCK, NLU, POLICIES, REGISTRY, STORE_SAVE, Registry

T = TypeVar("T")
# Set on a wrapper, so that a second install leaves it as it is.
STAGE_ATTRIBUTE = "_im_turn_stage"


def timed_coroutine(
    stage: str, method: Callable[..., Awaitable[T]], registry: Registry = REGISTRY
) -> Callable[..., Awaitable[T]]:
    """``method`` (async), each call recorded as a run of ``stage``."""

    @functools.wraps(method)
    async def timed(*args: Any, **kwargs: Any) -> T:
        with registry.timed(stage):
            return await method(*args, **kwargs)

    return timed


def timed_function(
    stage: str, method: Callable[..., T], registry: Registry = REGISTRY
) -> Callable[..., T]:
    """``method``, each call recorded as a run of ``stage``."""

    @functools.wraps(method)
    def timed(*args: Any, **kwargs: Any) -> T:
        with registry.timed(stage):
            return method(*args, **kwargs)

    return timed


def timed_lock(
    lock: Callable[..., AbstractAsyncContextManager[T]], registry: Registry = REGISTRY
) -> Callable[..., AbstractAsyncContextManager[T]]:
    """``lock`` (an async context manager), taking and releasing recorded as one ``lock`` run."""

    @functools.wraps(lock)
    @asynccontextmanager
    async def timed(*args: Any, **kwargs: Any) -> AsyncIterator[T]:
        started = time.perf_counter()
        held = 0.0
        try:
            async with lock(*args, **kwargs) as acquired:
                entered = time.perf_counter()
                try:
                    yield acquired
                finally:
                    held = time.perf_counter() - entered
        finally:
            registry.record_stage(LOCK, time.perf_counter() - started - held)

    return timed


def _wrap(owner: type, name: str, wrap: Callable[[Any], Any]) -> None:
    current = owner.__dict__[name]
    if getattr(current, STAGE_ATTRIBUTE, False):
        return
    wrapper = wrap(current)
    setattr(wrapper, STAGE_ATTRIBUTE, True)
    setattr(owner, name, wrapper)


def install() -> None:
    """Times Rasa's stages from now on, in every agent of this process; idempotent."""
    _wrap(LockStore, "lock", timed_lock)
    _wrap(MessageProcessor, "parse_message", functools.partial(timed_coroutine, NLU))
    _wrap(
        MessageProcessor,
        "predict_next_with_tracker_if_should",
        functools.partial(timed_function, POLICIES),
    )
    _wrap(RemoteAction, "run", functools.partial(timed_coroutine, ACTION))
    _wrap(MessageProcessor, "save_tracker", functools.partial(timed_coroutine, STORE_SAVE))
