"""Measures the secret guard and prints the figures its thresholds were chosen by.

Run ``python -m scripts.evaluate_secret_guard``. Deterministic: every random draw is seeded.

- False positives on the project's own sentences (NLU data, held-out set, test stories).
- Chinese text that passes a mnemonic checksum by chance: every 12-24 character run of the
  project's sentences and responses whose characters are all BIP39 words and pass the checksum,
  each as a message of its own; and every sentence typed with a space between characters.
- English prose: the paragraphs of the standard library's docstrings.
- Detection rates on generated mnemonics, keys, keystore files, passwords and codes; on
  mistyped mnemonics (a misspelt or unknown word, a word missing) and full-width ones (Chinese
  IME); on mnemonics split over consecutive messages, and the project's sentences in a row.
- Time per message: the secret guard and the split check, as the channel intake runs them.
"""

from __future__ import annotations

import ast
import json
import random
import re
import statistics
import sysconfig
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import base58
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mnemonic import Mnemonic

from bot.secret_guard import Finding, SecretKind, find_secrets, redact
from bot.secret_guard.chinese_text import log_probability_per_character
from bot.secret_guard.cues import load_cues
from bot.secret_guard.mnemonics import (
    CHINESE_LISTS,
    UNLIKE_CHINESE,
    VALID_LENGTHS,
    checksum_ok,
    wordlist,
)
from bot.secret_guard.split import SplitMnemonics
from scripts.heldout import HELDOUT, load_heldout

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240601
PER_CASE = 300
# "[0x3e49…](tx_hash)", "[500U](amount)", '[TRC20]{"entity": "chain"}' -> the annotated text.
ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
LANGUAGES = ("english", *CHINESE_LISTS)


def plain_text(example: str) -> str:
    """A Rasa training example with its entity annotations turned into plain text."""
    return ANNOTATION.sub(r"\1", example)


def project_sentences(root: Path = ROOT) -> list[str]:
    """Every user sentence of the NLU data, held-out sets and test stories, as plain text."""
    sentences = [example.text for example in load_heldout(root / HELDOUT)]
    for path in sorted((root / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" in item:
                sentences += [
                    plain_text(line.strip()[2:])
                    for line in str(item.get("examples") or "").splitlines()
                    if line.strip().startswith("- ")
                ]
    stories = yaml.safe_load((root / "tests" / "test_stories.yml").read_text(encoding="utf-8"))
    for story in stories.get("stories") or []:
        sentences += [
            plain_text(str(step["user"]).strip()) for step in story["steps"] if "user" in step
        ]
    return sentences


def response_texts(root: Path = ROOT) -> list[str]:
    """The assistant's own Chinese responses: more natural Chinese to test against."""
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))
    return [
        str(variant["text"])
        for variants in (domain.get("responses") or {}).values()
        for variant in variants
        if "text" in variant
    ]


def english_paragraphs() -> list[str]:
    """The paragraphs of the standard library's docstrings: English prose and examples."""
    paragraphs = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                paragraphs += [p for p in re.split(r"\n\s*\n", doc or "") if p.strip()]
    return paragraphs


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


@dataclass(frozen=True)
class Case:
    """A family of generated messages and what the guard should report in each."""

    name: str
    kind: SecretKind | None  # None: the guard should find nothing
    uncertain: bool
    make: Callable[[random.Random], str]


KEY_CONTEXT = ["我的私钥是 {}", "private key: {}", "導出私鑰 {} 幫我看看", "私钥{}能帮我查下吗"]
HASH_CONTEXT = ["交易哈希 {} 帮我查下到哪了", "txid:{} 一直pending", "这笔{}怎么还没到"]
PASSWORDS = [
    "我的密码是{}",
    "登录密码：{}",
    "支付密码{}为什么不对",
    "password: {}",
    "{} 是我的密码",
    "钱包密码改成了 {} 还是登不上",
]
# What users say about passwords and codes without giving one.
TALK = [
    "我忘记密码了",
    "密码是多少位",
    "密码是什么",
    "支付密码错误5次被锁了",
    "密码要求8-20位",
    "password reset 在哪里",
    "验证码收不到",
    "验证码6位",
    "收到的验证码过期了",
    "验证码 60 秒后才能重发",
    "error code 4001",
]
CODES = [
    "验证码：{}",
    "{} 是验证码",
    "验证码是 {} 你帮我操作吧",
    "google验证码 {}",
    "收到的驗證碼{}",
]


