"""BIP39 mnemonics in a message: English words, or Chinese characters (simplified or traditional).

English words are checked with the checksum. Chinese needs more, since almost every common
character is a BIP39 word and one 12-character run in 16 passes the checksum by chance: a run
counts only when it also does not read like Chinese (see ``chinese_text``).

A mnemonic typed with a mistake is still one. 11 list words or more in a run, with at most one
unknown or misspelt word among them (or one word missing), are hidden when they are most of the
message's Latin words or the message names a mnemonic; a misspelt word (one or two edits from a
list word) at either end is hidden with them. Chinese characters set apart one by one count
from 11 on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from mnemonic import Mnemonic

from bot.secret_guard.chinese_text import log_probability_per_character
from bot.secret_guard.cues import Cues
from bot.secret_guard.findings import Finding, SecretKind

VALID_LENGTHS = (12, 15, 18, 21, 24)
SHORTEST = VALID_LENGTHS[0]
# List words in a run from which it is taken for a mistyped mnemonic: 11 of 12, or 11 and one
# unknown or misspelt word.
NEAR_SHORTEST = SHORTEST - 1
# Edits (insertions, deletions, substitutions) that make a word a misspelt list word.
MISSPELT_EDITS = 2
# Repeated words a mistyped mnemonic may hold: a random 24-word one has more than three 8 times
# in a million.
MAX_REPEATS = 3
# A run of English list words without a valid checksum is taken for a mistyped mnemonic when it is
# this share of the message's Latin words; no run of 12 list words occurs in English prose.
MISTYPED_SHARE = 0.8
# A contiguous run of Chinese characters must be this share of the message's Chinese characters
# (words that usually surround a pasted mnemonic not counted) unless the message names a mnemonic.
CONTIGUOUS_SHARE = 0.6
# Log-probability per character at or below which characters do not read like Chinese. Measured
# with scripts/evaluate_secret_guard.py: no 12-24 character run of the project's sentences and
# responses scores below -7.45; generated mnemonics score -9.8 on average, and 5 in 100,000
# 12-word ones score above -7.8 (32 above -8.0).
UNLIKE_CHINESE = -7.8
# Windows around one real mnemonic are a handful; a cluster larger than this is a long text of
# random characters, hidden whole without comparing every pair of windows.
MAX_REFINED_CLUSTER = 64
CHINESE_LISTS = ("chinese_simplified", "chinese_traditional")
LATIN_WORD = re.compile(r"[A-Za-z]+")
COLON = "[:：]"
_COLON = re.compile(COLON)


@dataclass(frozen=True)
class Wordlist:
    """A BIP39 word list: each word's index, and each word in simplified script for jieba."""

    index: dict[str, int]
    simplified: dict[str, str]


@cache
def wordlist(language: str) -> Wordlist:
    """The word list of ``language`` as the ``mnemonic`` package ships it."""
    words = Mnemonic(language).wordlist
    # The Chinese lists are in the same order, so a traditional word maps to its simplified twin.
    twins = Mnemonic("chinese_simplified").wordlist if language in CHINESE_LISTS else words
    return Wordlist(
        index={word: i for i, word in enumerate(words)},
        simplified=dict(zip(words, twins, strict=True)),
    )


