"""The lexicon: currency and chain synonyms, the words that mark an amount of money, and the
help-center search's terms (what users type for the words the articles use)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_LEXICON = Path(__file__).resolve().parents[2] / "data" / "lexicon.yml"


@dataclass(frozen=True)
class Lexicon:
    """Synonym tables keyed by the normalised value (``{"ETH": ("以太坊", ...)}``)."""

    currencies: dict[str, tuple[str, ...]]
    chains: dict[str, tuple[str, ...]]
    money_units: tuple[str, ...]
    terms: dict[str, tuple[str, ...]]  # the help-center search's word -> what users type

    def all_terms(self) -> list[str]:
        """Every synonym, for the tokenizer's user dictionary."""
        terms = [
            t for table in (self.currencies, self.chains) for syns in table.values() for t in syns
        ]
        return sorted(set(terms))


def load_lexicon(path: Path = DEFAULT_LEXICON) -> Lexicon:
    """Reads the lexicon YAML file; every code is also a synonym of itself."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))

    def table(key: str) -> dict[str, tuple[str, ...]]:
        return {
            code: tuple(dict.fromkeys([code, *map(str, synonyms)]))
            for code, synonyms in raw[key].items()
        }

    return Lexicon(
        currencies=table("currency"),
        chains=table("chain"),
        money_units=tuple(raw["money_units"]),
        terms={word: tuple(map(str, typed)) for word, typed in (raw.get("terms") or {}).items()},
    )
