"""The training-time augmentation: deterministic variants that keep intents and entities, never a
held-out text, and the importer config.yml actually uses."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from rasa.shared.importers.importer import TrainingDataImporter
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.help_center.articles import parse_article
from bot.nlu.augmentation import (
    NOT_AUGMENTED,
    SOCIAL,
    Augmenter,
    AugmentingImporter,
    help_center_data,
)
from scripts.heldout import HELDOUT, load_heldout
from scripts.local_stack import ROOT

TABLES = ROOT / "data" / "augmentation"
HASH = "0x4f396a4eb2c3c0b6615b0a236174c8b614dcd75cd56f58bba01ba22d455638de"


def normalised(text: str) -> str:
    return re.sub(r"\s+", "", text.strip().lower())


@pytest.fixture(scope="module")
def hand_written() -> TrainingData:
    """The NLU files' examples and the help center's, before any variant."""
    nlu = RasaFileImporter(str(ROOT / "config.yml"), None, [str(ROOT / "data")]).get_nlu_data("zh")
    taken = {m.get(TEXT) for m in nlu.intent_examples}
    return nlu.merge(help_center_data([ROOT / "data" / "help_center"], taken))


@pytest.fixture(scope="module")
def trained_on() -> TrainingData:
    """What `rasa train` trains the NLU on: the config's importers over the project's data."""
    importer = TrainingDataImporter.load_nlu_importer_from_config(
        str(ROOT / "config.yml"), str(ROOT / "domain.yml"), [str(ROOT / "data")]
    )
    return importer.get_nlu_data("zh")


def test_config_trains_on_the_augmenting_importer(
    hand_written: TrainingData, trained_on: TrainingData
) -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [importer["name"] for importer in config["importers"]]
    assert names == [f"{AugmentingImporter.__module__}.{AugmentingImporter.__name__}"]
    written = {m.get(TEXT) for m in hand_written.intent_examples}
    trained = {m.get(TEXT) for m in trained_on.intent_examples}
    assert written < trained
    # Bounded: at most two variants per example keeps training from scratch well under 3 min.
    assert len(trained) <= 3 * len(written)
    assert trained_on.regex_features == hand_written.regex_features


def test_variants_are_the_same_every_time(hand_written: TrainingData) -> None:
    first, second = Augmenter(TABLES), Augmenter(TABLES)
    for message in hand_written.intent_examples:
        args = (message.get(TEXT), message.get(INTENT), message.get(ENTITIES) or [])
        assert first.variants(*args) == second.variants(*args)


def test_variants_keep_entities_at_the_right_offsets(hand_written: TrainingData) -> None:
    augmenter = Augmenter(TABLES)
    patterns = {regex["name"]: regex["pattern"] for regex in hand_written.regex_features}
    checked = 0
    for message in hand_written.intent_examples:
        entities = message.get(ENTITIES) or []
        if not entities:
            continue
        expected = sorted((e["entity"], e["value"]) for e in entities)
        for text, moved in augmenter.variants(message.get(TEXT), message.get(INTENT), entities):
            assert sorted((e["entity"], e["value"]) for e in moved) == expected
            for entity in moved:
                assert text[entity["start"] : entity["end"]] == entity["value"]
                # The regex extractor still finds it: not run into letters of a pinyin variant.
                found = re.search(patterns[entity["entity"]], text)
                assert found and found.group() == entity["value"], text
            checked += 1
    assert checked >= 30


def test_variants_keep_the_intent_and_social_messages_stay_bare(
    trained_on: TrainingData, hand_written: TrainingData
) -> None:
    written = {(m.get(TEXT), m.get(INTENT)) for m in hand_written.intent_examples}
    by_text: dict[str, set[str]] = {}
    for message in trained_on.intent_examples:
        by_text.setdefault(message.get(TEXT), set()).add(message.get(INTENT))
    assert all(len(intents) == 1 for intents in by_text.values())
    wrappers = yaml.safe_load((TABLES / "wrappers.yml").read_text(encoding="utf-8"))
    added = [
        (m.get(TEXT), m.get(INTENT))
        for m in trained_on.intent_examples
        if (m.get(TEXT), m.get(INTENT)) not in written
    ]
    assert not [text for text, intent in added if intent in NOT_AUGMENTED]
    assert [text for text, intent in added if intent in SOCIAL]
    augmenter = Augmenter(TABLES)
    # Only the other script: a homophone in a two-character 是的 makes 事的, and any short
    # question with 事 (怎么回事) would be read as a yes.
    assert all(
        [name for name, _, _ in augmenter.kinds(intent)] == ["traditional"] for intent in SOCIAL
    )
    for message in hand_written.intent_examples:
        source, intent = message.get(TEXT), message.get(INTENT)
        if intent not in SOCIAL:
            continue
        for text, _ in augmenter.variants(source, intent):
            for prefix in wrappers["prefixes"]:
                assert not (text.startswith(prefix) and not source.startswith(prefix)), text
            for suffix in wrappers["suffixes"]:
                assert not (text.endswith(suffix) and not source.endswith(suffix)), text


def test_each_kind_of_variant_is_what_users_type() -> None:
    augmenter = Augmenter(TABLES, variants_per_example=6)
    variants = [
        text for text, _ in augmenter.variants("转账一直没到账，怎么办", "transfer_pending")
    ]
    assert any("轉" in text for text in variants)  # traditional script
    assert any(re.fullmatch(r"[a-z ,]+", text) for text in variants)  # all pinyin
    wrappers = yaml.safe_load((TABLES / "wrappers.yml").read_text(encoding="utf-8"))
    assert any(
        text.startswith(tuple(wrappers["prefixes"])) or text.endswith(tuple(wrappers["suffixes"]))
        for text in variants
    )
    typos = [
        text
        for text in variants
        if len(text) == len("转账一直没到账，怎么办")
        and sum(a != b for a, b in zip(text, "转账一直没到账，怎么办", strict=True)) == 1
    ]
    assert typos  # one homophone substitution


@pytest.mark.parametrize(
    "text",
    [
        "😀😀😀",
        HASH,
        "转账" * 500,
        "zhuan zhang mei dao",
        "USDT轉賬 pending 中",
        "",
        "   ",
        "。。。",
    ],
)
def test_odd_messages_never_raise(text: str) -> None:
    augmenter = Augmenter(TABLES)
    for intent in ("transfer_pending", "affirm", "share_secret"):
        for variant, _ in augmenter.variants(text, intent):
            assert variant.strip()


def _overlap(heldout: set[str], texts: set[str]) -> int:
    """How many held-out texts are among ``texts``: a count only (an int, so pytest cannot show
    the texts), as printing them would show the held-out set to whoever reads the log."""
    return len(heldout & texts)


def test_no_heldout_text_is_a_hand_written_example(hand_written: TrainingData) -> None:
    heldout = {normalised(example.text) for example in load_heldout(ROOT / HELDOUT)}
    assert heldout
    written = {normalised(message.get(TEXT)) for message in hand_written.training_examples}
    leaked = _overlap(heldout, written)
    assert leaked == 0, f"{leaked} held-out texts are hand-written training examples"


def test_augmentation_adds_no_heldout_text(
    hand_written: TrainingData, trained_on: TrainingData
) -> None:
    heldout = {normalised(example.text) for example in load_heldout(ROOT / HELDOUT)}
    written = {normalised(message.get(TEXT)) for message in hand_written.training_examples}
    variants = {normalised(m.get(TEXT)) for m in trained_on.training_examples} - written
    assert variants
    leaked = _overlap(heldout, variants)
    assert leaked == 0, f"{leaked} held-out texts are augmented variants"


def test_the_importer_augments_only_the_files_it_is_given(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: transfer_pending\n  examples: |\n'
        "    - 转账一直没到账\n    - 提币三个小时了还没到\n",
        encoding="utf-8",
    )
    importer = AugmentingImporter(str(ROOT / "config.yml"), None, [str(tmp_path)])
    texts = [m.get(TEXT) for m in importer.get_nlu_data("zh").intent_examples]
    assert texts[:2] == ["转账一直没到账", "提币三个小时了还没到"]
    assert 2 < len(texts) <= 6


def test_the_articles_of_a_data_folder_teach_help_center(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: deposit_withdraw\n  examples: |\n    - 怎么收款\n',
        encoding="utf-8",
    )
    (tmp_path / "help_center").mkdir()
    article = parse_article((ROOT / "data" / "help_center" / "address-book.md").read_text("utf-8"))
    edited = replace(article, questions=("怎么收款", *article.questions))
    (tmp_path / "help_center" / "address-book.md").write_text(edited.text(), encoding="utf-8")
    importer = AugmentingImporter(str(ROOT / "config.yml"), None, [str(tmp_path)])
    examples = importer.get_nlu_data("zh").intent_examples
    help_center = {m.get(TEXT) for m in examples if m.get(INTENT) == "help_center"}
    assert "如何使用地址簿" in help_center
    assert "怎么收款" not in help_center  # the NLU files' intent keeps a text both hold