def _template(templates: list[str], secret: Callable[[random.Random], str]) -> Callable[..., str]:
    return lambda rng: rng.choice(templates).format(secret(rng))


def grouped_hex(rng: random.Random) -> str:
    """64 hex digits in groups of 2-16, split by spaces, dashes, dots or line breaks."""
    digits = random_hex(rng)
    size = rng.choice([2, 4, 8, 16])
    gap = rng.choice([" ", "-", ".", "\n", " - ", "\u3000"])
    return rng.choice(["", "0x"]) + gap.join(digits[i : i + size] for i in range(0, 64, size))


CASES = [
    Case("64 hex, key words", SecretKind.PRIVATE_KEY, False, _template(KEY_CONTEXT, random_hex)),
    Case(
        "0x + 64 hex, key words",
        SecretKind.PRIVATE_KEY,
        False,
        _template(KEY_CONTEXT, lambda rng: "0x" + random_hex(rng)),
    ),
    Case("64 hex alone", SecretKind.PRIVATE_KEY, True, random_hex),
    Case("64 hex, hash words", None, False, _template(HASH_CONTEXT, random_hex)),
    Case(
        "64 hex in groups, key words",
        SecretKind.PRIVATE_KEY,
        False,
        _template(KEY_CONTEXT, grouped_hex),
    ),
    Case("64 hex in groups, hash words", None, False, _template(HASH_CONTEXT, grouped_hex)),
    Case("WIF", SecretKind.PRIVATE_KEY, False, _template(["{}", "私钥 {}"], wif)),
    Case("xprv/zprv/tprv", SecretKind.PRIVATE_KEY, False, _template(["{}", "备份的 {}"], xprv)),
    Case(
        "Solana key, base58",
        SecretKind.PRIVATE_KEY,
        False,
        _template(["{}", "帮我查下 {}"], lambda rng: b58encode(solana_secret(rng))),
    ),
    Case(
        "Solana key, byte array",
        SecretKind.PRIVATE_KEY,
        False,
        lambda rng: "导出的是 " + json.dumps(list(solana_secret(rng))),
    ),
    Case(
        "Solana signature alone",
        SecretKind.PRIVATE_KEY,
        True,
        lambda rng: b58encode(rng.randbytes(64)),
    ),
    Case(
        "Solana signature, hash words",
        None,
        False,
        _template(HASH_CONTEXT, lambda rng: b58encode(rng.randbytes(64))),
    ),
    Case("keystore JSON", SecretKind.KEYSTORE, False, keystore),
    Case(
        "keystore, pretty and truncated",
        SecretKind.KEYSTORE,
        False,
        lambda rng: "keystore：" + json.dumps(json.loads(keystore(rng)), indent=2)[:420],
    ),
    Case("password", SecretKind.PASSWORD, False, _template(PASSWORDS, password)),
    Case(
        "password, full-width",
        SecretKind.PASSWORD,
        False,
        _template(PASSWORDS, lambda rng: wide(password(rng))),
    ),
    Case("verification code", SecretKind.VERIFICATION_CODE, False, _template(CODES, code)),
    Case(
        "verification code, spaced",
        SecretKind.VERIFICATION_CODE,
        False,
        lambda rng: "验证码：" + " ".join(code(rng)[i : i + 2] for i in (0, 2, 4)),
    ),
    Case("talk about passwords and codes", None, False, lambda rng: rng.choice(TALK)),
    Case("BTC/TRON/ETH address", None, False, address),
]


def mnemonic_detection(rng: random.Random) -> Iterator[tuple[str, str, int, int, int]]:
    """Per language, layout and length: (language, layout, length, found, wholly hidden)."""
    for language in LANGUAGES:
        for name, layout in LAYOUTS.items():
            if layout.chinese_only and language == "english":
                continue
            for length in VALID_LENGTHS:
                found = hidden = 0
                for _ in range(PER_CASE):
                    words = mnemonic_words(rng, language, length)
                    text = layout.text(words)
                    findings = [f for f in find_secrets(text) if f.kind is SecretKind.MNEMONIC]
                    found += bool(findings)
                    hidden += covers_words(text, words, findings, len(layout.before))
                yield language, name, length, found, hidden


