"""A mnemonic split over consecutive messages of one conversation (「前6个：…」, then 「后6个：…」).

A message whose BIP39 words are most of it holds a part: three English list words or more in a
run, or Chinese list characters set apart one by one (a label such as "前6个：" or "last 6:" is
not part of it). The parts of a conversation's last few messages stay here, in this process's
memory only, for two minutes; nothing here is written anywhere. When a message's part and the
parts of the messages right before it make a mnemonic of a valid length that passes the checksum
(and, in Chinese, does not read like Chinese), the caller hides this message's part, warns the
user and hides the earlier parts where they were stored. A part alone is ordinary text.
``texts`` lists the parts held, for ``log_mask``.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.secret_guard.cues import Cues, load_cues
from bot.secret_guard.findings import Finding, SecretKind
from bot.secret_guard.folding import fold
from bot.secret_guard.mnemonics import (
    CHINESE_LISTS,
    COLON,
    LATIN_WORD,
    MISTYPED_SHARE,
    VALID_LENGTHS,
    Share,
    checksum_ok,
    unlike_chinese,
    wordlist,
)

SPLIT_SECONDS = 120.0
# A mnemonic in up to this many messages in a row (4 × 6 words of a 24-word one).
SPLIT_MESSAGES = 4
SHORTEST_PART = 3
# Conversations with parts held at most; the one quiet longest goes first.
CONVERSATIONS = 10_000
ENGLISH = "english"
CHINESE = "chinese"
# Ends a run: a label ("前6个：", "last 6:") comes before a colon, the words after it.
_COLON = re.compile(COLON)
_LETTER_OR_COLON = re.compile(f"[^\\W\\d_]|{COLON}")
_STANDALONE_HAN = re.compile(r"(?<![^\W\d_])[\u3400-\u9fff](?![^\W\d_])")


@dataclass(frozen=True)
class Part:
    """List words that are most of a message: their script, the words, where they are."""

    script: str  # ENGLISH or CHINESE
    words: tuple[str, ...]  # folded; English in lower case
    start: int
    end: int
    text: str  # the message's text[start:end], as stored


@dataclass(frozen=True)
class HeldPart:
    """An earlier message's part, to hide where that message was stored."""

    message_id: str
    text: str


@dataclass(frozen=True)
class Completion:
    """A mnemonic split over messages: this message's part and the earlier ones."""

    finding: Finding
    earlier: tuple[HeldPart, ...]


@dataclass(frozen=True)
class _Message:
    at: float
    message_id: str
    part: Part | None
    used: bool  # its part completed a mnemonic already


def find_part(text: str, cues: Cues) -> Part | None:
    """The part of a mnemonic ``text`` may hold: the longest run of list words, if most of it."""
    folded = fold(text)
    found = [run for run in (_english(folded.text), _chinese(folded.text, cues)) if run is not None]
    if not found:
        return None
    script, words, start, end = max(found, key=lambda run: len(run[1]))
    start, end = folded.span(start, end)
    return Part(script, words, start, end, text[start:end])


def completes(parts: Sequence[Part]) -> bool:
    """Whether ``parts``, in this order, make a mnemonic."""
    words = [word for part in parts for word in part.words]
    if len(words) not in VALID_LENGTHS or any(p.script != parts[0].script for p in parts):
        return False
    if parts[0].script == ENGLISH:
        return checksum_ok([wordlist(ENGLISH).index[word] for word in words])
    for language in CHINESE_LISTS:
        listed = wordlist(language)
        if all(word in listed.index for word in words) and checksum_ok(
            [listed.index[word] for word in words]
        ):
            return unlike_chinese(words, listed)
    return False


Run = tuple[str, tuple[str, ...], int, int]


def _english(text: str) -> Run | None:
    index = wordlist(ENGLISH).index
    tokens = list(LATIN_WORD.finditer(text))
    if len(tokens) < SHORTEST_PART:
        return None
    listed = [token for token in tokens if token.group().lower() in index]
    best = _longest_run(text, [(token.start(), token.end()) for token in listed])
    if len(best) < SHORTEST_PART:
        return None
    label_end = max((colon.end() for colon in _COLON.finditer(text, 0, best[0][0])), default=0)
    counted = sum(1 for token in tokens if token.start() >= label_end)
    if len(best) < MISTYPED_SHARE * counted:
        return None
    words = tuple(text[start:end].lower() for start, end in best)
    return ENGLISH, words, best[0][0], best[-1][1]


