"""Parses the amounts users type ("500U", "0.5", "1.5w", "两千", "三万五") into Decimals."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

ARABIC_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"
MAGNITUDE_SUFFIX = r"[kKwW千万]"
CHINESE_NUMERALS = "零〇一二两三四五六七八九十百千万亿"
CHINESE_NUMBER = rf"[{CHINESE_NUMERALS}]+"

_ARABIC = re.compile(
    rf"^(?P<number>{ARABIC_NUMBER})(?P<magnitude>{MAGNITUDE_SUFFIX})?(?P<rest>.*)$"
)
_MAGNITUDES = {"k": 1000, "K": 1000, "千": 1000, "w": 10_000, "W": 10_000, "万": 10_000}
_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_LARGE_UNITS = {"万": 10_000, "亿": 100_000_000}


def split_amount(token: str) -> tuple[Decimal, str] | None:
    """Splits "500U" into (500, "U") and "1.5w" into (15000, ""); None if there is no number."""
    match = _ARABIC.match(token)
    if match:
        try:
            value = Decimal(match["number"])
        except InvalidOperation:
            return None
        if match["magnitude"]:
            value *= _MAGNITUDES[match["magnitude"]]
        return value, match["rest"]
    chinese = re.match(rf"^({CHINESE_NUMBER})(.*)$", token)
    if chinese:
        spoken = parse_chinese_number(chinese[1])
        return (spoken, chinese[2]) if spoken is not None else None
    return None


def parse_chinese_number(text: str) -> Decimal | None:
    """Reads a Chinese numeral, including colloquial tails: "一千二" is 1200, "三万五" is 35000."""
    total = 0
    section = 0
    digit: int | None = None
    last_unit = 0
    zero_seen = False
    for char in text:
        if char in "零〇":
            zero_seen = True  # a placeholder: "一百零五" is 105, not 150
        elif char in _DIGITS:
            if digit is not None and _DIGITS[char] != 0:
                return None  # "一二" is not a number
            digit = _DIGITS[char]
        elif char in _SMALL_UNITS:
            unit = _SMALL_UNITS[char]
            section += (1 if digit is None else digit) * unit
            digit, last_unit, zero_seen = None, unit, False
        elif char in _LARGE_UNITS:
            unit = _LARGE_UNITS[char]
            total += (section + (digit or 0)) * unit
            section, digit, last_unit, zero_seen = 0, None, unit, False
        else:
            return None
    if digit:
        # A bare digit right after a unit is a tenth of that unit in speech ("一千二" = 1200).
        colloquial = last_unit >= 10 and not zero_seen
        section += digit * (last_unit // 10 if colloquial else 1)
    value = total + section
    return Decimal(value) if value or text.strip("零〇") == "" else None


def format_amount(value: Decimal) -> str:
    """A plain decimal string without exponent or trailing zeros ("15000", "0.5")."""
    return format(value.normalize(), "f")
