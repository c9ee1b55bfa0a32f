"""Finds and hides mnemonics, private keys, keystore files, passwords and codes in user messages.

``find_secrets`` reads one message (``split`` holds the parts of a mnemonic spread over several).
"""

from bot.secret_guard.detector import find_secrets
from bot.secret_guard.findings import SEVERITY, Finding, SecretKind
from bot.secret_guard.redaction import marker_kinds, redact

__all__ = ["SEVERITY", "Finding", "SecretKind", "find_secrets", "marker_kinds", "redact"]
