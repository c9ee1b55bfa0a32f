"""Normalises the Chinese text users type into the one form the NLU was trained on.

Steps, in order: NFKC (full-width letters, digits, punctuation and the ideographic space become
half-width); common written Cantonese words become Mandarin (a table in
``data/normalisation/cantonese.tsv``: no maintained library maps Cantonese to Mandarin, and it
must run before OpenCC, which would turn 係 into 系); traditional becomes simplified with OpenCC
(``hk2t`` for Hong Kong variant characters, then ``tw2sp`` for Taiwan variants and phrases, so
登入 → 登录, 軟體 → 软件, 網路 → 网络); spaces between Chinese characters are removed
("转 账 没 到"), other runs of spaces become one; repeated punctuation and repeated emoji become
one.

Every normalised character remembers the span of the original text it came from, so entities
found in the normalised text can be given offsets into what the user typed. The secret markers
the channel intake puts in place of a secret (``[已隐藏的助记词]``) are copied unchanged.
"""

from __future__ import annotations

import bisect
import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import opencc

from bot.secret_guard.cues import load_cues

CANTONESE_TABLE = Path(__file__).resolve().parents[2] / "data" / "normalisation" / "cantonese.tsv"

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_TEXT = rf"[{_HAN}\u3000-\u303f\uff00-\uffef]"
_SPACES_IN_CHINESE = re.compile(rf"(?<={_CJK_TEXT})\s+(?={_CJK_TEXT})")
_SPACE_RUN = re.compile(r"\s{2,}|[^\S ]")
_REPEATED_PUNCTUATION = re.compile(r"([!?,.~。，、？！…；;:：～·])\1+")
_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2190-\u21ff\u3297\u3299"
_REPEATED_EMOJI = re.compile(
    rf"([{_EMOJI}]\ufe0f?(?:\U0001f3fb|\U0001f3fc|\U0001f3fd|\U0001f3fe|\U0001f3ff)?)\1+"
)

Span = tuple[int, int]
Replacement = Callable[[re.Match[str]], str]


@dataclass(frozen=True)
class Normalised:
    """A normalised text, the original it came from and where each of its characters came from."""

    text: str
    original: str
    origin: tuple[Span, ...]  # origin[i]: the span of ``original`` that ``text[i]`` came from

    def original_span(self, start: int, end: int) -> Span:
        """The span of the original text behind ``text[start:end]``."""
        if not self.origin or end <= start:
            anchor = self.origin[min(start, len(self.origin) - 1)][0] if self.origin else 0
            return anchor, anchor
        start = min(max(start, 0), len(self.origin) - 1)
        end = min(max(end, start + 1), len(self.origin))
        return self.origin[start][0], self.origin[end - 1][1]

    def normalised_span(self, start: int, end: int) -> Span:
        """The span of ``text`` that came from ``original[start:end]`` (for annotated examples)."""
        ends = [span[1] for span in self.origin]
        starts = [span[0] for span in self.origin]
        first = bisect.bisect_right(ends, start)
        last = bisect.bisect_left(starts, end)
        return (first, max(first, last))


def normalise(text: str) -> Normalised:
    """``text`` normalised, secret markers kept as they are."""
    pieces: list[tuple[str, list[Span]]] = []
    shown = 0
    for marker in _marker_pattern().finditer(text):
        pieces.append(_normalise_piece(text[shown : marker.start()], shown))
        pieces.append((marker.group(), [(i, i + 1) for i in range(marker.start(), marker.end())]))
        shown = marker.end()
    pieces.append(_normalise_piece(text[shown:], shown))
    joined, origin = _strip("".join(p[0] for p in pieces), [s for p in pieces for s in p[1]])
    return Normalised(joined, text, tuple(origin))


def _normalise_piece(text: str, offset: int) -> tuple[str, list[Span]]:
    origin = [(offset + i, offset + i + 1) for i in range(len(text))]
    if not text:
        return text, origin
    text, origin = _nfkc(text, origin)
    if not text.isascii():
        text, origin = _substitute(text, origin, _cantonese()[0], _cantonese()[1])
        text, origin = _opencc(text, origin)
        text, origin = _substitute(text, origin, _SPACES_IN_CHINESE, lambda _: "")
        text, origin = _substitute(text, origin, _REPEATED_EMOJI, lambda m: m.group(1))
    text, origin = _substitute(text, origin, _SPACE_RUN, lambda _: " ")
    text, origin = _substitute(text, origin, _REPEATED_PUNCTUATION, lambda m: m.group(1))
    return text, origin