def checksum_ok(indices: Sequence[int]) -> bool:
    """Whether word indices of a valid length end with the checksum of the entropy they carry."""
    bits = 0
    for index in indices:
        bits = bits << 11 | index
    checksum_bits = len(indices) // 3
    entropy = (bits >> checksum_bits).to_bytes(len(indices) * 32 // 24, "big")
    expected = hashlib.sha256(entropy).digest()[0] >> (8 - checksum_bits)
    return expected == bits & ((1 << checksum_bits) - 1)


def has_valid_window(indices: Sequence[int]) -> bool:
    """Whether some stretch of a valid length inside ``indices`` passes the checksum."""
    return any(
        checksum_ok(indices[start : start + length])
        for length in VALID_LENGTHS
        for start in range(len(indices) - length + 1)
    )


def find_mnemonics(text: str, cues: Cues) -> list[Finding]:
    """English and Chinese mnemonics in ``text``; overlapping Chinese windows are merged."""
    return [*_english(text, cues), *_chinese(text, cues)]


def _english(text: str, cues: Cues) -> Iterator[Finding]:
    tokens = list(LATIN_WORD.finditer(text))
    if len(tokens) < NEAR_SHORTEST:
        return
    named: bool | None = None
    for candidate in _english_candidates(text, tokens):
        if has_valid_window(candidate.indices):
            yield Finding(SecretKind.MNEMONIC, candidate.start, candidate.end)
            continue
        if len(candidate.indices) - len(set(candidate.indices)) > MAX_REPEATS:
            continue  # random words rarely repeat; a list of things or code often does
        if candidate.tokens < MISTYPED_SHARE * len(tokens) and named is None:
            named = cues.mnemonic_names.search(text) is not None
        if candidate.tokens >= MISTYPED_SHARE * len(tokens) or named:
            yield Finding(SecretKind.MNEMONIC, candidate.start, candidate.end)


@dataclass(frozen=True)
class _Candidate:
    """List words in a run, maybe with one unknown word among them, and their span."""

    start: int
    end: int
    indices: list[int]
    tokens: int  # words in the span, list words or not


def _english_candidates(text: str, tokens: list[re.Match[str]]) -> Iterator[_Candidate]:
    """Runs of 11 list words or more, and two runs that one other word joins into 11 or more.

    Words are in one run when only digits, spaces and punctuation stand between them.
    """
    index = wordlist("english").index
    segment: list[re.Match[str]] = []
    for token in [*tokens, None]:
        if segment and (token is None or _has_letter(text, segment[-1].end(), token.start())):
            yield from _segment_candidates(segment, [index.get(t.group().lower()) for t in segment])
            segment = []
        if token is not None:
            segment.append(token)


def _segment_candidates(
    segment: list[re.Match[str]], words: list[int | None]
) -> Iterator[_Candidate]:
    runs: list[tuple[int, int]] = []  # [first, last) of list words in a row
    for position, word in enumerate(words):
        if word is None:
            continue
        if runs and runs[-1][1] == position:
            runs[-1] = (runs[-1][0], position + 1)
        else:
            runs.append((position, position + 1))

    def indices(first: int, last: int) -> list[int]:
        return [word for word in words[first:last] if word is not None]

    for i, (first, last) in enumerate(runs):
        if last - first >= NEAR_SHORTEST:
            before = first - 1 if first > 0 and _misspelt(segment[first - 1].group()) else first
            after = last + 1 if last < len(words) and _misspelt(segment[last].group()) else last
            yield _Candidate(
                segment[before].start(),
                segment[after - 1].end(),
                indices(first, last),
                after - before,
            )
        if i + 1 < len(runs) and runs[i + 1][0] == last + 1:
            joined_last = runs[i + 1][1]
            if joined_last - first - 1 >= NEAR_SHORTEST:
                yield _Candidate(
                    segment[first].start(),
                    segment[joined_last - 1].end(),
                    indices(first, joined_last),
                    joined_last - first,
                )


def _misspelt(token: str) -> bool:
    """Whether ``token`` is one or two edits from an English list word (and is none itself)."""
    word = token.lower()
    near = _deletion_index()
    return any(
        _edits(word, listed) <= MISSPELT_EDITS
        for variant in _deletions(word)
        for listed in near.get(variant, ())
    )


@cache
def _deletion_index() -> dict[str, tuple[str, ...]]:
    """Each string that deleting up to two letters of English list words gives, and those words."""
    index: dict[str, list[str]] = {}
    for word in wordlist("english").index:
        for variant in _deletions(word):
            index.setdefault(variant, []).append(word)
    return {variant: tuple(words) for variant, words in index.items()}


def _deletions(word: str) -> set[str]:
    once = {word[:i] + word[i + 1 :] for i in range(len(word))}
    return {word} | once | {w[:i] + w[i + 1 :] for w in once for i in range(len(w))}


def _edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            )
        previous = current
    return previous[-1]


def _has_letter(text: str, start: int, end: int) -> bool:
    return any(char.isalpha() for char in text[start:end])


def _chinese(text: str, cues: Cues) -> list[Finding]:
    stretches = [
        (words, stretch)
        for words in map(wordlist, CHINESE_LISTS)
        for stretch in _stretches(text, words)
    ]
    if not stretches:
        return []
    separated = [
        found for words, stretch in stretches for found in _separated(text, stretch, words)
    ]
    share = Share.of(text, cues)
    # Separated characters show where a mnemonic starts and ends; a checksum-valid window
    # reaching past them into the sentence around is chance.
    contiguous = [
        window
        for words, stretch in stretches
        for window in _contiguous(text, stretch, words, share)
        if not any(window.start < found.end and found.start < window.end for found in separated)
    ]
    return [_joined(cluster, share) for cluster in _clusters(separated + contiguous)]


def _stretches(text: str, words: Wordlist) -> Iterator[list[int]]:
    """Positions of list characters with nothing but digits, spaces and punctuation between."""
    stretch: list[int] = []
    for position, char in enumerate(text):
        if char in words.index:
            stretch.append(position)
        elif char.isalpha():
            if len(stretch) >= NEAR_SHORTEST:
                yield stretch
            stretch = []
    if len(stretch) >= NEAR_SHORTEST:
        yield stretch


def _separated(text: str, stretch: list[int], words: Wordlist) -> Iterator[Finding]:
    """Single characters set apart by spaces, commas or numbering: no sentence looks like that.

    A colon ends a run: what comes before it is a label ("前6个：").
    """
    run: list[int] = []
    for position in [*stretch, -1]:
        alone = position >= 0 and _stands_alone(text, position)
        if alone and (not run or not _COLON.search(text, run[-1], position)):
            run.append(position)
            continue
        if len(run) >= NEAR_SHORTEST and _unlike_chinese(text, run, words):
            yield Finding(SecretKind.MNEMONIC, run[0], run[-1] + 1)
        run = [position] if alone else []


