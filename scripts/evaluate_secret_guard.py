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

import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot.secret_guard import SecretKind, find_secrets, redact
from bot.secret_guard.chinese_text import log_probability_per_character
from bot.secret_guard.mnemonics import CHINESE_LISTS, UNLIKE_CHINESE, VALID_LENGTHS, wordlist
from bot.secret_guard.split import SplitMnemonics
from scripts.ordinary_texts import (
    chinese_runs,
    english_paragraphs,
    project_sentences,
    response_texts,
    spaced_out,
)
from scripts.secret_samples import (
    LANGUAGES,
    LAYOUTS,
    MISTYPED,
    SPLITS,
    address,
    b58encode,
    code,
    completions,
    covers_words,
    grouped_hex,
    keystore,
    mnemonic_words,
    password,
    random_hex,
    reference,
    solana_secret,
    split_hidden,
    split_texts,
    wide,
    wif,
    xprv,
)

SEED = 20240601
PER_CASE = 300


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


def chinese_score(characters: str | list[str]) -> float:
    """The guard's "reads like Chinese" score, in simplified script."""
    simplified = wordlist("chinese_traditional").simplified
    return log_probability_per_character("".join(simplified.get(c, c) for c in characters))


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
