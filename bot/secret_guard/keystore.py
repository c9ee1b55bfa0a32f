"""Ethereum keystore files (JSON v3) pasted into the chat, whole, truncated or reformatted."""

from __future__ import annotations

import re

from bot.secret_guard.findings import Finding, SecretKind

_FIELD = re.compile(
    r"""["']?(?<![A-Za-z])(crypto|ciphertext|cipherparams|cipher|kdfparams|kdf|mac)"""
    r"""(?![A-Za-z])["']?\s*[:：=]""",
    re.IGNORECASE,
)
# Fields that only a keystore has; "cipher" or "mac" alone may be anything.
_DISTINCTIVE = frozenset({"ciphertext", "cipherparams", "kdfparams"})


def find_keystores(text: str) -> list[Finding]:
    """The keystore in ``text``: from its opening brace to the matching one, or to the end."""
    fields = list(_FIELD.finditer(text))
    names = {field.group(1).lower() for field in fields}
    if len(names) < 2 or not names & _DISTINCTIVE:
        return []
    first, last = fields[0].start(), fields[-1].end()
    start = _outermost_open_brace(text, first)
    end = _closing_brace(text, start) if start is not None else None
    if end is None or end < last:
        closing = text.rfind("}", last)
        end = closing + 1 if closing >= 0 else len(text)
    return [Finding(SecretKind.KEYSTORE, first if start is None else start, end)]


def _outermost_open_brace(text: str, limit: int) -> int | None:
    opened: list[int] = []
    for position in range(limit):
        if text[position] == "{":
            opened.append(position)
        elif text[position] == "}" and opened:
            opened.pop()
    return opened[0] if opened else None


def _closing_brace(text: str, start: int) -> int | None:
    depth = 0
    for position in range(start, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return position + 1
    return None
