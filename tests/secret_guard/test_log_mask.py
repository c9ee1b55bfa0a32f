"""While a part of a split mnemonic is held, no log line shows it, however it is written."""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator

import pytest

from bot.secret_guard.log_mask import WITHHELD, mask_held_parts
from bot.secret_guard.split import SPLIT_SECONDS, SplitMnemonics
from scripts.secret_samples import mnemonic_words


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    factory = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.log_mask")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logging.setLogRecordFactory(factory)


def test_a_held_part_is_masked_as_typed_as_json_and_as_bytes(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log
    clock = Clock()
    held = SplitMnemonics(clock=clock)
    mask_held_parts(held)
    english = " ".join(mnemonic_words(random.Random(1), "english", 12)[:6])
    chinese = " ".join(mnemonic_words(random.Random(2), "chinese_simplified", 12)[:6])
    held.see("a", "m1", f"前6个：{english}")
    held.see("b", "m1", f"前6个：{chinese}")
    for text in (english, chinese):
        message = f"前6个：{text}"
        logger.debug("user text: %s", message)
        logger.debug(json.dumps({"parse_data_text": message}))
        logger.debug(json.dumps({"event": json.dumps({"text": message})}))
        logger.debug("body %r", message.encode())
    lines = stream.getvalue().splitlines()
    assert len(lines) == 8 and all(WITHHELD in line for line in lines)
    written = stream.getvalue()
    assert not any(word in written for word in english.split())
    for word in chinese.split():
        escaped = json.dumps(word)[1:-1]
        assert word not in written and escaped not in written and escaped[1:] not in written

    clock.now += SPLIT_SECONDS
    held.see("c", "m1", "你好")  # the parts expired
    logger.debug("user text: %s", english)
    assert stream.getvalue().splitlines()[-1] == f"user text: {english}"


def test_records_without_held_text_are_left_alone(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    held = SplitMnemonics()
    mask_held_parts(held)
    held.see("a", "m1", " ".join(mnemonic_words(random.Random(3), "english", 12)[:6]))
    logger.info("turn took %d ms in %s", 12, "conversation-1")
    assert stream.getvalue() == "turn took 12 ms in conversation-1\n"