def _chinese(text: str, cues: Cues) -> Run | None:
    simplified, traditional = (wordlist(language).index for language in CHINESE_LISTS)
    listed = [
        match.span()
        for match in _STANDALONE_HAN.finditer(text)
        if (match.group() in simplified or match.group() in traditional)
        and not _touches_digit(text, match.start())
    ]
    best = _longest_run(text, listed)
    if len(best) < SHORTEST_PART:
        return None
    start, end = best[0][0], best[-1][1]
    if not Share.of(text, cues).allows(start, end, len(best)):
        return None
    return CHINESE, tuple(text[s:e] for s, e in best), start, end


def _longest_run(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of ``spans`` with no letter (of another word) or colon between them."""
    best: list[tuple[int, int]] = []
    run: list[tuple[int, int]] = []
    for span in spans:
        if run and _LETTER_OR_COLON.search(text, run[-1][1], span[0]):
            best = max(best, run, key=len)
            run = []
        run.append(span)
    return max(best, run, key=len)


def _touches_digit(text: str, position: int) -> bool:
    """Whether a digit is right next to the character: a label ("前6个", "第1组"), not a word."""
    return text[position - 1 : position].isdigit() or text[position + 1 : position + 2].isdigit()


class SplitMnemonics:
    """The parts of each conversation's last few messages, in memory, for a short while."""

    def __init__(
        self,
        seconds: float = SPLIT_SECONDS,
        messages: int = SPLIT_MESSAGES,
        conversations: int = CONVERSATIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._messages = messages
        self._conversations = conversations
        self._clock = clock
        self._recent: OrderedDict[str, list[_Message]] = OrderedDict()
        self._lock = threading.Lock()
        self.texts: tuple[str, ...] = ()  # every part held; replaced whole, read without the lock

    def see(self, conversation_id: str, message_id: str, text: str) -> Completion | None:
        """Takes in a message as it will be stored; the mnemonic it completes, if any."""
        part = find_part(text, load_cues())
        now = self._clock()
        with self._lock:
            changed = self._expire(now)
            held = self._recent.pop(conversation_id, [])
            recent = [m for m in held if now - m.at < self._seconds]
            if recent and recent[-1].message_id == message_id:  # a resent message
                self._recent[conversation_id] = recent
                return None
            completion = self._completion(recent, part) if part is not None else None
            if completion is not None:
                hidden = {earlier.message_id for earlier in completion.earlier}
                recent = [
                    _Message(m.at, m.message_id, m.part, m.used or m.message_id in hidden)
                    for m in recent
                ]
            recent = [*recent, _Message(now, message_id, part, completion is not None)]
            recent = recent[-self._messages :]
            if any(m.part is not None for m in recent):
                self._recent[conversation_id] = recent
                while len(self._recent) > self._conversations:
                    self._recent.popitem(last=False)
            if changed or held or part is not None:
                self.texts = tuple(
                    m.part.text for messages in self._recent.values() for m in messages if m.part
                )
        return completion

    def _completion(self, recent: list[_Message], part: Part) -> Completion | None:
        """The longest run of parts right before ``part`` that it completes a mnemonic with.

        Shorter runs may pass the checksum by chance (15 words of 24 in one case in 32). Parts
        that completed one already count too: 18 words of 24 may have, and the last six must
        still be hidden.
        """
        consecutive = 0
        while consecutive < len(recent) and recent[-1 - consecutive].part is not None:
            consecutive += 1
        for count in range(consecutive, 0, -1):
            earlier = recent[-count:]
            if completes([*(m.part for m in earlier if m.part), part]):
                return Completion(
                    Finding(SecretKind.MNEMONIC, part.start, part.end),
                    tuple(
                        HeldPart(m.message_id, m.part.text)
                        for m in earlier
                        if m.part and not m.used
                    ),
                )
        return None

    def _expire(self, now: float) -> bool:
        """Drops the conversations quiet for longer than the hold; whether any was."""
        expired = False
        while self._recent:
            conversation_id, recent = next(iter(self._recent.items()))
            if now - recent[-1].at < self._seconds:
                break
            del self._recent[conversation_id]
            expired = True
        return expired
