"""The markers and cue words of the secret guard, read once from ``data/secret_guard.yml``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.secret_guard.findings import SecretKind

DEFAULT_CUES = Path(__file__).resolve().parents[2] / "data" / "secret_guard.yml"


@dataclass(frozen=True)
class Cues:
    """Markers by kind and one compiled pattern per list of cue words."""

    markers: dict[SecretKind, str]
    mnemonic_names: re.Pattern[str]
    mnemonic_context: re.Pattern[str]
    key_words: re.Pattern[str]
    hash_words: re.Pattern[str]
    password_cues: re.Pattern[str]
    password_connectors: re.Pattern[str]
    password_reverse_connectors: re.Pattern[str]
    code_cues: re.Pattern[str]
    code_connectors: re.Pattern[str]
    code_reverse_connectors: re.Pattern[str]
    code_not_after: re.Pattern[str]
    quantity_units: re.Pattern[str]


def phrases(words: Iterable[str]) -> re.Pattern[str]:
    """One case-insensitive pattern for ``words``, longest first, Latin words whole."""
    parts = []
    for word in sorted({str(w) for w in words}, key=len, reverse=True):
        body = r"[\s_-]?".join(re.escape(piece) for piece in word.split())
        before = r"(?<![A-Za-z])" if word[:1].isascii() and word[:1].isalpha() else ""
        after = r"(?![A-Za-z])" if word[-1:].isascii() and word[-1:].isalpha() else ""
        parts.append(f"{before}{body}{after}")
    return re.compile("|".join(parts) or r"(?!)", re.IGNORECASE)


@lru_cache(maxsize=1)
def load_cues(path: Path = DEFAULT_CUES) -> Cues:
    """Reads the cue file; cached, since every message needs it."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    mnemonic, key, password, code = (
        raw["mnemonic"],
        raw["private_key"],
        raw["password"],
        raw["verification_code"],
    )
    return Cues(
        markers={SecretKind(kind): str(marker) for kind, marker in raw["markers"].items()},
        mnemonic_names=phrases(mnemonic["names"]),
        mnemonic_context=phrases([*mnemonic["names"], *mnemonic["context"]]),
        key_words=phrases(key["key_words"]),
        hash_words=phrases(key["hash_words"]),
        password_cues=phrases(password["cues"]),
        password_connectors=phrases(password["connectors"]),
        password_reverse_connectors=phrases(password["reverse_connectors"]),
        code_cues=phrases(code["cues"]),
        code_connectors=phrases(code["connectors"]),
        code_reverse_connectors=phrases(code["reverse_connectors"]),
        code_not_after=phrases(code["not_after"]),
        quantity_units=phrases(raw["quantity_units"]),
    )
