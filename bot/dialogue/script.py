"""The Chinese script a user writes in, and the assistant's responses converted into it.

A user who writes traditional Chinese reads the responses in traditional: the Hong Kong variant
(OpenCC ``s2hk``) when the message has Cantonese markers, else the Taiwan one with its phrases
(``s2twp``: 软件 -> 軟體). The script is read from the user's latest message that tells the two
apart (it changes under ``t2s``, or under ``s2t``); a message that reads the same in both ("1",
"好", a button payload) keeps the script already seen. Only responses are converted, never button
payloads, and never what a human agent writes.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import opencc

# Characters only written Cantonese uses (a subset of data/normalisation/cantonese.tsv).
_CANTONESE = re.compile("[咗冇係嘅唔喺佢啲嘢咩乜睇攞畀哋嗰嚟搵揾啱咁]")
_HAN = re.compile("[\u3400-\u9fff]")
_LOOK_BACK = 20  # user messages; the script is not worth reading a long history for


class Script(enum.Enum):
    """How a user writes Chinese."""

    SIMPLIFIED = "zh-Hans"
    TRADITIONAL_HK = "zh-Hant-HK"
    TRADITIONAL_TW = "zh-Hant-TW"


def script_of(text: str) -> Script | None:
    """The script of one message, or None when it reads the same in both."""
    if not _HAN.search(text):
        return None
    if _converter("t2s").convert(text) != text:
        return Script.TRADITIONAL_HK if _CANTONESE.search(text) else Script.TRADITIONAL_TW
    if _converter("s2t").convert(text) != text:
        return Script.SIMPLIFIED
    return None


def latest_script(user_texts: Iterable[str]) -> Script:
    """The script of the latest message that tells, newest first; simplified if none does."""
    for count, text in enumerate(user_texts):
        if count >= _LOOK_BACK:
            break
        script = script_of(text)
        if script is not None:
            return script
    return Script.SIMPLIFIED


def convert_text(text: str, script: Script) -> str:
    """``text`` (simplified, as written in domain.yml) in ``script``."""
    if script is Script.SIMPLIFIED or not text:
        return text
    return _converter("s2hk" if script is Script.TRADITIONAL_HK else "s2twp").convert(text)


def convert_response(message: dict[str, Any], script: Script) -> dict[str, Any]:
    """A rendered response with its text, button titles and evidence card's words in ``script``;
    payloads and the card's values unchanged."""
    if script is Script.SIMPLIFIED:
        return message
    converted = dict(message)
    if isinstance(message.get("text"), str):
        converted["text"] = convert_text(message["text"], script)
    for key in ("buttons", "quick_replies"):
        if isinstance(message.get(key), list):
            converted[key] = [
                {**button, "title": convert_text(button["title"], script)}
                if isinstance(button, dict) and isinstance(button.get("title"), str)
                else button
                for button in message[key]
            ]
    custom = message.get("custom")
    if isinstance(custom, dict) and isinstance(custom.get("evidence_card"), dict):
        converted["custom"] = {
            **custom,
            "evidence_card": _convert_card(custom["evidence_card"], script),
        }
    return converted


def _convert_card(card: dict[str, Any], script: Script) -> dict[str, Any]:
    """The card's title, button words and row labels in ``script``; its values as they are."""
    words: dict[str, Any] = {
        key: convert_text(card[key], script)
        for key in ("title", "copy_label", "copied_label")
        if isinstance(card.get(key), str)
    }
    fields = card.get("fields")
    if isinstance(fields, list):
        words["fields"] = [
            {**row, "label": convert_text(row["label"], script)}
            if isinstance(row, dict) and isinstance(row.get("label"), str)
            else row
            for row in fields
        ]
    return {**card, **words}


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)
