"""Full-width letters, digits, symbols and spaces folded (NFKC) before detection, with offsets back.

A Chinese IME types ｂｉｒｄ, １２３, ａｂｃ＠１２３ or an ideographic space; NFKC makes them bird,
123, abc@123 and a space, so every detector reads one form. Characters that fold into letters,
digits or a space are folded, and full-width ASCII symbols; but the full-width forms Chinese uses
as sentence punctuation (！，：；？（）) only inside a full-width word: "密码是abc123，…" ends the
password at "，". A folded character may become several (㎏ → kg); each folded position remembers
the original position it came from, so a secret found in the folded text is hidden where the user
typed it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from itertools import chain

# Where compatibility letters and digits live: the BMP (full-width forms, circled and Roman
# numerals, ligatures, compatibility ideographs) but its unified ideographs and Hangul syllables,
# which never fold, and the mathematical alphanumerics.
_RANGES = (
    range(0xA0, 0x3400),
    range(0xA000, 0xAC00),
    range(0xD7A4, 0xD800),
    range(0xE000, 0x10000),
    range(0x1D400, 0x1D800),
)

_FULL_WIDTH_ASCII = range(0xFF01, 0xFF5F)
_SENTENCE_PUNCTUATION = "！，：；？（）"
# Sentence punctuation inside a full-width word: one full-width ASCII character each way.
_INSIDE_WIDE_WORD = re.compile(f"(?<=[\uff01-\uff5e])[{_SENTENCE_PUNCTUATION}](?=[\uff01-\uff5e])")


@dataclass(frozen=True)
class Folded:
    """The folded text and, unless it has the original's offsets, where each character came from."""

    text: str
    origin: tuple[int, ...] | None = None  # origin[i]: original position of text[i]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the folded span ``start:end``."""
        if self.origin is None or start >= end:
            return start, end
        return self.origin[start], self.origin[end - 1] + 1


@cache
def _table() -> dict[int, str]:
    """Every character whose NFKC form differs and is made of letters, digits or a space, and
    the full-width ASCII symbols but sentence punctuation."""
    table = {}
    for code in chain(*_RANGES):
        char = chr(code)
        folded = unicodedata.normalize("NFKC", char)
        if folded != char and (
            folded == " "
            or folded.isalnum()
            or (code in _FULL_WIDTH_ASCII and char not in _SENTENCE_PUNCTUATION)
        ):
            table[code] = folded
    return table


@cache
def _foldable() -> re.Pattern[str]:
    """Any character ``fold`` changes: a quick test before folding."""
    ranges: list[list[int]] = []
    for code in sorted(_table()):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return re.compile(
        "[" + "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges) + "]"
    )


def fold(text: str) -> Folded:
    """``text`` with compatibility letters, digits and spaces folded, and the way back."""
    if text.isascii() or not _foldable().search(text):
        return Folded(text)
    table = _table()
    text = _INSIDE_WIDE_WORD.sub(lambda symbol: chr(ord(symbol.group()) - 0xFEE0), text)
    folded = text.translate(table)
    if len(folded) == len(text):  # every folded character became one
        return Folded(folded)
    origin: list[int] = []
    for position, char in enumerate(text):
        origin.extend([position] * len(table.get(ord(char), char)))
    return Folded(folded, tuple(origin))
