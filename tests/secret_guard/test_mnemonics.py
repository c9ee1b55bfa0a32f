"""Mnemonics in every language, length and layout are hidden whole; Chinese sentences are not."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mnemonic import Mnemonic

from bot.secret_guard import Finding, SecretKind, find_secrets, redact
from bot.secret_guard.mnemonics import VALID_LENGTHS, checksum_ok, wordlist
from scripts.secret_samples import LANGUAGES, LAYOUTS, covers_words, misspelt, mnemonic_words

LAYOUT_CASES = [
    (language, name, length)
    for language in LANGUAGES
    for name, layout in LAYOUTS.items()
    if language != "english" or not layout.chinese_only
    for length in VALID_LENGTHS
]


def mnemonics_in(text: str) -> list[Finding]:
    return [f for f in find_secrets(text) if f.kind is SecretKind.MNEMONIC]


@pytest.mark.parametrize(("language", "layout", "length"), LAYOUT_CASES)
def test_a_generated_mnemonic_is_hidden_whole_and_nothing_around_it(
    language: str, layout: str, length: int
) -> None:
    rng = random.Random(f"{language} {layout} {length}")
    shape = LAYOUTS[layout]
    for _ in range(5):
        words = mnemonic_words(rng, language, length)
        text = shape.text(words)
        findings = find_secrets(text)
        assert [f.kind for f in findings] == [SecretKind.MNEMONIC]
        assert not findings[0].uncertain
        assert covers_words(text, words, findings, len(shape.before))
        assert len(shape.before) <= findings[0].start
        assert findings[0].end == len(text) - len(shape.after)


def test_the_redacted_message_keeps_the_words_around_the_mnemonic() -> None:
    words = mnemonic_words(random.Random(1), "chinese_simplified", 12)
    text = f"我的助记词是 {' '.join(words)} 帮我看看币还在不在"
    assert redact(text, find_secrets(text)) == "我的助记词是 [已隐藏的助记词] 帮我看看币还在不在"


def test_upper_case_and_numbered_english_words_are_one_mnemonic() -> None:
    words = mnemonic_words(random.Random(2), "english", 24)
    text = "\n".join(f"{i}) {word.capitalize()}" for i, word in enumerate(words, 1))
    redacted = redact(text, find_secrets(text))
    assert redacted == "1) [已隐藏的助记词]"


def test_a_mistyped_english_mnemonic_that_is_the_whole_message_is_hidden() -> None:
    words = wrong_checksum(random.Random(3))
    assert [(f.start, f.end) for f in mnemonics_in(" ".join(words))] == [(0, len(" ".join(words)))]
    assert mnemonics_in(f"seed: {' '.join(words)}")


def test_list_words_without_checksum_inside_a_longer_english_message_are_not_a_mnemonic() -> None:
    words = " ".join(wrong_checksum(random.Random(4)))
    text = f"I wrote {words} on paper but my new phone says that it is not valid, so what now"
    assert mnemonics_in(text) == []


def test_one_word_outside_the_list_inside_a_mnemonic_is_hidden_with_it() -> None:
    words = mnemonic_words(random.Random(5), "english", 12)
    text = " ".join([*words[:6], "the", *words[6:]])
    assert redact(text, find_secrets(text)) == "[已隐藏的助记词]"


def test_two_words_outside_the_list_break_the_run() -> None:
    words = mnemonic_words(random.Random(5), "english", 12)
    text = " ".join([*words[:4], "the", *words[4:8], "and", *words[8:]])
    assert mnemonics_in(text) == []


@pytest.mark.parametrize("edits", [1, 2])
@pytest.mark.parametrize("position", [0, 5, 11])
@pytest.mark.parametrize("length", [12, 24])
def test_a_mnemonic_with_a_misspelt_word_is_hidden_whole(
    edits: int, position: int, length: int
) -> None:
    rng = random.Random(f"misspelt {edits} {position} {length}")
    for _ in range(5):
        words = mnemonic_words(rng, "english", length)
        words[position] = misspelt(words[position], rng, edits)
        text = f"助记词：{' '.join(words)} 帮我看看"
        assert redact(text, find_secrets(text)) == "助记词：[已隐藏的助记词] 帮我看看"


@pytest.mark.parametrize("missing", [0, 6, 11])
def test_eleven_words_of_twelve_are_hidden(missing: int) -> None:
    words = mnemonic_words(random.Random(f"missing {missing}"), "english", 12)
    del words[missing]
    text = "\n".join(words)
    assert redact(text, find_secrets(text)) == "[已隐藏的助记词]"


def test_eleven_list_words_inside_english_prose_count_only_when_a_mnemonic_is_named() -> None:
    words = " ".join(wrong_checksum(random.Random(6))[:11])
    prose = f"I wrote {words} on paper but my new phone says that it is not valid, so what now"
    assert mnemonics_in(prose) == []
    named = f"My recovery phrase {words} on paper is not valid, so what now"
    assert redact(named, find_secrets(named)).count("[已隐藏的助记词]") == 1
    assert words not in redact(named, find_secrets(named))


def test_list_words_that_repeat_are_a_list_not_a_mnemonic() -> None:
    # From the docstring of heapq.merge: 13 list words around "len", most of them twice.
    text = (
        ">>> list(merge(['dog', 'horse'], ['cat', 'fish', 'kangaroo'], key=len))\n"
        "['dog', 'cat', 'fish', 'horse', 'kangaroo']"
    )
    assert mnemonics_in(text) == []


@pytest.mark.parametrize("language", ["chinese_simplified", "chinese_traditional"])
def test_eleven_chinese_words_of_twelve_set_apart_are_hidden(language: str) -> None:
    words = mnemonic_words(random.Random(f"11 {language}"), language, 12)[:11]
    text = f"助记词 {' '.join(words)} 对吗"
    assert redact(text, find_secrets(text)) == "助记词 [已隐藏的助记词] 对吗"


@pytest.mark.parametrize(
    "text",
    [
        "中秋节人工服务时间有调整",  # 12 characters, all BIP39 words, passes the checksum
        "不小心把助记词发给了假客",  # the same, and names a mnemonic
        "我的钱包里的币被人转走了",  # 12 BIP39 words failing the checksum
        "我的钱包里的币被人转走了怎么办",
        "请问你们的客服电话是多少呢",
        "我 的 钱 包 里 的 币 被 人 转 走 了 怎 么 办",  # typed with spaces between characters
        "怎么备份助记词",
        "助记词只记得11个词",
        "12个词和24个词的助记词都能导入吗",
        "我的助记词是什么，在哪里可以看到，帮我看看",
    ],
)
def test_chinese_sentences_are_not_mnemonics(text: str) -> None:
    assert find_secrets(text) == []


@given(st.sampled_from(["english", "chinese_simplified", "chinese_traditional"]), st.data())
def test_the_checksum_agrees_with_the_reference_implementation(
    language: str, data: st.DataObject
) -> None:
    length = data.draw(st.sampled_from(VALID_LENGTHS))
    indices = data.draw(st.lists(st.integers(0, 2047), min_size=length, max_size=length))
    reference = Mnemonic(language)
    assert checksum_ok(indices) == reference.check(" ".join(reference.wordlist[i] for i in indices))


def test_traditional_words_map_to_their_simplified_twins() -> None:
    traditional = wordlist("chinese_traditional")
    assert traditional.simplified["們"] == "们"
    assert traditional.index["們"] == wordlist("chinese_simplified").index["们"]


def wrong_checksum(rng: random.Random) -> list[str]:
    """Twelve list words whose every window fails the checksum."""
    english = Mnemonic("english").wordlist
    while True:
        words = rng.sample(english, 12)
        if not checksum_ok([english.index(w) for w in words]):
            return words