def _nfkc(text: str, origin: list[Span]) -> tuple[str, list[Span]]:
    if unicodedata.is_normalized("NFKC", text):
        return text, origin
    chars: list[str] = []
    spans: list[Span] = []
    for char, span in zip(text, origin, strict=True):
        folded = unicodedata.normalize("NFKC", char)
        chars.append(folded)
        spans += [span] * len(folded)
    return "".join(chars), spans


def _substitute(
    text: str, origin: list[Span], pattern: re.Pattern[str], replace: Replacement
) -> tuple[str, list[Span]]:
    """``pattern.sub`` that keeps, for each output character, the span it came from."""
    matches = list(pattern.finditer(text))
    if not matches:
        return text, origin
    chars: list[str] = []
    spans: list[Span] = []
    shown = 0
    for match in matches:
        chars.append(text[shown : match.start()])
        spans += origin[shown : match.start()]
        new = replace(match)
        if match.end() > match.start():
            whole = (origin[match.start()][0], origin[match.end() - 1][1])
            if new == match.group()[: len(new)]:  # a shortened run keeps its first characters
                spans += origin[match.start() : match.start() + len(new)]
            else:
                spans += [whole] * len(new)
            chars.append(new)
        shown = match.end()
    chars.append(text[shown:])
    spans += origin[shown:]
    return "".join(chars), spans


def _opencc(text: str, origin: list[Span]) -> tuple[str, list[Span]]:
    hk2t, tw2sp = _converters()
    converted = tw2sp.convert(hk2t.convert(text))
    if converted == text:
        return text, origin
    if len(converted) == len(text):
        return converted, origin
    # A phrase changed length (部落格 -> 博客): align with the text converted character by
    # character, which keeps the length, so only the changed phrase shares one span.
    by_char = [tw2sp.convert(hk2t.convert(char)) for char in text]
    reference = "".join(by_char) if all(len(c) == 1 for c in by_char) else text
    spans: list[Span] = []
    matcher = difflib.SequenceMatcher(None, reference, converted, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            spans += origin[i1:i2]
        elif j2 > j1:
            if i2 > i1:
                whole = (origin[i1][0], origin[i2 - 1][1])
            else:  # an inserted character: attach it to its neighbour
                neighbour = origin[i1 - 1] if i1 > 0 else origin[0]
                whole = neighbour
            if i2 - i1 == j2 - j1:
                spans += origin[i1:i2]
            else:
                spans += [whole] * (j2 - j1)
    return converted, spans


def _strip(text: str, origin: list[Span]) -> tuple[str, list[Span]]:
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    return text[start:end], origin[start:end]


@cache
def _converters() -> tuple[opencc.OpenCC, opencc.OpenCC]:
    return opencc.OpenCC("hk2t"), opencc.OpenCC("tw2sp")


@cache
def _cantonese() -> tuple[re.Pattern[str], Replacement]:
    """The Cantonese words as one pattern (longest first) and the function giving Mandarin."""
    words: dict[str, str] = {}
    alternatives: list[tuple[str, str]] = []
    for line in CANTONESE_TABLE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cantonese, mandarin, *flags = line.split("\t")
        words[cantonese] = mandarin
        lookahead = f"(?=[{_HAN}])" if "before_han" in flags else ""
        alternatives.append((cantonese, re.escape(cantonese) + lookahead))
    alternatives.sort(key=lambda item: len(item[0]), reverse=True)
    pattern = re.compile("|".join(regex for _, regex in alternatives))
    return pattern, lambda match: words[match.group()]


@cache
def _marker_pattern() -> re.Pattern[str]:
    markers = sorted(load_cues().markers.values(), key=len, reverse=True)
    return re.compile("|".join(re.escape(marker) for marker in markers))