def covers_words(text: str, words: list[str], findings: list[Finding], start: int = 0) -> bool:
    """Whether every word of the mnemonic, typed from ``start`` on, lies inside a finding."""
    position = start
    for word in words:
        position = text.index(word, position)
        if not any(f.start <= position and position + len(word) <= f.end for f in findings):
            return False
        position += len(word)
    return True


def chinese_runs(texts: list[str], checksum: bool = False) -> list[str]:
    """Every 12-24 character run of ``texts`` made of one list's words (passing the checksum)."""
    runs = set()
    for text in texts:
        for chunk in re.findall(r"[\u4e00-\u9fff]{12,}", text):
            for language in CHINESE_LISTS:
                index = wordlist(language).index
                for length in VALID_LENGTHS:
                    for start in range(len(chunk) - length + 1):
                        window = chunk[start : start + length]
                        if all(c in index for c in window) and (
                            not checksum or checksum_ok([index[c] for c in window])
                        ):
                            runs.add(window)
    return sorted(runs)


def chinese_score(characters: str | list[str]) -> float:
    """The guard's "reads like Chinese" score, in simplified script."""
    simplified = wordlist("chinese_traditional").simplified
    return log_probability_per_character("".join(simplified.get(c, c) for c in characters))


def spaced_out(texts: list[str]) -> list[str]:
    """Sentences of 12 Chinese characters or more, typed with a space between characters."""
    return [
        " ".join(re.sub(r"\s", "", text))
        for text in texts
        if len(re.findall(r"[\u4e00-\u9fff]", text)) >= 12
    ]


def mnemonic_found(text: str) -> bool:
    return any(f.kind is SecretKind.MNEMONIC for f in find_secrets(text))


def timing(messages: list[str]) -> tuple[float, float]:
    """Mean and 99th percentile milliseconds per message, after one warm-up pass.

    As the channel intake runs the guard: the secrets of the message, then the split check of
    what it leaves, each message in the conversation of the one before.
    """
    held = SplitMnemonics()
    for message in messages:
        find_secrets(message)
    times = []
    for number, message in enumerate(messages):
        started = time.perf_counter()
        findings = find_secrets(message)
        held.see("timing", str(number), redact(message, findings))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.mean(times), statistics.quantiles(times, n=100)[98]


def completions(messages: list[str]) -> list[str]:
    """The messages that complete a split mnemonic when ``messages`` are sent in a row."""
    held = SplitMnemonics()
    return [m for number, m in enumerate(messages) if held.see("c", str(number), m) is not None]


def report_project(sentences: list[str]) -> None:
    certain = [(s, f) for s in sentences for f in find_secrets(s) if not f.uncertain]
    uncertain = [s for s in sentences if any(f.uncertain for f in find_secrets(s))]
    print("Project sentences (data/nlu, tests/nlu/heldout/, tests/test_stories.yml)")
    print(f"  checked {len(sentences)}, false positives (certain findings) {len(certain)}")
    for sentence, finding in certain:
        print(f"    {finding.kind.value}: {sentence}")
    print(f"  uncertain (undecided hash-like strings) {len(uncertain)}")
    for sentence in uncertain:
        print(f"    {sentence}")


def report_natural_text(natural: list[str], rng: random.Random) -> None:
    runs = chinese_runs(natural, checksum=True)
    print("Chinese of the project's sentences and responses")
    print(
        f"  checksum-valid runs of 12-24 characters, each as a message: {len(runs)}, "
        f"flagged {sum(bool(find_secrets(run)) for run in runs)}"
    )
    spaced = spaced_out(natural)
    print(
        f"  sentences typed with spaces between characters: {len(spaced)}, "
        f"flagged {sum(map(mnemonic_found, spaced))}"
    )
    every_run = chinese_runs(natural)
    scores = [
        chinese_score(mnemonic_words(rng, rng.choice(CHINESE_LISTS), 12)) for _ in range(20000)
    ]
    print(
        f"  score of the least Chinese-like of all {len(every_run)} runs of 12-24 list characters "
        f"{min(map(chinese_score, every_run), default=0.0):.2f}; flagged at or below "
        f"{UNLIKE_CHINESE:.2f}; generated 12-word mnemonics above it "
        f"{sum(score > UNLIKE_CHINESE for score in scores)} of {len(scores)}"
    )
    paragraphs = english_paragraphs()
    print(
        f"English docstring paragraphs of the standard library: {len(paragraphs)}, "
        f"flagged as a mnemonic {sum(map(mnemonic_found, paragraphs))}"
    )


