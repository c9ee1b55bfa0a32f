"""A mnemonic split over consecutive messages is found when its last part arrives, and only then."""

from __future__ import annotations

import random

import pytest

from bot.secret_guard import find_secrets, redact
from bot.secret_guard.cues import load_cues
from bot.secret_guard.mnemonics import NEAR_SHORTEST
from bot.secret_guard.split import (
    SPLIT_SECONDS,
    Completion,
    HeldPart,
    SplitMnemonics,
    find_part,
)
from scripts.ordinary_texts import english_paragraphs, project_sentences
from scripts.secret_samples import (
    LANGUAGES,
    SPLITS,
    completions,
    mnemonic_words,
    split_hidden,
    split_texts,
    wide,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send(held: SplitMnemonics, texts: list[str], conversation: str = "c1") -> Completion | None:
    """Each text as one message of ``conversation``; what the last one completed."""
    completion = None
    for i, text in enumerate(texts):
        completion = held.see(conversation, f"{conversation}-{len(held.texts)}-{i}-{text}", text)
    return completion


CASES = [
    (language, sizes, labels)
    for language in LANGUAGES
    for sizes in SPLITS
    for labels in (True, False)
]


@pytest.mark.parametrize(("language", "sizes", "labels"), CASES)
def test_every_part_is_hidden_by_the_time_the_last_arrives(
    language: str, sizes: list[int], labels: bool
) -> None:
    words = mnemonic_words(random.Random(f"{language} {sizes}"), language, sum(sizes))
    texts = split_texts(words, sizes, labels)
    for text, size in zip(texts, sizes, strict=True):
        if size < NEAR_SHORTEST:
            assert find_secrets(text) == []  # a part alone is ordinary text
    assert split_hidden(texts)


def test_the_last_part_names_the_earlier_parts_as_stored() -> None:
    words = mnemonic_words(random.Random("named"), "english", 12)
    texts = split_texts(words, [6, 6], labels=True)
    held = SplitMnemonics()
    assert held.see("c", "m1", texts[0]) is None
    completion = held.see("c", "m2", texts[1])
    assert completion is not None
    assert redact(texts[1], [completion.finding]) == "后6个：[已隐藏的助记词]"
    assert completion.earlier == (HeldPart("m1", " ".join(words[:6])),)


def test_english_labels_before_a_colon_are_not_words() -> None:
    words = mnemonic_words(random.Random("labels"), "english", 12)
    held = SplitMnemonics()
    assert send(held, [f"first 6: {' '.join(words[:6])}"]) is None
    completion = send(held, [f"last six: {' '.join(words[6:])}"])
    assert completion is not None
    assert [part.text for part in completion.earlier] == [" ".join(words[:6])]


def test_full_width_parts_are_found_and_hidden_where_typed() -> None:
    words = mnemonic_words(random.Random("wide split"), "english", 12)
    halves = [wide(" ".join(half)) for half in (words[:6], words[6:])]
    held = SplitMnemonics()
    assert send(held, [f"前6个：{halves[0]}"]) is None
    last = f"后6个：{halves[1]}"
    completion = send(held, [last])
    assert completion is not None
    assert redact(last, [completion.finding]) == "后6个：[已隐藏的助记词]"
    assert completion.earlier[0].text == halves[0]


def test_parts_too_old_or_not_in_a_row_complete_nothing() -> None:
    words = mnemonic_words(random.Random("old"), "english", 12)
    first, second = " ".join(words[:6]), " ".join(words[6:])
    clock = Clock()
    held = SplitMnemonics(clock=clock)
    send(held, [first])
    clock.now += SPLIT_SECONDS + 1
    assert send(held, [second]) is None
    assert send(SplitMnemonics(), [first, "等一下", second]) is None


def test_parts_of_two_conversations_do_not_meet() -> None:
    words = mnemonic_words(random.Random("two"), "english", 12)
    held = SplitMnemonics()
    send(held, [" ".join(words[:6])], "alice")
    assert send(held, [" ".join(words[6:])], "bob") is None


def test_a_resent_message_is_not_a_second_part() -> None:
    words = mnemonic_words(random.Random("again"), "english", 12)
    first, second = " ".join(words[:6]), " ".join(words[6:])
    held = SplitMnemonics()
    assert held.see("c", "m1", first) is None
    assert held.see("c", "m1", first) is None  # the client resent it: replayed, not a new turn
    assert held.texts == (first,)
    completion = held.see("c", "m2", second)
    assert completion is not None
    assert [part.message_id for part in completion.earlier] == ["m1"]


def test_held_parts_are_listed_until_they_expire_and_are_bounded() -> None:
    clock = Clock()
    held = SplitMnemonics(conversations=2, clock=clock)
    parts = [" ".join(mnemonic_words(random.Random(i), "english", 12)[:6]) for i in range(3)]
    for i, part in enumerate(parts):
        held.see(f"c{i}", "m", part)
    assert held.texts == tuple(parts[1:])  # the conversation quiet longest went first
    clock.now += SPLIT_SECONDS
    held.see("c9", "m", "你好")
    assert held.texts == ()


@pytest.mark.parametrize(
    "text",
    [
        "我 的 钱 包 里 的 币",  # spaced-out Chinese holds a part ...
        "被 人 转 走 了 怎 么 办",
    ],
)
def test_spaced_out_chinese_holds_a_part_that_reads_like_chinese(text: str) -> None:
    assert find_part(text, load_cues()) is not None


def test_spaced_out_chinese_sentences_complete_nothing() -> None:
    # ... but two of them together read like Chinese, whatever the checksum says.
    held = SplitMnemonics()
    assert send(held, ["我 的 钱 包 里 的", "币 被 人 转 走 了"]) is None


def test_ordinary_messages_hold_no_part() -> None:
    cues = load_cues()
    for text in ["你好", "我的币没到账", "USDT 转账 pending 了", "abandon", "help me please"]:
        assert find_part(text, cues) is None


def test_the_project_sentences_and_english_prose_in_a_row_complete_nothing() -> None:
    assert completions(project_sentences()) == []
    assert completions(english_paragraphs()) == []
