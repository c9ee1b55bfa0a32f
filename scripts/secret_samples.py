"""Secrets as users paste them, for the secret guard's evaluation (`make eval`) and its tests.

Generated secrets (mnemonics in every layout, mistyped and split, keys, keystore files,
passwords, codes) are drawn from a ``random.Random`` the caller seeds. The fixed ``SAMPLES`` are
generated deterministically at import from fixed seeds, so a failure names the same secret on
every run; each comes with what counts as a trace of it: the secret itself or a piece of it long
enough to matter (any four consecutive words of a mnemonic, any 16 characters of a key, the
password, the code's digits). The scanner reads every file's raw bytes (SQLite databases with
their -wal and -journal files, logs), so a secret in a freed database page or an unflushed
journal counts too. Each trace is searched as UTF-8, as JSON writes it (``ensure_ascii``
escapes, escaped quotes; Rasa stores events as JSON text) and as the repr of logged bytes; ASCII
letters match in either case. ``covers_words``, ``split_hidden`` and ``completions`` judge what
the guard made of a sample.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mnemonic import Mnemonic

from bot.secret_guard import Finding, SecretKind, find_secrets, redact
from bot.secret_guard.cues import load_cues
from bot.secret_guard.mnemonics import CHINESE_LISTS, wordlist
from bot.secret_guard.split import SplitMnemonics

MARKERS = {
    "mnemonic": "[已隐藏的助记词]",
    "private_key": "[已隐藏的私钥]",
    "keystore": "[已隐藏的密钥文件]",
    "password": "[已隐藏的密码]",
    "verification_code": "[已隐藏的验证码]",
}
MNEMONIC_RUN = 4  # consecutive words
KEY_RUN = 16  # consecutive characters
CONTEXT_BYTES = 60  # shown before a trace in a failure report; never the trace itself


@dataclass(frozen=True)
class Sample:
    """One secret as a user sends it, and the strings whose presence anywhere is a leak."""

    name: str
    kind: str
    message: str
    fragments: tuple[str, ...]
    # Digits are a trace only as a whole number: "739182" inside a timestamp is no leak.
    whole_number: bool = False

    @property
    def marker(self) -> str:
        return MARKERS[self.kind]

    def traced_in(self, text: str) -> bool:
        """Whether ``text`` (a reply, a stored message, an API answer) holds a trace."""
        data = text.encode().lower()
        return any(next(trace.positions(data), None) is not None for trace in traces_of([self]))


@dataclass(frozen=True)
class Trace:
    """A byte pattern, and what it is a trace of (sample name and kind, never the secret)."""

    sample: str
    kind: str
    encoding: str
    needle: bytes = field(repr=False)
    whole_number: bool = False

    def positions(self, data: bytes) -> Iterator[int]:
        """Where the trace occurs in ``data`` (already lower-cased)."""
        if self.whole_number:
            yield from (match.start() for match in _whole_number(self.needle).finditer(data))
            return
        start = data.find(self.needle)
        while start >= 0:
            yield start
            start = data.find(self.needle, start + 1)


@dataclass(frozen=True)
class Hit:
    """A trace found in a file: where, and the bytes just before it for a clue to the source."""

    path: Path
    trace: Trace
    offset: int
    line: int
    before: str

    def describe(self, root: Path) -> str:
        return (
            f"{self.path.relative_to(root)}: {self.trace.kind} ({self.trace.sample}, "
            f"{self.trace.encoding}) at byte {self.offset}, line {self.line}, "
            f"after …{self.before!r}"
        )


@cache
def _whole_number(digits: bytes) -> re.Pattern[bytes]:
    # Not inside a longer number, a hex string or a time's microseconds ("10:00:00.739182");
    # right after an escape ("\\u7801739182" is "码739182" in JSON, "\\xa0739182" in a bytes
    # repr) it does count.
    return re.compile(
        rb"(?:(?<![0-9a-z.])|(?<=\\u[0-9a-f]{4})|(?<=\\x[0-9a-f]{2}))"
        + re.escape(digits)
        + rb"(?![0-9a-z])"
    )


# --- generated secrets ---------------------------------------------------------------------

LANGUAGES = ("english", *CHINESE_LISTS)


def b58encode(data: bytes) -> str:
    """Base58 of ``data``, leading zero bytes as "1"."""
    return base58.b58encode(data).decode()


def b58check(payload: bytes) -> str:
    """Base58Check of ``payload``."""
    return base58.b58encode_check(payload).decode()


@cache
def reference(language: str) -> Mnemonic:
    """The reference BIP39 implementation for ``language``."""
    return Mnemonic(language)


def mnemonic_words(rng: random.Random, language: str, length: int) -> list[str]:
    """A checksum-valid mnemonic of ``length`` words."""
    return reference(language).to_mnemonic(rng.randbytes(length * 4 // 3)).split()


@dataclass(frozen=True)
class Layout:
    """How a user may type a mnemonic: its words joined somehow, maybe inside a sentence."""

    join: Callable[[list[str]], str]
    before: str = ""
    after: str = ""
    chinese_only: bool = False

    def text(self, words: list[str]) -> str:
        return f"{self.before}{self.join(words)}{self.after}"


def _numbered(words: list[str]) -> str:
    return " ".join(f"{i}. {word}" for i, word in enumerate(words, 1))


def _groups_of_four(words: list[str]) -> str:
    return " ".join("".join(words[i : i + 4]) for i in range(0, len(words), 4))


LAYOUTS = {
    "spaces": Layout(" ".join),
    "commas": Layout("，".join),
    "newlines": Layout("\n".join),
    "numbered": Layout(_numbered),
    "in a sentence": Layout(" ".join, "我的助记词是 ", " 帮我看看币还在不在"),
    "contiguous": Layout("".join, chinese_only=True),
    "contiguous in a sentence": Layout("".join, "我的助记词是", "，帮我看看", chinese_only=True),
    "groups of 4": Layout(_groups_of_four, chinese_only=True),
}


def wide(text: str) -> str:
    """``text`` as a Chinese IME types it in full-width mode."""
    return "".join(
        "\u3000" if char == " " else chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char
        for char in text
    )


def misspelt(word: str, rng: random.Random, edits: int) -> str:
    """``word`` with ``edits`` letters changed, dropped or added, and no longer a list word."""
    english = wordlist("english").index
    while True:
        typed = word
        for _ in range(edits):
            at = rng.randrange(len(typed))
            letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
            typed = rng.choice(
                [
                    typed[:at] + letter + typed[at + 1 :],
                    typed[:at] + typed[at + 1 :],
                    typed[:at] + letter + typed[at:],
                ]
            )
        if typed not in english and typed != word:
            return typed


# A mistyped mnemonic: the words as typed, in a message, with the words before them.
Mistyped = tuple[list[str], Layout]


def _misspelt_word(rng: random.Random) -> Mistyped:
    words = mnemonic_words(rng, "english", rng.choice([12, 24]))
    at = rng.randrange(len(words))
    words[at] = misspelt(words[at], rng, rng.choice([1, 2]))
    return words, Layout(" ".join, "助记词：", " 帮我看看")


def _unknown_word(rng: random.Random) -> Mistyped:
    words = mnemonic_words(rng, "english", rng.choice([12, 24]))
    words.insert(rng.randrange(1, len(words)), rng.choice(["the", "and", "is", "wallet"]))
    return words, Layout(" ".join)


def _one_missing(language: str) -> Callable[[random.Random], Mistyped]:
    def make(rng: random.Random) -> Mistyped:
        words = mnemonic_words(rng, language, 12)
        del words[rng.randrange(12)]
        return words, Layout(" ".join, "助记词 ", " 对吗")

    return make


def _full_width(rng: random.Random) -> Mistyped:
    words = [wide(word) for word in mnemonic_words(rng, "english", rng.choice([12, 24]))]
    return words, Layout(wide(" ").join, "我的助记词是：", "，帮我看看")


MISTYPED: dict[str, Callable[[random.Random], Mistyped]] = {
    "english, one word misspelt (1-2 edits)": _misspelt_word,
    "english, one unknown word inserted": _unknown_word,
    "english, 11 of 12 words": _one_missing("english"),
    "chinese_simplified, 11 of 12 set apart": _one_missing("chinese_simplified"),
    "chinese_traditional, 11 of 12 set apart": _one_missing("chinese_traditional"),
    "english, full-width (Chinese IME)": _full_width,
}
# How a mnemonic may be split over messages: words per message.
SPLITS = ([6, 6], [8, 4], [4, 8], [4, 4, 4], [12, 12], [6, 6, 6, 6], [9, 9, 6])


def split_texts(words: list[str], sizes: list[int], labels: bool) -> list[str]:
    """The messages of a mnemonic split into ``sizes`` words, maybe with "前6个：" labels."""
    texts, start = [], 0
    for number, size in enumerate(sizes):
        chunk = " ".join(words[start : start + size])
        label = ("前" if number == 0 else "后") + f"{size}个："
        texts.append(f"{label}{chunk}" if labels else chunk)
        start += size
    return texts


def random_hex(rng: random.Random, size: int = 32) -> str:
    return rng.randbytes(size).hex()


def wif(rng: random.Random) -> str:
    version = rng.choice([0x80, 0xEF, 0xB0])
    compressed = rng.random() < 0.5
    return b58check(bytes([version]) + rng.randbytes(32) + (b"\1" if compressed else b""))


def xprv(rng: random.Random) -> str:
    version = bytes.fromhex(rng.choice(["0488ade4", "04b2430c", "04358394"]))  # xprv zprv tprv
    return b58check(version + rng.randbytes(41) + b"\0" + rng.randbytes(32))


def solana_secret(rng: random.Random) -> bytes:
    seed = rng.randbytes(32)
    return seed + Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def keystore(rng: random.Random) -> str:
    return json.dumps(
        {
            "address": random_hex(rng, 20),
            "crypto": {
                "cipher": "aes-128-ctr",
                "ciphertext": random_hex(rng),
                "cipherparams": {"iv": random_hex(rng, 16)},
                "kdf": "scrypt",
                "kdfparams": {"dklen": 32, "n": 262144, "p": 1, "r": 8, "salt": random_hex(rng)},
                "mac": random_hex(rng),
            },
            "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
            "version": 3,
        }
    )


def password(rng: random.Random) -> str:
    kind = rng.choice(["mixed", "digits", "symbols"])
    if kind == "digits":
        return "".join(rng.choices("0123456789", k=6))
    letters = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
    body = rng.choices(letters, k=rng.randint(5, 10)) + rng.choices("0123456789", k=3)
    if kind == "symbols":
        body += rng.choices("!@#$%^&*._-", k=2)
    rng.shuffle(body)
    return "".join(body)


def address(rng: random.Random) -> str:
    """A Bitcoin, TRON or Ethereum address in a sentence: never a key."""
    bitcoin = b58check(bytes([0]) + rng.randbytes(20))
    tron = b58check(bytes([0x41]) + rng.randbytes(20))
    return rng.choice(
        [f"转到{bitcoin}", f"地址 {tron}", f"收款地址 0x{random_hex(rng, 20)} 充了200U"]
    )


def code(rng: random.Random) -> str:
    return "".join(rng.choices("0123456789", k=rng.choice([4, 6, 6, 8])))


def grouped_hex(rng: random.Random) -> str:
    """64 hex digits in groups of 2-16, split by spaces, dashes, dots or line breaks."""
    digits = random_hex(rng)
    size = rng.choice([2, 4, 8, 16])
    gap = rng.choice([" ", "-", ".", "\n", " - ", "\u3000"])
    return rng.choice(["", "0x"]) + gap.join(digits[i : i + size] for i in range(0, 64, size))


def covers_words(text: str, words: list[str], findings: list[Finding], start: int = 0) -> bool:
    """Whether every word of the mnemonic, typed from ``start`` on, lies inside a finding."""
    position = start
    for word in words:
        position = text.index(word, position)
        if not any(f.start <= position and position + len(word) <= f.end for f in findings):
            return False
        position += len(word)
    return True


def completions(messages: list[str]) -> list[str]:
    """The messages that complete a split mnemonic when ``messages`` are sent in a row."""
    held = SplitMnemonics()
    return [m for number, m in enumerate(messages) if held.see("c", str(number), m) is not None]


def split_hidden(texts: list[str]) -> bool:
    """Whether, as the channel intake hides and stores them, every message of a split mnemonic
    is stored as its label and the marker once the last one has arrived."""
    held = SplitMnemonics()
    marker = load_cues().markers[SecretKind.MNEMONIC]
    stored: list[str] = []
    for number, text in enumerate(texts):
        admitted = redact(text, find_secrets(text))
        completion = held.see("c", str(number), admitted)
        if completion is not None:
            admitted = redact(admitted, [completion.finding])
            for part in completion.earlier:
                earlier = int(part.message_id)
                stored[earlier] = stored[earlier].replace(part.text, marker)
        stored.append(admitted)
    return stored == [text[: text.find("：") + 1] + marker for text in texts]


# --- the samples -----------------------------------------------------------------------------


def entropy(seed: str, size: int) -> bytes:
    return hashlib.sha256(f"secret-sample:{seed}".encode()).digest()[:size]


def runs(items: list[str], length: int) -> list[list[str]]:
    return [items[i : i + length] for i in range(len(items) - length + 1)]


def english_fragments(words: str) -> tuple[str, ...]:
    listed = words.split()
    return (words, *(" ".join(run) for run in runs(listed, MNEMONIC_RUN)))


def chinese_fragments(words: str) -> tuple[str, ...]:
    listed = words.split()
    contiguous = ["".join(run) for run in runs(listed, MNEMONIC_RUN)]
    spaced = [" ".join(run) for run in runs(listed, MNEMONIC_RUN)]
    return ("".join(listed), words, *contiguous, *spaced)


def key_fragments(*secrets: str) -> tuple[str, ...]:
    pieces = [
        secret[i : i + KEY_RUN] for secret in secrets for i in range(len(secret) - KEY_RUN + 1)
    ]
    return (*secrets, *dict.fromkeys(pieces))


def wif_key(seed: str) -> str:
    """A compressed-key mainnet WIF: 0x80, 32 key bytes, 0x01, Base58Check."""
    return b58check(b"\x80" + entropy(seed, 32) + b"\x01")


def keystore_v3(seed: str) -> tuple[str, tuple[str, ...]]:
    """An Ethereum keystore file (JSON v3) and its secret-bearing values."""
    ciphertext = entropy(f"{seed}:ciphertext", 32).hex()
    mac = entropy(f"{seed}:mac", 32).hex()
    salt = entropy(f"{seed}:salt", 32).hex()
    iv = entropy(f"{seed}:iv", 16).hex()
    document = {
        "address": entropy(f"{seed}:address", 20).hex(),
        "crypto": {
            "cipher": "aes-128-ctr",
            "ciphertext": ciphertext,
            "cipherparams": {"iv": iv},
            "kdf": "scrypt",
            "kdfparams": {"dklen": 32, "n": 262144, "p": 1, "r": 8, "salt": salt},
            "mac": mac,
        },
        "id": "5c1ed9a4-28b7-4e3f-9a0c-7d2b6f1e8c43",
        "version": 3,
    }
    return json.dumps(document), (ciphertext, mac, salt, iv)


def build_samples() -> list[Sample]:
    en12 = Mnemonic("english").to_mnemonic(entropy("english-12", 16))
    en24 = Mnemonic("english").to_mnemonic(entropy("english-24", 32))
    zh_joined = Mnemonic("chinese_simplified").to_mnemonic(entropy("chinese-contiguous", 16))
    zh_spaced = Mnemonic("chinese_simplified").to_mnemonic(entropy("chinese-spaced", 16))
    zh_traditional = Mnemonic("chinese_traditional").to_mnemonic(entropy("traditional", 16))
    hex_key = entropy("hex-private-key", 32).hex()
    bare_hex = entropy("bare-hex-private-key", 32).hex()
    wif = wif_key("wif")
    keystore, keystore_values = keystore_v3("keystore")
    password, code = "Abc12345!xyz", "739182"
    return [
        Sample("english_12_words", "mnemonic", en12, english_fragments(en12)),
        Sample(
            "english_24_words", "mnemonic", f"助记词是 {en24} 帮我看看", english_fragments(en24)
        ),
        Sample(
            "chinese_contiguous",
            "mnemonic",
            f"我的助记词{''.join(zh_joined.split())}",
            chinese_fragments(zh_joined),
        ),
        Sample("chinese_spaced", "mnemonic", zh_spaced, chinese_fragments(zh_spaced)),
        Sample(
            "chinese_traditional",
            "mnemonic",
            f"這是我的助記詞 {zh_traditional}",
            chinese_fragments(zh_traditional),
        ),
        Sample(
            "hex_after_key_words", "private_key", f"我的私钥是{hex_key}", key_fragments(hex_key)
        ),
        Sample("bare_hex_not_a_transfer", "private_key", bare_hex, key_fragments(bare_hex)),
        Sample("wif", "private_key", f"这个能导入吗 {wif}", key_fragments(wif)),
        Sample(
            "keystore_v3",
            "keystore",
            f"keystore文件：{keystore}",
            (keystore, *key_fragments(*keystore_values)),
        ),
        Sample("login_password", "password", f"我的登录密码是 {password}", (password,)),
        Sample("verification_code", "verification_code", f"验证码 {code}", (code,), True),
    ]


SAMPLES = build_samples()


# --- scanning --------------------------------------------------------------------------------


def encodings(fragment: str) -> dict[str, bytes]:
    """The fragment as UTF-8, as JSON text and as a logged ``bytes`` would hold it, lower-cased."""
    forms = {
        "utf-8": fragment.encode(),
        "json ascii": json.dumps(fragment)[1:-1].encode(),
        "json utf-8": json.dumps(fragment, ensure_ascii=False)[1:-1].encode(),
        # A request body logged as bytes: b'\\xe5\\x8a\\xa9...'
        "bytes repr": repr(fragment.encode())[2:-1].encode(),
    }
    unique: dict[bytes, str] = {}
    for name, form in forms.items():
        unique.setdefault(form.lower(), name)
    return {name: form for form, name in unique.items()}


def traces_of(samples: Iterable[Sample]) -> list[Trace]:
    return [
        Trace(sample.name, sample.kind, name, needle, sample.whole_number)
        for sample in samples
        for fragment in sample.fragments
        for name, needle in encodings(fragment).items()
    ]


def masked(raw: bytes, traces: list[Trace]) -> str:
    """``raw`` as text with every trace starred out, for a failure report."""
    data = raw.lower()
    hidden = bytearray(raw)
    for trace in traces:
        for start in trace.positions(data):
            hidden[start : start + len(trace.needle)] = b"*" * len(trace.needle)
    return bytes(hidden).decode("utf-8", "replace")


def shown(text: str, samples: Iterable[Sample] | None = None) -> str:
    """``text`` with every trace of the samples starred out, safe to print."""
    return masked(text.encode(), traces_of(SAMPLES if samples is None else samples))


def scan(root: Path, traces: list[Trace]) -> list[Hit]:
    """The first occurrence of each sample's traces in each file under ``root``, raw bytes."""
    hits: list[Hit] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        data = raw.lower()
        first: dict[str, tuple[int, Trace]] = {}
        for trace in traces:
            offset = next(trace.positions(data), None)
            if offset is not None and (
                trace.sample not in first or offset < first[trace.sample][0]
            ):
                first[trace.sample] = (offset, trace)
        for offset, trace in first.values():
            # Only bytes before the sample's earliest trace, other samples' traces starred out.
            before = masked(raw[max(0, offset - CONTEXT_BYTES) : offset], traces)
            hits.append(Hit(path, trace, offset, raw.count(b"\n", 0, offset) + 1, before))
    return hits


def sqlite_rows_with(path: Path, needle: bytes) -> list[str]:
    """``table.column`` of live rows that hold ``needle``; empty if only a freed page or the
    WAL does, or if the file is no database. For failure reports."""
    found: list[str] = []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
                for column in columns:
                    (count,) = db.execute(
                        f'SELECT count(*) FROM "{table}" '
                        f'WHERE instr(lower(CAST("{column}" AS BLOB)), ?) > 0',
                        (needle,),
                    ).fetchone()
                    if count:
                        found.append(f"{table}.{column} ({count} rows)")
    except sqlite3.DatabaseError:
        return []
    return found
