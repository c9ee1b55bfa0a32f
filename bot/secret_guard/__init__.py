"""Finds and hides mnemonics, private keys, keystore files, passwords and codes in user messages.

``find_secrets`` reads one message (``split`` holds the parts of a mnemonic spread over several).

The names below are imported when first used (PEP 562): a process that needs only the cues, as
the NLU's normalisation does for the markers in the action server's help-center search, does not
load the detector, its word lists and its key checks (about 26 MB).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.secret_guard.detector import find_secrets
    from bot.secret_guard.findings import SEVERITY, Finding, SecretKind
    from bot.secret_guard.redaction import marker_kinds, redact

_WHERE = {
    "find_secrets": "bot.secret_guard.detector",
    "SEVERITY": "bot.secret_guard.findings",
    "Finding": "bot.secret_guard.findings",
    "SecretKind": "bot.secret_guard.findings",
    "marker_kinds": "bot.secret_guard.redaction",
    "redact": "bot.secret_guard.redaction",
}
__all__ = ["SEVERITY", "Finding", "SecretKind", "find_secrets", "marker_kinds", "redact"]


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'bot.secret_guard' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