def report_mnemonics(rng: random.Random) -> None:
    print(f"Mnemonics found/wholly hidden of {PER_CASE}, by length {VALID_LENGTHS}")
    rows: dict[tuple[str, str], list[str]] = {}
    for language, name, _, found, hidden in mnemonic_detection(rng):
        rows.setdefault((language, name), []).append(f"{found}/{hidden}")
    for (language, name), cells in rows.items():
        print(f"  {language:20} {name:25} {'  '.join(cells)}")
    english = reference("english").wordlist
    mistyped = 0
    for _ in range(PER_CASE):
        words = mnemonic_words(rng, "english", 12)
        words[rng.randrange(12)] = rng.choice(english)
        mistyped += mnemonic_found(" ".join(words))
    print(f"  english, one word replaced (checksum mostly wrong) {mistyped}/{PER_CASE}")


def report_mistyped(rng: random.Random) -> list[str]:
    """Prints how often each mistyped mnemonic is found and wholly hidden; the messages."""
    print(f"Mistyped and full-width mnemonics found/wholly hidden, of {PER_CASE}")
    messages = []
    for name, make in MISTYPED.items():
        found = hidden = 0
        for _ in range(PER_CASE):
            words, layout = make(rng)
            text = layout.text(words)
            messages.append(text)
            findings = [f for f in find_secrets(text) if f.kind is SecretKind.MNEMONIC]
            found += bool(findings)
            hidden += covers_words(text, words, findings, len(layout.before))
        print(f"  {name:42} {found}/{hidden}")
    return messages


def report_split(rng: random.Random, sentences: list[str]) -> list[str]:
    """Prints how often split mnemonics are wholly hidden and what else completes one."""
    print(
        f"Mnemonics split over messages ({SPLITS}, with and without 前6个： labels), "
        f"wholly hidden of {PER_CASE}"
    )
    messages = []
    for language in LANGUAGES:
        cells = []
        for sizes in SPLITS:
            hidden = 0
            for _ in range(PER_CASE):
                words = mnemonic_words(rng, language, sum(sizes))
                texts = split_texts(words, sizes, rng.random() < 0.5)
                messages += texts
                hidden += split_hidden(texts)
            cells.append(str(hidden))
        print(f"  {language:20} {'  '.join(cells)}")
    paragraphs = english_paragraphs()
    print(
        f"  completed by the project's {len(sentences)} sentences sent in a row: "
        f"{len(completions(sentences))}; by {len(paragraphs)} English docstring paragraphs "
        f"in a row: {len(completions(paragraphs))}"
    )
    return messages


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


def report_cases(rng: random.Random) -> list[str]:
    """Prints how often each generated case is reported as expected; returns the messages."""
    print(f"Keys, keystore files, passwords, codes: reported as expected, of {PER_CASE}")
    messages = []
    for case in CASES:
        expected = [] if case.kind is None else [(case.kind, case.uncertain)]
        right = 0
        for _ in range(PER_CASE):
            text = case.make(rng)
            messages.append(text)
            right += [(f.kind, f.uncertain) for f in find_secrets(text)] == expected
        print(f"  {case.name:32} {right}/{PER_CASE}")
    return messages


def main() -> None:
    """Prints every figure."""
    rng = random.Random(SEED)
    sentences = project_sentences()
    report_project(sentences)
    report_natural_text(sentences + response_texts(), rng)
    report_mnemonics(rng)
    generated = report_mistyped(rng)
    generated += report_cases(rng)
    generated += report_split(rng, sentences)
    mean, p99 = timing(sentences + generated)
    print(
        f"Time per message (secret guard and split check) over "
        f"{len(sentences) + len(generated)} messages: mean {mean:.3f} ms, p99 {p99:.3f} ms"
    )


if __name__ == "__main__":
    main()
