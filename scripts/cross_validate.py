"""Stratified k-fold cross-validation of the NLU over the hand-written examples of ``data/nlu``.

Each fold's training part is written to a temporary directory and trained with
``rasa.model_training.train_nlu`` and the project's config.yml, so the augmentation importer
(``bot.nlu.augmentation``) derives variants of the training part only; the test part is scored
as written, with ``scripts.nlu_scores.score``, leaving out any test example the fold trains on
(a duplicate, or a variant of a training example). Prints per-fold and mean figures.

    python -m scripts.cross_validate [--folds 5] [--seed 13] [--no-augmentation]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import astuple, fields
from pathlib import Path

import yaml

# Every fold trains on other data: caching its parts only fills the disk.
os.environ.setdefault("RASA_MAX_CACHE_SIZE", "0")

from rasa.core.agent import Agent
from rasa.model_training import train_nlu
from rasa.shared.importers.importer import TrainingDataImporter
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.log_utils import configure_structlog

from scripts.nlu_scores import Scores, score

logger = logging.getLogger(__name__)


def hand_written(data_dir: Path, config: Path) -> TrainingData:
    """The NLU files as written (no augmentation): examples, regexes, lookups, synonyms."""
    return RasaFileImporter(str(config), None, [str(data_dir)]).get_nlu_data("zh")


def stratified_folds(examples: Sequence[Message], folds: int, seed: int) -> list[list[Message]]:
    """``folds`` parts with each intent spread evenly over them, always the same for ``seed``."""
    by_intent: dict[str, list[Message]] = defaultdict(list)
    for message in examples:
        by_intent[message.get(INTENT)].append(message)
    rng = random.Random(seed)
    parts: list[list[Message]] = [[] for _ in range(folds)]
    offset = 0
    for intent in sorted(by_intent):
        members = sorted(by_intent[intent], key=lambda m: m.get(TEXT))
        rng.shuffle(members)
        for index, message in enumerate(members):
            parts[(offset + index) % folds].append(message)
        offset += len(members)  # small intents do not all start in fold 0
    return parts


def training_config(config: Path, augmentation: bool, directory: Path) -> Path:
    """config.yml, or a copy of it without the ``importers:`` section."""
    if augmentation:
        return config
    content = yaml.safe_load(config.read_text(encoding="utf-8"))
    content.pop("importers", None)
    copy = directory / "config.yml"
    copy.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return copy


async def _parse_all(model: str, messages: Sequence[Message]) -> list[dict]:
    agent = Agent.load(model)
    return [await agent.parse_message(message.get(TEXT)) for message in messages]


def _normalised(text: str) -> str:
    return "".join(text.split()).lower()


def run_fold(
    everything: TrainingData,
    test: Sequence[Message],
    config: Path,
    domain: Path,
    augmentation: bool,
) -> tuple[Scores, int]:
    """Trains on everything but ``test`` and scores ``test``.

    Test examples equal (spaces and case aside) to a text the model trains on, an example or a
    variant derived from one, are left out, so a fold never scores what it trained on. Returns
    the scores and how many were left out.
    """
    test_ids = {id(message) for message in test}
    train = TrainingData(
        training_examples=[m for m in everything.training_examples if id(m) not in test_ids],
        entity_synonyms=everything.entity_synonyms,
        regex_features=everything.regex_features,
        lookup_tables=everything.lookup_tables,
    )
    with tempfile.TemporaryDirectory(prefix="cv-") as tmp:
        directory = Path(tmp)
        (directory / "data").mkdir()
        RasaYAMLWriter().dump(directory / "data" / "nlu.yml", train)
        fold_config = training_config(config, augmentation, directory)
        importer = TrainingDataImporter.load_nlu_importer_from_config(
            str(fold_config), str(domain), [str(directory / "data")]
        )
        trained_on = {_normalised(m.get(TEXT)) for m in importer.get_nlu_data("zh").intent_examples}
        scored = [m for m in test if _normalised(m.get(TEXT)) not in trained_on]
        model = train_nlu(
            config=str(fold_config),
            nlu_data=str(directory / "data"),
            output=str(directory / "models"),
            fixed_model_name="fold",
            domain=str(domain),
        )
        if model is None:
            raise RuntimeError("NLU training failed")
        parsed = asyncio.run(_parse_all(model, scored))
    found = expected = 0
    for message, result in zip(scored, parsed, strict=True):
        gold = {(e["entity"], str(e["value"])) for e in message.get(ENTITIES) or []}
        got = {(e["entity"], str(e["value"])) for e in result["entities"]}
        expected += len(gold)
        found += len(gold & got)
    scores = score(
        [message.get(INTENT) for message in scored],
        [result["intent"]["name"] for result in parsed],
        (found, expected),
    )
    return scores, len(test) - len(scored)


def _row(name: str, scores: Scores) -> str:
    return (
        "| "
        + " | ".join(
            [name, str(scores.examples)] + [f"{value:.3f}" for value in astuple(scores)[1:]]
        )
        + " |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--domain", type=Path, default=Path("domain.yml"))
    parser.add_argument(
        "--no-augmentation", action="store_true", help="train the folds without the variants"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.WARNING)

    everything = hand_written(args.data, args.config)
    parts = stratified_folds(everything.intent_examples, args.folds, args.seed)
    names = [f.name for f in fields(Scores)]
    print("| fold | " + " | ".join(names) + " | left out | seconds |")
    print("|---" * (len(names) + 3) + "|")
    results = []
    for index, test in enumerate(parts, start=1):
        started = time.perf_counter()
        scores, left_out = run_fold(
            everything, test, args.config, args.domain, not args.no_augmentation
        )
        elapsed = time.perf_counter() - started
        results.append(scores)
        print(f"{_row(str(index), scores)[:-2]} | {left_out} | {elapsed:.0f} |", flush=True)
    mean = Scores(
        sum(s.examples for s in results),
        *(statistics.mean(getattr(s, name) for s in results) for name in names[1:]),
    )
    print(f"{_row('mean', mean)[:-2]} | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
