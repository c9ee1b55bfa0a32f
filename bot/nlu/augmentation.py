"""Training-data importer that adds seeded variants of the hand-written NLU examples.

Listed under ``importers:`` in config.yml, so ``rasa train`` (and ``rasa train nlu``) derive the
variants from whatever NLU files they are given and nothing generated is committed. Each example
gets at most ``variants_per_example`` variants, each of one kind: traditional script (OpenCC
``s2twp`` or ``s2hk``), one homophone typo, a greeting or emotion wrapper, one word or the whole
message in pinyin (pypinyin), or one word replaced by English or slang. The small tables of typos,
wrappers and slang live in ``data/augmentation/`` (no maintained library covers them).

Variants are deterministic (the generator is seeded from the example's intent and text), only the
text outside annotated entities is changed (entity offsets are recomputed), and a variant equal to
any example already in the data is dropped.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import rasa.shared.utils.common
import yaml
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.dialogue.script import Script, convert_text
from bot.nlu.pinyin_features import toneless_pinyin

logger = logging.getLogger(__name__)

DEFAULT_TABLES = "data/augmentation"
# No variants at all: secret markers must stay verbatim, ratings are a number and a word.
NOT_AUGMENTED = frozenset({"share_secret", "rate"})
# Short social messages: a wrapper or a slang word would change or blur what they say.
SOCIAL = frozenset({"greet", "goodbye", "thank", "affirm", "deny"})
HAN = re.compile(r"[\u4e00-\u9fff]")
SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Segment:
    """A piece of an example's text: plain text, or an annotated entity kept verbatim."""

    text: str
    entity: dict[str, Any] | None = None


Segments = list[Segment]
Transform = Callable[[Segments, random.Random], "Segments | None"]


def split_segments(text: str, entities: Sequence[dict[str, Any]]) -> Segments:
    """The text cut into plain pieces and entity pieces, in order."""
    segments: Segments = []
    position = 0
    for entity in sorted(entities, key=lambda e: int(e["start"])):
        start, end = int(entity["start"]), int(entity["end"])
        if start < position:  # overlapping annotations: keep the text whole, untouched
            return [Segment(text, {"overlap": True})]
        segments.append(Segment(text[position:start]))
        segments.append(Segment(text[start:end], entity))
        position = end
    segments.append(Segment(text[position:]))
    return [segment for segment in segments if segment.text or segment.entity]


def join_segments(segments: Segments) -> tuple[str, list[dict[str, Any]]]:
    """The text and the entities with offsets recomputed for it."""
    text = ""
    entities = []
    for segment in segments:
        if text and segment.text and _latin(text[-1]) and _latin(segment.text[0]):
            text += " "  # a hash or address run into pinyin would no longer be one token
        if segment.entity is not None and "overlap" not in segment.entity:
            entities.append(
                {**segment.entity, "start": len(text), "end": len(text) + len(segment.text)}
            )
        text += segment.text
    return text, entities


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _replace_plain(segments: Segments, index: int, new_text: str) -> Segments:
    return [Segment(new_text) if i == index else s for i, s in enumerate(segments)]


def _plain(segments: Segments) -> list[int]:
    return [i for i, s in enumerate(segments) if s.entity is None and s.text]