def _stands_alone(text: str, position: int) -> bool:
    """Whether no letter touches the character at ``position``."""
    before = position == 0 or not text[position - 1].isalpha()
    return before and (position + 1 == len(text) or not text[position + 1].isalpha())


def _contiguous(text: str, stretch: list[int], words: Wordlist, share: Share) -> Iterator[Finding]:
    """Windows of a valid length that pass the checksum, are most of the message, read oddly."""
    for length in VALID_LENGTHS:
        if not share.may_reach(length):
            continue
        for first in range(len(stretch) - length + 1):
            window = stretch[first : first + length]
            start, end = window[0], window[-1] + 1
            if (
                share.allows(start, end, length)
                and checksum_ok([words.index[text[p]] for p in window])
                and _unlike_chinese(text, window, words)
            ):
                yield Finding(SecretKind.MNEMONIC, start, end)


def _unlike_chinese(text: str, positions: list[int], words: Wordlist) -> bool:
    return unlike_chinese([text[p] for p in positions], words)


def unlike_chinese(characters: Sequence[str], words: Wordlist) -> bool:
    """Whether list characters, in this order, do not read like Chinese."""
    simplified = "".join(words.simplified[char] for char in characters)
    return log_probability_per_character(simplified) <= UNLIKE_CHINESE


@dataclass(frozen=True)
class Share:
    """How much of a message's Chinese a span is, and where the words around a mnemonic are."""

    named: bool  # the message names a mnemonic
    # Prefix sums over positions of Chinese characters: outside any word around a mnemonic (for
    # the share); outside, and inside, such words of two characters or more (for trimming
    # windows, where a single "的" or "是" may as well be a word of the mnemonic).
    counted: list[int]
    loose: list[int]
    context: list[int]

    @classmethod
    def of(cls, text: str, cues: Cues) -> Share:
        covered = bytearray(len(text))  # 1: in a context word, 2: in one of two characters or more
        for match in cues.mnemonic_context.finditer(text):
            size = match.end() - match.start()
            covered[match.start() : match.end()] = bytes([1 if size == 1 else 2]) * size
        counted, loose, context = [0], [0], [0]
        for position, char in enumerate(text):
            chinese = char.isalpha() and not char.isascii()
            counted.append(counted[-1] + (chinese and not covered[position]))
            loose.append(loose[-1] + (chinese and covered[position] < 2))
            context.append(context[-1] + (chinese and covered[position] == 2))
        return cls(
            named=cues.mnemonic_names.search(text) is not None,
            counted=counted,
            loose=loose,
            context=context,
        )

    def may_reach(self, length: int) -> bool:
        """Whether any window of ``length`` characters could be a large enough share."""
        return self.named or length >= CONTIGUOUS_SHARE * self.counted[-1]

    def allows(self, start: int, end: int, length: int) -> bool:
        """Whether ``length`` characters spanning ``start:end`` are most of the message."""
        if self.named:
            return True
        others = self.counted[-1] - (self.counted[end] - self.counted[start])
        return length >= CONTIGUOUS_SHARE * (length + others)

    def only_context(self, window: Finding, other: Finding) -> bool:
        """Whether the Chinese of ``window`` outside ``other`` is all words around a mnemonic."""
        before = _between(self.loose, window.start, min(window.end, other.start))
        return before == 0 and _between(self.loose, max(window.start, other.end), window.end) == 0

    def context_in(self, window: Finding) -> int:
        """How many characters of words around a mnemonic ``window`` holds."""
        return _between(self.context, window.start, window.end)


def _between(prefix: list[int], start: int, end: int) -> int:
    return prefix[end] - prefix[start] if start < end else 0


def _clusters(windows: list[Finding]) -> list[list[Finding]]:
    clusters: list[list[Finding]] = []
    end = -1
    for window in sorted(windows, key=lambda w: w.start):
        if window.start < end:
            clusters[-1].append(window)
        else:
            clusters.append([window])
        end = max(end, window.end)
    return clusters


def _joined(cluster: list[Finding], share: Share) -> Finding:
    """One finding over overlapping windows, less those only reaching into surrounding words.

    Next to a real mnemonic, windows shifted into "我的助记词是" or "帮我看看" often pass the
    checksum by chance. A window is left out when another holds all of it but such words and
    is no worse: it does not need those words either, or holds fewer of them.
    """

    def dominated(window: Finding, other: Finding) -> bool:
        return (
            other != window
            and share.only_context(window, other)
            and (
                not share.only_context(other, window)
                or share.context_in(other) < share.context_in(window)
            )
        )

    if len(cluster) > MAX_REFINED_CLUSTER:
        return Finding(SecretKind.MNEMONIC, cluster[0].start, max(w.end for w in cluster))
    kept = [w for w in cluster if not any(dominated(w, other) for other in cluster)] or cluster
    return Finding(SecretKind.MNEMONIC, min(w.start for w in kept), max(w.end for w in kept))
