"""Replaces found secrets by markers, and reads the markers back for the NLU."""

from __future__ import annotations

from collections.abc import Sequence

from bot.secret_guard.cues import load_cues
from bot.secret_guard.findings import SEVERITY, Finding, SecretKind


def redact(text: str, findings: Sequence[Finding]) -> str:
    """``text`` with each finding's span replaced by its kind's marker.

    Spans are clipped to the text; overlapping ones are hidden under one marker, the most severe.
    """
    markers = load_cues().markers
    pieces = []
    shown = 0  # text before this is already copied or hidden
    spans = sorted(
        (max(f.start, 0), min(f.end, len(text)), f.kind) for f in findings if f.start < f.end
    )
    i = 0
    while i < len(spans):
        start, end, kind = spans[i]
        i += 1
        while i < len(spans) and spans[i][0] < end:
            end = max(end, spans[i][1])
            kind = min(kind, spans[i][2], key=SEVERITY.index)
            i += 1
        if start < shown:  # a span clipped away at the start of the text
            start = shown
        if start >= end:
            continue
        pieces += [text[shown:start], markers[kind]]
        shown = end
    pieces.append(text[shown:])
    return "".join(pieces)


def marker_kinds(text: str) -> list[SecretKind]:
    """The kinds whose markers appear in an already redacted text, most severe first."""
    markers = load_cues().markers
    return [kind for kind in SEVERITY if markers[kind] in text]
