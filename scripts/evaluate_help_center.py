"""Scores the help-center search and prints the figures its threshold was chosen by.

Run ``python -m scripts.evaluate_help_center`` (``make eval``) for the held-out set
(``tests/help_center/heldout/questions.yml``), or with ``--calibrate`` for the calibration set
(``tests/help_center/calibration.yml``), where it also sweeps the threshold. Deterministic.

- top-1 and top-3 on answerable questions: the expected article is the one served (or among the
  three best) *and* the best clears the threshold, so a question left unanswered is a miss.
- off-topic: the share of off-topic questions that get no article.
- with ``--model``, the same questions as the conversation routes them: the classifier first
  (``help_center`` or unsure: the search answers; out of scope or one of the assistant's topics:
  no article), so an off-topic question the classifier recognises never reaches the search.
- time per query over 500 articles (the real ones plus generated filler built from their words,
  for this measurement only), on every question, a 1,000-character paste and emoji only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bot.help_center.articles import Article, load_directory
from bot.help_center.index import DEFAULT_THRESHOLD, ArticleIndex

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "help_center" / "heldout" / "questions.yml"
CALIBRATION = ROOT / "tests" / "help_center" / "calibration.yml"
TIMED_ARTICLES = 500
TARGETS = {"top-1": 0.85, "top-3": 0.95, "off-topic": 0.90}


@dataclass(frozen=True)
class QuestionSet:
    answerable: list[tuple[str, str]]  # (question, article id)
    off_topic: list[str]


@dataclass(frozen=True)
class Scores:
    top1: float
    top3: float
    off_topic: float


def load_set(path: Path) -> QuestionSet:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return QuestionSet(
        answerable=[(str(item["q"]), str(item["article"])) for item in raw["answerable"]],
        off_topic=[str(text) for text in raw["off_topic"]],
    )


def score(index: ArticleIndex, questions: QuestionSet) -> Scores:
    top1 = top3 = 0
    for question, expected in questions.answerable:
        hits = index.search(question)
        ids = [hit.article_id for hit in hits]
        top1 += bool(ids) and ids[0] == expected
        top3 += expected in ids
    refused = sum(not index.search(text) for text in questions.off_topic)
    count = len(questions.answerable)
    return Scores(top1 / count, top3 / count, refused / len(questions.off_topic))


ROUTED_TO_SEARCH = {"help_center", "nlu_fallback"}


async def conversation_scores(model: Path, index: ArticleIndex, questions: QuestionSet) -> Scores:
    """As ``score``, with the classifier of ``model`` deciding first which questions search."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))

    async def served(text: str) -> list[str]:
        parsed = await agent.parse_message(text)
        if (parsed.get("intent") or {}).get("name") not in ROUTED_TO_SEARCH:
            return []
        return [hit.article_id for hit in index.search(text)]

    top1 = top3 = 0
    for question, expected in questions.answerable:
        ids = await served(question)
        top1 += bool(ids) and ids[0] == expected
        top3 += expected in ids
    refused = 0
    for text in questions.off_topic:
        refused += not await served(text)
    count = len(questions.answerable)
    return Scores(top1 / count, top3 / count, refused / len(questions.off_topic))


def print_scores(scores: Scores) -> None:
    for name, value in (
        ("top-1", scores.top1),
        ("top-3", scores.top3),
        ("off-topic", scores.off_topic),
    ):
        verdict = "met" if value >= TARGETS[name] else "NOT MET"
        print(f"  {name:9} {value:.3f}  (target {TARGETS[name]:.2f}: {verdict})")


def sweep(articles: list[Article], questions: QuestionSet) -> None:
    print("threshold  top-1  top-3  off-topic refused")
    for step in range(4, 41):
        threshold = step / 2
        scores = score(ArticleIndex(articles, threshold), questions)
        print(f"{threshold:9.1f}  {scores.top1:.3f}  {scores.top3:.3f}  {scores.off_topic:.3f}")


def filler(articles: list[Article], count: int) -> list[Article]:
    """``count`` made-up articles whose titles and questions mix the real ones' words."""
    rng = random.Random(17)
    pieces = [text for article in articles for text in (article.title, *article.questions)]
    made = []
    for number in range(count):
        base = rng.choice(articles)
        made.append(
            replace(
                base,
                article_id=f"filler-{number}",
                title=rng.choice(pieces),
                questions=tuple(rng.sample(pieces, 6)),
            )
        )
    return made


def timing(articles: list[Article], questions: QuestionSet) -> None:
    padded = articles + filler(articles, TIMED_ARTICLES - len(articles))
    index = ArticleIndex(padded)
    queries = [q for q, _ in questions.answerable] + questions.off_topic
    queries += ["我的U转到交易所了怎么还没到账" * 70, "😀🚀💰" * 340]
    index.search(queries[0])
    elapsed = []
    for _ in range(5):
        for query in queries:
            started = time.perf_counter()
            index.search(query)
            elapsed.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(elapsed, n=100)
    print(
        f"search over {len(padded)} articles, {len(elapsed)} queries: "
        f"p50 {cuts[49]:.2f} ms, p99 {cuts[98]:.2f} ms (budget 5 ms)"
    )
    for label, query in (("1,000 characters", queries[-2][:1000]), ("emoji only", queries[-1])):
        started = time.perf_counter()
        index.search(query)
        print(f"  {label}: {(time.perf_counter() - started) * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="the calibration set, swept")
    parser.add_argument("--model", type=Path, help="also route the questions with this model")
    options = parser.parse_args()
    articles = load_directory()
    path = CALIBRATION if options.calibrate else HELDOUT
    questions = load_set(path)
    print(
        f"help center: {len(articles)} articles; {path.relative_to(ROOT)}: "
        f"{len(questions.answerable)} answerable, {len(questions.off_topic)} off-topic"
    )
    if options.calibrate:
        sweep(articles, questions)
    index = ArticleIndex(articles)
    print(f"the search alone (threshold {DEFAULT_THRESHOLD}):")
    print_scores(score(index, questions))
    if options.model is not None:
        print(f"in the conversation (the classifier of {options.model}, then the search):")
        print_scores(asyncio.run(conversation_scores(options.model, index, questions)))
    timing(articles, questions)


if __name__ == "__main__":
    main()
