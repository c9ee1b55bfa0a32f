"""A typed answer to the assistant's own buttons, in every channel: "2" or a button's title.

A user who answers the buttons just shown by typing (the second option's number, or its title)
means that button: the message becomes the button's payload before the NLU sees it. Numbers
count the buttons of the bot's messages since the user's last message, in order, as WeChat lists
them ("1. …"); where titles start with a number themselves ("5分 非常满意"), a number means the
title that starts with it. Anything else is left as typed.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from rasa.core.agent import Agent
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracking import peek_tracker

logger = logging.getLogger(__name__)

# Longer text is a message of its own, never a button's title or number.
MAX_BUTTON_ANSWER = 32
DIGITS = tuple("0123456789")


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def numbered(buttons: Iterable[Mapping[str, Any]]) -> bool:
    """Whether to number buttons: not when titles start with a number themselves ("5分"),
    where a user answering "5" means the title, not the fifth line."""
    return not any(_clean(str(b.get("title", ""))).startswith(DIGITS) for b in buttons)


def chosen_payload(text: str, buttons: list[dict[str, Any]]) -> str | None:
    """The payload of the button a typed answer picks: its title, or its number in the list."""
    choice = _clean(text).rstrip(".、。")
    picked = [b for b in buttons if _clean(str(b.get("title", ""))).casefold() == choice.casefold()]
    if not picked and choice.isascii() and choice.isdigit():
        if numbered(buttons):
            index = int(choice)
            picked = [buttons[index - 1]] if 1 <= index <= len(buttons) else []
        else:
            leading = re.compile(rf"{choice}(?!\d)")
            picked = [b for b in buttons if leading.match(_clean(str(b.get("title", ""))))]
    payload = picked[0].get("payload") if len(picked) == 1 else None
    return payload if isinstance(payload, str) and payload else None


def offered_buttons(tracker: DialogueStateTracker) -> list[dict[str, Any]]:
    """The buttons shown since the user's last message, in the order they were shown."""
    offered: list[list[dict[str, Any]]] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered) and event.data.get("buttons"):
            offered.append(list(event.data["buttons"]))
    return [button for buttons in reversed(offered) for button in buttons]


async def button_choice(agent: Agent, sender_id: str, text: str) -> str:
    """``text``, or the payload of the offered button it picks."""
    if len(text) > MAX_BUTTON_ANSWER:
        return text
    # A peek: the hot tracker (one indexed query), and the turn does not read it again.
    tracker = await peek_tracker(agent, sender_id)
    buttons = offered_buttons(tracker) if tracker is not None else []
    payload = chosen_payload(text, buttons) if buttons else None
    if payload is None:
        return text
    logger.info("typed answer picked a button in conversation %s", sender_id)
    return payload
