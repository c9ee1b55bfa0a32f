"""Secrets typed in full-width characters (a Chinese IME) are found and hidden where they were typed."""

from __future__ import annotations

import random

import pytest

from bot.secret_guard import find_secrets, redact
from bot.secret_guard.folding import fold
from scripts.secret_samples import mnemonic_words, wide


def test_full_width_letters_digits_and_spaces_fold_to_ascii_with_the_same_offsets() -> None:
    folded = fold(wide("Abc 1@3") + "，好！")
    assert folded.text == "Abc 1@3，好！"  # Chinese punctuation stays: it ends a password
    assert folded.span(4, 7) == (4, 7)
    assert fold(wide("ab") + "，" + wide("cd")).text == "ab,cd"  # but not inside a word


def test_a_character_that_folds_into_several_maps_back_to_itself() -> None:
    text = "密码是ＰａｓｓⅫ９，对吗"  # Ⅻ folds to XII; "，" stays
    folded = fold(text)
    assert folded.text == "密码是PassXII9，对吗"
    assert folded.span(3, 11) == (3, 9)
    assert folded.span(8, 9) == (7, 8)  # "I" inside "XII" is "Ⅻ"
    assert redact(text, find_secrets(text)) == "密码是[已隐藏的密码]，对吗"


@pytest.mark.parametrize("length", [12, 24])
def test_a_full_width_english_mnemonic_is_hidden_and_the_words_around_it_kept(
    length: int,
) -> None:
    words = mnemonic_words(random.Random(f"wide {length}"), "english", length)
    text = f"我的助记词是：{wide(' '.join(words))}，帮我看看"
    assert redact(text, find_secrets(text)) == "我的助记词是：[已隐藏的助记词]，帮我看看"


def test_a_full_width_mnemonic_with_capitals_and_numbers_is_hidden() -> None:
    words = mnemonic_words(random.Random("wide numbered"), "english", 12)
    text = wide(" ".join(f"{i}.{word.capitalize()}" for i, word in enumerate(words, 1)))
    assert redact(text, find_secrets(text)) == f"{wide('1.')}[已隐藏的助记词]"


def test_a_chinese_mnemonic_set_apart_by_ideographic_spaces_is_hidden() -> None:
    words = mnemonic_words(random.Random("ideographic"), "chinese_simplified", 12)
    text = f"助记词：{'　'.join(words)}"
    assert redact(text, find_secrets(text)) == "助记词：[已隐藏的助记词]"


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (f"我的登录密码是{wide('Abc123!x')}", "我的登录密码是[已隐藏的密码]"),
        (f"验证码：{wide('739182')}", "验证码：[已隐藏的验证码]"),
    ],
)
def test_full_width_passwords_and_codes_are_hidden(text: str, redacted: str) -> None:
    assert redact(text, find_secrets(text)) == redacted
