"""Reads a 1–5 satisfaction rating from what the user typed or clicked."""

from __future__ import annotations

import re

from bot.nlu.amounts import parse_chinese_number

_DIGIT = re.compile(r"(?<!\d)([1-5])(?!\d)")
_CHINESE = re.compile(r"[一二两三四五]")


def rating_from(text: str) -> int | None:
    """ "5", "5分", "五星", "给4分吧" -> the rating; None when there is no single 1–5 number."""
    found = _DIGIT.findall(text) or _CHINESE.findall(text)
    if len(set(found)) != 1:
        return None
    value = int(found[0]) if found[0].isdigit() else int(parse_chinese_number(found[0]) or 0)
    return value if 1 <= value <= 5 else None
