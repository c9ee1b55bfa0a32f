"""Nothing the project's own users say in its data and tests is taken for a secret."""

from __future__ import annotations

import re

from bot.secret_guard import find_secrets
from scripts.ordinary_texts import (
    chinese_runs,
    plain_text,
    project_sentences,
    response_texts,
    spaced_out,
)

HASH_LIKE = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")


def test_entity_annotations_become_plain_text() -> None:
    assert plain_text("这笔[0x3e49](tx_hash)转了[500U](amount)") == "这笔0x3e49转了500U"
    assert plain_text('走[TRC20]{"entity": "chain"}链') == "走TRC20链"
    assert plain_text("[已隐藏的助记词] 帮我看看") == "[已隐藏的助记词] 帮我看看"


def test_no_project_sentence_holds_a_certain_secret() -> None:
    sentences = project_sentences()
    assert len(sentences) > 1000  # the parser read the files
    flagged = [(s, f) for s in sentences for f in find_secrets(s) if not f.uncertain]
    assert flagged == []


def test_only_bare_transaction_hashes_stay_undecided() -> None:
    undecided = [
        f.candidate(s) for s in project_sentences() for f in find_secrets(s) if f.uncertain
    ]
    assert all(HASH_LIKE.fullmatch(candidate) for candidate in undecided)


def test_chinese_that_passes_a_checksum_by_chance_is_not_a_mnemonic() -> None:
    natural = project_sentences() + response_texts()
    runs = chinese_runs(natural, checksum=True)
    assert len(runs) > 20
    assert [run for run in runs if find_secrets(run)] == []
    assert [s for s in spaced_out(natural) if find_secrets(s)] == []