class Augmenter:
    """Derives the variants of one example; tables from ``data/augmentation/``."""

    def __init__(self, tables: Path, variants_per_example: int = 2) -> None:
        self.tables = tables
        self.variants_per_example = variants_per_example

    @cached_property
    def _homophones(self) -> dict[str, list[str]]:
        return dict(self._load("homophones.yml")["substitutions"])

    @cached_property
    def _wrappers(self) -> dict[str, list[str]]:
        return dict(self._load("wrappers.yml"))

    @cached_property
    def _slang(self) -> dict[str, list[str]]:
        replacements = self._load("slang.yml")["replacements"]
        # Longest first so 助记词 is found before 记.
        return dict(sorted(replacements.items(), key=lambda item: -len(item[0])))

    def _load(self, name: str) -> dict[str, Any]:
        content = yaml.safe_load((self.tables / name).read_text(encoding="utf-8"))
        return dict(content)

    def kinds(self, intent: str) -> list[tuple[str, Transform, int]]:
        """The kinds of variant that keep ``intent``, with their weights."""
        if intent in NOT_AUGMENTED:
            return []
        kinds: list[tuple[str, Transform, int]] = [("traditional", self.traditional, 3)]
        if intent not in SOCIAL:
            # A short social message typed in pinyin is a handful of letters: the pinyin
            # features cover it, and the variant would only repeat what anyone would type. A
            # homophone in one or two characters makes a word of something else (是的 → 事的),
            # and the classifier would take any short question with it for a yes.
            kinds += [
                ("homophone", self.homophone, 3),
                ("pinyin_word", self.pinyin_word, 1),
                ("pinyin_all", self.pinyin_all, 1),
                ("wrapper", self.wrapper, 3),
                ("slang", self.slang, 2),
            ]
        return kinds

    def variants(
        self, text: str, intent: str, entities: Sequence[dict[str, Any]] = ()
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """Up to ``variants_per_example`` distinct variants of one example, always the same ones."""
        segments = split_segments(text, entities)
        if not _plain(segments):
            return []
        digest = hashlib.sha256(f"{intent}\x00{text}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        kinds = self.kinds(intent)
        order: list[Transform] = []
        pool = list(kinds)
        while pool:  # weighted order without replacement
            choice = rng.choices(range(len(pool)), weights=[w for _, _, w in pool])[0]
            order.append(pool.pop(choice)[1])
        results: list[tuple[str, list[dict[str, Any]]]] = []
        seen = {text}
        for transform in order:
            if len(results) >= self.variants_per_example:
                break
            changed = transform(segments, rng)
            if changed is None:
                continue
            variant, variant_entities = join_segments(changed)
            lead = len(variant) - len(variant.lstrip())
            variant = variant.strip()
            for entity in variant_entities:
                entity["start"] -= lead
                entity["end"] -= lead
            if variant and variant not in seen and len(variant_entities) == len(entities):
                seen.add(variant)
                results.append((variant, variant_entities))
        return results

    def traditional(self, segments: Segments, rng: random.Random) -> Segments | None:
        """The whole message in traditional script, Taiwan or Hong Kong variants."""
        script = rng.choice([Script.TRADITIONAL_TW, Script.TRADITIONAL_HK])
        return [Segment(convert_text(s.text, script)) if s.entity is None else s for s in segments]

    def homophone(self, segments: Segments, rng: random.Random) -> Segments | None:
        """One character replaced by a homophone users type by mistake."""
        places = [
            (i, j)
            for i in _plain(segments)
            for j, char in enumerate(segments[i].text)
            if char in self._homophones
        ]
        if not places:
            return None
        i, j = rng.choice(places)
        text = segments[i].text
        wrong = rng.choice(self._homophones[text[j]])
        return _replace_plain(segments, i, text[:j] + wrong + text[j + 1 :])

    def wrapper(self, segments: Segments, rng: random.Random) -> Segments | None:
        """A greeting before or an emotion or thanks after the message."""
        if rng.random() < 0.5:
            return [Segment(rng.choice(self._wrappers["prefixes"])), *segments]
        last = segments[-1].text.rstrip("。？?！!，, ")
        suffix = Segment(rng.choice(self._wrappers["suffixes"]))
        if segments[-1].entity is None:
            return [*segments[:-1], Segment(last), suffix]
        return [*segments, suffix]

    def slang(self, segments: Segments, rng: random.Random) -> Segments | None:
        """One word replaced by the English or slang word users mix in."""
        found = [
            (i, word) for i in _plain(segments) for word in self._slang if word in segments[i].text
        ]
        if not found:
            return None
        i, word = rng.choice(found)
        replacement = rng.choice(self._slang[word])
        text = segments[i].text
        if replacement.isascii():
            replacement = f" {replacement} "
        new = SPACES.sub(" ", text.replace(word, replacement, 1)).strip()
        return _replace_plain(segments, i, new)

    def pinyin_word(self, segments: Segments, rng: random.Random) -> Segments | None:
        """One Chinese word typed in pinyin."""
        words = [
            (i, k, word)
            for i in _plain(segments)
            for k, word in enumerate(_words(segments[i].text))
            if len(word) >= 2 and all(HAN.match(char) for char in word)
        ]
        if not words:
            return None
        i, k, word = rng.choice(words)
        tokens = _words(segments[i].text)
        tokens[k] = toneless_pinyin(word)
        return _replace_plain(segments, i, "".join(tokens))

    def pinyin_all(self, segments: Segments, rng: random.Random) -> Segments | None:
        """The whole message in pinyin, a word at a time, as typed without the input method."""
        if not any(HAN.search(segments[i].text) for i in _plain(segments)):
            return None
        out: Segments = []
        for segment in segments:
            if segment.entity is not None:
                out.append(segment)
                continue
            out.append(
                Segment(
                    _spaced(
                        toneless_pinyin(w) if HAN.search(w) else w for w in _words(segment.text)
                    )
                )
            )
        return out


def _words(text: str) -> list[str]:
    import jieba

    return list(jieba.lcut(text))


def _spaced(tokens: Iterable[str]) -> str:
    """Tokens joined as typed on a Latin keyboard: spaces between words, not around punctuation."""
    text = ""
    for token in tokens:
        token = unicodedata.normalize("NFKC", token).strip()
        if not token:
            continue
        if text and text[-1].isalnum() and token[0].isalnum():
            text += " "
        text += token
    return text


def derive_variants(data: TrainingData, augmenter: Augmenter) -> list[Message]:
    """The variants of ``data``'s intent examples, none equal to a text already in it."""
    existing = {message.get(TEXT) for message in data.training_examples}
    added: list[Message] = []
    for message in data.intent_examples:
        intent = message.get(INTENT)
        for text, entities in augmenter.variants(
            message.get(TEXT), intent, message.get(ENTITIES) or []
        ):
            if text in existing:
                continue
            existing.add(text)
            added.append(Message.build(text, intent, entities or None))
    return added


def augment(data: TrainingData, augmenter: Augmenter) -> TrainingData:
    """``data`` with the variants of its intent examples added."""
    added = derive_variants(data, augmenter)
    logger.info(
        "NLU augmentation: %d variants of %d examples", len(added), len(data.intent_examples)
    )
    return data.merge(TrainingData(training_examples=added))


ARTICLES_FOLDER = "help_center"


def help_center_data(directories: Iterable[Path], taken: Collection[str] = ()) -> TrainingData:
    """The ``help_center`` intent's examples, from the articles in ``directories``; a text
    already an example of another intent (``taken``) stays that intent's."""
    # Imported here: the help center's package imports the NLU's normalisation.
    from bot.help_center.articles import load_directory
    from bot.help_center.routing import HELP_CENTER_INTENT
    from bot.help_center.training import help_center_examples

    articles = [article for directory in directories for article in load_directory(directory)]
    texts = [text for text in help_center_examples(articles) if text not in taken]
    return TrainingData(training_examples=[Message.build(t, HELP_CENTER_INTENT) for t in texts])


class AugmentingImporter(RasaFileImporter):
    """The project's files, as Rasa reads them, plus seeded variants of the NLU examples."""

    def __init__(
        self,
        config_file: str | None = None,
        domain_path: str | None = None,
        training_data_paths: list[str] | str | None = None,
        tables: str = DEFAULT_TABLES,
        variants_per_example: int = 2,
    ) -> None:
        super().__init__(config_file, domain_path, training_data_paths)
        given = (
            [training_data_paths] if isinstance(training_data_paths, str) else training_data_paths
        )
        # The articles of a training data folder given (data/ → data/help_center/).
        self.article_dirs = [
            Path(folder) / ARTICLES_FOLDER
            for folder in given or []
            if (Path(folder) / ARTICLES_FOLDER).is_dir()
        ]
        path = Path(tables)
        if not path.is_absolute() and config_file:
            path = Path(config_file).resolve().parent / path
        self.augmenter = Augmenter(path, variants_per_example)

    @rasa.shared.utils.common.cached_method
    def get_nlu_data(self, language: str | None = "en") -> TrainingData:
        """The NLU files' examples, the help center's from the articles of the folders given
        (``bot.help_center.training``), and their variants (derived once: Rasa asks several
        times)."""
        data = super().get_nlu_data(language)
        taken = {message.get(TEXT) for message in data.intent_examples}
        data = data.merge(help_center_data(self.article_dirs, taken))
        return augment(data, self.augmenter)
