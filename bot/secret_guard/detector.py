"""Finds every kind of secret in a message and resolves findings that overlap.

Detection reads the message folded to NFKC (full-width letters, digits and spaces as typed by a
Chinese IME); the findings are spans of the message as the user typed it.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.secret_guard.cues import load_cues
from bot.secret_guard.findings import SEVERITY, Finding
from bot.secret_guard.folding import fold
from bot.secret_guard.keys import find_keys
from bot.secret_guard.keystore import find_keystores
from bot.secret_guard.mnemonics import find_mnemonics
from bot.secret_guard.volunteered import find_codes, find_passwords


def find_secrets(text: str) -> list[Finding]:
    """The secrets in a user's message, sorted and not overlapping."""
    cues = load_cues()
    folded = fold(text)
    found = resolve(
        [
            *find_keystores(folded.text),
            *find_keys(folded.text, cues),
            *find_mnemonics(folded.text, cues),
            *find_passwords(folded.text, cues),
            *find_codes(folded.text, cues),
        ]
    )
    if folded.origin is None:
        return found
    return [Finding(f.kind, *folded.span(f.start, f.end), uncertain=f.uncertain) for f in found]


def resolve(findings: Iterable[Finding]) -> list[Finding]:
    """Overlapping findings become one over their union, of the kind of the largest.

    The union, not the largest alone, so that no part of any secret stays visible. It is
    uncertain only if all its parts are: a certain secret there must be hidden anyway.
    """
    groups: list[list[Finding]] = []
    for finding in sorted(findings, key=lambda f: (f.start, f.end)):
        if groups and finding.start < max(f.end for f in groups[-1]):
            groups[-1].append(finding)
        else:
            groups.append([finding])
    return [_joined(group) for group in groups]


def _joined(group: list[Finding]) -> Finding:
    if len(group) == 1:
        return group[0]
    largest = min(group, key=lambda f: (f.start - f.end, f.uncertain, SEVERITY.index(f.kind)))
    return Finding(
        largest.kind,
        min(f.start for f in group),
        max(f.end for f in group),
        uncertain=all(f.uncertain for f in group),
    )
