"""Builds the spaCy pipeline: blank Chinese with a jieba segmenter and a wallet entity ruler.

Run ``python -m bot.nlu.spacy_pipeline models/spacy_zh`` to (re)build it from ``data/``.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jieba
import spacy
import srsly
from spacy.language import Language
from spacy.pipeline import EntityRuler
from spacy.tokens import Doc
from spacy.util import get_words_and_spaces
from spacy.vocab import Vocab

from bot.nlu.amounts import ARABIC_NUMBER, CHINESE_NUMBER, CHINESE_NUMERALS, MAGNITUDE_SUFFIX
from bot.nlu.lexicon import DEFAULT_LEXICON, Lexicon, load_lexicon

logger = logging.getLogger(__name__)

TOKENIZER_NAME = "im_wallet.jieba_tokenizer.v1"
DEFAULT_USER_DICT = Path(__file__).resolve().parents[2] / "data" / "jieba" / "wallet_dict.txt"
FIAT_UNITS = ("块", "块钱", "元", "刀", "美金", "美元", "人民币")

UserWord = tuple[str, "int | None"]


class JiebaSegmenter:
    """spaCy tokenizer backed by a private jieba instance carrying the wallet user dictionary."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self.user_words: list[UserWord] = []
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()

    def add_words(self, words: Iterable[UserWord]) -> None:
        known = {word for word, _ in self.user_words}
        for word, freq in words:
            if word not in known:
                self._jieba.add_word(word, freq)
                self.user_words.append((word, freq))
                known.add(word)

    def __call__(self, text: str) -> Doc:
        words, spaces = get_words_and_spaces(list(self._jieba.cut(text)), text)
        return Doc(self.vocab, words=words, spaces=spaces)

    def to_bytes(self, **_: Any) -> bytes:
        return srsly.json_dumps({"user_words": self.user_words}).encode("utf-8")

    def from_bytes(self, data: bytes, **_: Any) -> JiebaSegmenter:
        self.add_words((word, freq) for word, freq in srsly.json_loads(data)["user_words"])
        return self

    def to_disk(self, path: str | Path, **_: Any) -> None:
        Path(path).write_bytes(self.to_bytes())

    def from_disk(self, path: str | Path, **_: Any) -> JiebaSegmenter:
        return self.from_bytes(Path(path).read_bytes())


@spacy.registry.tokenizers(TOKENIZER_NAME)
def create_jieba_segmenter(segmenter: str = "jieba") -> Any:
    """Registry entry for the tokenizer; ``segmenter`` comes from spaCy's zh config: jieba only."""
    if segmenter != "jieba":
        raise ValueError(f"{TOKENIZER_NAME} only segments with jieba, not {segmenter!r}")

    def make(nlp: Language) -> JiebaSegmenter:
        return JiebaSegmenter(nlp.vocab)

    return make


def read_user_dictionary(path: Path) -> list[UserWord]:
    """Reads a jieba user dictionary ("word [freq] [tag]" per line)."""
    words: list[UserWord] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts:
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            words.append((parts[0], freq))
    return words


def entity_patterns(lexicon: Lexicon) -> list[dict[str, Any]]:
    """Entity ruler patterns: currency and chain synonyms (with their code as id) and amounts."""
    patterns: list[dict[str, Any]] = [
        {"label": label, "pattern": synonym, "id": code}
        for label, table in (("currency", lexicon.currencies), ("chain", lexicon.chains))
        for code, synonyms in table.items()
        for synonym in synonyms
    ]
    currency_words = sorted({s.casefold() for syns in lexicon.currencies.values() for s in syns})
    ascii_currencies = "|".join(re.escape(w) for w in currency_words if w.isascii())
    units = "|".join(map(re.escape, [*lexicon.money_units, *FIAT_UNITS]))
    fiat = "|".join(map(re.escape, FIAT_UNITS))
    # jieba sometimes fuses a number with its unit ("五百块", "一百零五个"): allow the unit inside.
    number = {
        "TEXT": {"REGEX": rf"^({ARABIC_NUMBER}{MAGNITUDE_SUFFIX}?|{CHINESE_NUMBER})({units})?$"}
    }
    # A standalone Chinese numeral is money only with a magnitude ("两千"), not "三十" minutes.
    large_chinese = {"TEXT": {"REGEX": rf"^[{CHINESE_NUMERALS}]*[百千万亿][{CHINESE_NUMERALS}]*$"}}
    magnitude = {"LOWER": {"IN": ["k", "w", "千", "万"]}}
    unit = {"TEXT": {"IN": list(lexicon.money_units)}, "OP": "?"}
    currency = {"LOWER": {"IN": currency_words}}
    amount_shapes: Sequence[list[dict[str, Any]]] = (
        [number, unit, currency],
        [number, magnitude, unit, {**currency, "OP": "?"}],
        [{"TEXT": {"REGEX": rf"(?i)^{ARABIC_NUMBER}{MAGNITUDE_SUFFIX}?({ascii_currencies})$"}}],
        [{"TEXT": {"REGEX": rf"^({ARABIC_NUMBER}{MAGNITUDE_SUFFIX}?|{CHINESE_NUMBER})({fiat})$"}}],
        [number, {"TEXT": {"IN": list(FIAT_UNITS)}}],
        [large_chinese],
    )
    patterns += [{"label": "amount", "pattern": shape} for shape in amount_shapes]
    return patterns


def build_pipeline(lexicon: Lexicon, user_words: Iterable[UserWord]) -> Language:
    """A blank zh pipeline with the jieba segmenter, the wallet dictionary and the entity ruler."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"@tokenizers": TOKENIZER_NAME}}})
    terms = [*lexicon.all_terms(), *lexicon.money_units, *FIAT_UNITS]
    tokenizer: JiebaSegmenter = nlp.tokenizer  # type: ignore[assignment]
    tokenizer.add_words([*user_words, *((term, None) for term in terms)])
    ruler: EntityRuler = nlp.add_pipe(  # type: ignore[assignment]
        "entity_ruler", config={"phrase_matcher_attr": "LOWER", "validate": True}
    )
    ruler.add_patterns(entity_patterns(lexicon))
    return nlp


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output", type=Path, help="directory to write the spaCy pipeline to")
    parser.add_argument("--lexicon", type=Path, default=DEFAULT_LEXICON)
    parser.add_argument("--user-dict", type=Path, default=DEFAULT_USER_DICT)
    args = parser.parse_args(argv)
    nlp = build_pipeline(load_lexicon(args.lexicon), read_user_dictionary(args.user_dict))
    nlp.to_disk(args.output)
    print(f"spaCy pipeline {nlp.pipe_names} written to {args.output}")


if __name__ == "__main__":
    main()
