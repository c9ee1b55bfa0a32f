"""Secrets a user may paste into the chat, what counts as a trace of each, and a raw-byte scanner.

Every sample is generated deterministically at import from fixed seeds, so a failure names the
same secret on every run. A trace is the secret itself or a piece of it long enough to matter: any
four consecutive words of a mnemonic, any 16 characters of a key, the password, the code's digits.
The scanner reads every file's raw bytes (SQLite databases with their -wal and -journal files,
logs), so a secret in a freed database page or an unflushed journal counts too. Each trace is
searched as UTF-8, as JSON writes it (``ensure_ascii`` escapes, escaped quotes; Rasa stores events
as JSON text) and as the repr of logged bytes; ASCII letters match in either case.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from mnemonic import Mnemonic

MARKERS = {
    "mnemonic": "[已隐藏的助记词]",
    "private_key": "[已隐藏的私钥]",
    "keystore": "[已隐藏的密钥文件]",
    "password": "[已隐藏的密码]",
    "verification_code": "[已隐藏的验证码]",
}
MNEMONIC_RUN = 4  # consecutive words
KEY_RUN = 16  # consecutive characters
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
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


def base58check(payload: bytes) -> str:
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    raw = payload + checksum
    number = int.from_bytes(raw, "big")
    digits = ""
    while number:
        number, digit = divmod(number, 58)
        digits = BASE58[digit] + digits
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + digits


def wif_key(seed: str) -> str:
    """A compressed-key mainnet WIF: 0x80, 32 key bytes, 0x01, Base58Check."""
    return base58check(b"\x80" + entropy(seed, 32) + b"\x01")


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
