"""Redaction hides exactly the findings; markers read back in order of severity; nothing raises."""

from __future__ import annotations

import itertools
import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from mnemonic import Mnemonic

from bot.secret_guard import SEVERITY, Finding, SecretKind, find_secrets, marker_kinds, redact
from bot.secret_guard.cues import load_cues
from scripts.secret_samples import b58encode, keystore, mnemonic_words, solana_secret

MARKERS = load_cues().markers


def test_every_kind_has_its_marker_and_reads_back() -> None:
    assert MARKERS[SecretKind.MNEMONIC] == "[已隐藏的助记词]"
    assert MARKERS[SecretKind.PRIVATE_KEY] == "[已隐藏的私钥]"
    assert MARKERS[SecretKind.KEYSTORE] == "[已隐藏的密钥文件]"
    assert MARKERS[SecretKind.PASSWORD] == "[已隐藏的密码]"
    assert MARKERS[SecretKind.VERIFICATION_CODE] == "[已隐藏的验证码]"
    for kind in SecretKind:
        assert marker_kinds(f"你好{MARKERS[kind]}") == [kind]


def test_marker_kinds_come_most_severe_first() -> None:
    text = "验证码[已隐藏的验证码] 助记词[已隐藏的助记词] [已隐藏的密钥文件] [已隐藏的私钥]"
    assert marker_kinds(text) == [
        SecretKind.MNEMONIC,
        SecretKind.PRIVATE_KEY,
        SecretKind.KEYSTORE,
        SecretKind.VERIFICATION_CODE,
    ]
    assert marker_kinds("助记词怎么备份") == []


def test_overlapping_findings_are_hidden_under_the_most_severe_marker() -> None:
    findings = [
        Finding(SecretKind.PASSWORD, 2, 6),
        Finding(SecretKind.PRIVATE_KEY, 4, 8),
        Finding(SecretKind.VERIFICATION_CODE, 20, 30),  # clipped to the text
    ]
    assert redact("0123456789abc", findings) == "01[已隐藏的私钥]89abc"


def test_find_secrets_joins_overlapping_findings_over_their_union() -> None:
    text = f"密码是{'ab' * 32}"  # a password and an undecided hash-like string, same span
    assert find_secrets(text) == [Finding(SecretKind.PASSWORD, 3, len(text))]


def test_several_secrets_in_one_message_are_each_hidden() -> None:
    rng = random.Random(1)
    words = " ".join(mnemonic_words(rng, "english", 12))
    text = f"助记词 {words}，验证码 123456，keystore {keystore(rng)} 完了"
    assert redact(text, find_secrets(text)) == (
        "助记词 [已隐藏的助记词]，验证码 [已隐藏的验证码]，keystore [已隐藏的密钥文件] 完了"
    )


FRAGMENTS = st.sampled_from(
    [
        " ",
        "，",
        "\n",
        "1. ",
        "0x",
        "私钥",
        "交易哈希",
        "密码是",
        "验证码：",
        "助记词",
        "{",
        "}",
        '"ciphertext":',
        '"kdf":',
        "[",
        "255,",
        "12345678",
        "abc123",
        "\ud800",
        "\x00",
        "ab" * 32,
        *Mnemonic("english").wordlist[:8],
        *Mnemonic("chinese_simplified").wordlist[:40],
        *Mnemonic("chinese_traditional").wordlist[1000:1020],
        b58encode(solana_secret(random.Random(0))),
    ]
)
ANY_TEXT = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=[])),
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=3)), max_size=60).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_findings_are_sorted_apart_in_bounds_and_hidden_exactly(text: str) -> None:
    findings = find_secrets(text)
    for finding in findings:
        assert 0 <= finding.start < finding.end <= len(text)
        assert finding.kind in SEVERITY
        assert not finding.uncertain or finding.kind is SecretKind.PRIVATE_KEY
    for before, after in itertools.pairwise(findings):
        assert before.end <= after.start
    expected, shown = [], 0
    for finding in findings:
        expected += [text[shown : finding.start], MARKERS[finding.kind]]
        shown = finding.end
    assert redact(text, findings) == "".join([*expected, text[shown:]])


def test_long_and_odd_messages_neither_raise_nor_take_long() -> None:
    rng = random.Random(2)
    chinese = Mnemonic("chinese_simplified").wordlist
    texts = [
        "助记词" + "".join(rng.choices(chinese, k=1000)),
        " ".join(rng.choices(chinese, k=500)),
        " ".join(rng.choices(Mnemonic("english").wordlist, k=200)),
        "{" * 500 + '"ciphertext": "kdf":' + "}" * 500,
        "验证码" * 300,
        "\ud800\udfff\x00\x7f" * 250,
        "密码是 " * 250,
    ]
    started = time.perf_counter()
    for text in texts:
        find_secrets(text)
    assert time.perf_counter() - started < 5
