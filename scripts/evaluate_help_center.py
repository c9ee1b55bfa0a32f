"""Scores the help-center search and prints the figures its bars were chosen by.

Run ``python -m scripts.evaluate_help_center`` (``make eval``) for the held-out set
(``tests/help_center/heldout/questions.yml``), or with ``--calibrate`` for the calibration set
(``tests/help_center/calibration.yml``), where it also sweeps the bar. Deterministic.

- top-1 and top-3 on answerable questions: the expected article is the one served (or among the
  three served) *and* it clears the bar, so a question left unanswered is a miss.
- off-topic: the share of off-topic questions that get no article.
- with ``--model``, the same questions as the conversation routes them: the classifier first
  (whose ``help_center`` is kept only where an article fits), then the search for the questions
  it sends to the help center or is unsure of (``bot.help_center.routing``); a question sent to
  one of the assistant's topics gets that topic's answer, not an article.
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
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bot.help_center.articles import Article, load_directory
from bot.help_center.index import DEFAULT_BAR, ArticleIndex, Bar, Judgement
from bot.help_center.routing import SEARCHED_INTENTS

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "help_center" / "heldout" / "questions.yml"
CALIBRATION = ROOT / "tests" / "help_center" / "calibration.yml"
TIMED_ARTICLES = 500
TARGETS = {"top-1": 0.85, "top-3": 0.95, "off-topic": 0.90}


@dataclass(frozen=True)
class Judged:
    """A question as the search sees it (its three best articles, its wallet-likeness), the
    article it should get and what the classifier made of it, when one was asked."""

    judgement: Judgement
    expected: str | None  # None: off-topic
    intent: str | None = None

    def served(self, bar: Bar | None) -> list[str]:
        """The articles served under ``bar`` (None: the question never reaches the search)."""
        if bar is None or not bar.admits(self.judgement):
            return []
        return [hit.article_id for hit in self.judgement.hits]


@dataclass(frozen=True)
class Scores:
    top1: float
    top3: float
    off_topic: float


def load_set(path: Path) -> list[tuple[str, str | None]]:
    """(question, expected article id or None for off-topic)."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    answerable = [(str(item["q"]), str(item["article"])) for item in raw["answerable"]]
    return [*answerable, *((str(text), None) for text in raw["off_topic"])]


def judge(index: ArticleIndex, questions: list[tuple[str, str | None]]) -> list[Judged]:
    return [Judged(index.judge(q, 3), expected) for q, expected in questions]


def scores(judged: list[Judged], bar_of: Callable[[Judged], Bar | None]) -> Scores:
    answerable = [j for j in judged if j.expected is not None]
    off_topic = [j for j in judged if j.expected is None]
    top1 = top3 = 0
    for item in answerable:
        served = item.served(bar_of(item))
        top1 += bool(served) and served[0] == item.expected
        top3 += item.expected in served
    refused = sum(not item.served(bar_of(item)) for item in off_topic)
    return Scores(top1 / len(answerable), top3 / len(answerable), refused / len(off_topic))


async def classified(
    model: Path, questions: list[tuple[str, str | None]], judged: list[Judged]
) -> list[Judged]:
    """``judged`` with the intent the classifier of ``model`` gives each question."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    result = []
    for (question, _), item in zip(questions, judged, strict=True):
        parsed = await agent.parse_message(question)
        result.append(replace(item, intent=(parsed.get("intent") or {}).get("name")))
    return result


def routed_bar(item: Judged) -> Bar | None:
    """The bar of a question the classifier sends to the search; None for one it does not."""
    return DEFAULT_BAR if item.intent in SEARCHED_INTENTS else None


def sweep(judged: list[Judged]) -> None:
    """The bars that keep off-topic questions unanswered (>= 0.90), best top-1 first."""
    results = []
    for score_step in range(0, 41):
        for domain_step in range(-30, 11):
            bar = Bar(score=score_step / 2, domain=domain_step / 10)

            def bar_of(_: Judged, bar: Bar = bar) -> Bar:
                return bar

            results.append((scores(judged, bar_of), bar))
    kept = [(s, bar) for s, bar in results if s.off_topic >= TARGETS["off-topic"]]
    kept.sort(key=lambda item: (item[0].top1, item[0].top3), reverse=True)
    print("  bar (score, domain)   top-1  top-3  off-topic refused")
    for s, bar in kept[:12]:
        print(
            f"  ({bar.score:4.1f}, {bar.domain:4.1f})        "
            f"{s.top1:.3f}  {s.top3:.3f}  {s.off_topic:.3f}"
        )


def by_owner(judged: list[Judged], owners: dict[str, tuple[str, ...]]) -> None:
    """In the conversation: a long-tail question (its article belongs to no topic) is answered
    when it gets that article; one on a topic's subject when it gets the article or the topic's
    own answer (the classifier chose the topic)."""
    long_tail = [j for j in judged if j.expected is not None and not owners[j.expected]]
    on_topic = [j for j in judged if j.expected is not None and owners[j.expected]]
    right = sum(j.served(routed_bar(j))[:1] == [j.expected] for j in long_tail)
    answered = sum(
        j.served(routed_bar(j))[:1] == [j.expected] or j.intent in owners[str(j.expected)]
        for j in on_topic
    )
    print(f"  long-tail questions given their article: {right / len(long_tail):.3f}", end="")
    print(f" of {len(long_tail)}")
    print(
        f"  questions on a topic's subject given the article or the topic's answer: "
        f"{answered / len(on_topic):.3f} of {len(on_topic)}"
    )


def print_scores(result: Scores) -> None:
    for name, value in (
        ("top-1", result.top1),
        ("top-3", result.top3),
        ("off-topic", result.off_topic),
    ):
        verdict = "met" if value >= TARGETS[name] else "NOT MET"
        print(f"  {name:9} {value:.3f}  (target {TARGETS[name]:.2f}: {verdict})")


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
                questions=tuple(rng.sample(pieces, 12)),
            )
        )
    return made


def timing(articles: list[Article], questions: list[tuple[str, str | None]]) -> None:
    padded = articles + filler(articles, TIMED_ARTICLES - len(articles))
    index = ArticleIndex(padded)
    queries = [question for question, _ in questions]
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
        runs = []
        for _ in range(20):
            started = time.perf_counter()
            index.search(query)
            runs.append((time.perf_counter() - started) * 1000)
        print(f"  {label}: median {statistics.median(runs):.2f} ms, worst {max(runs):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="the calibration set, swept")
    parser.add_argument("--model", type=Path, help="also route the questions with this model")
    options = parser.parse_args()
    articles = load_directory()
    path = CALIBRATION if options.calibrate else HELDOUT
    questions = load_set(path)
    answerable = sum(expected is not None for _, expected in questions)
    print(
        f"help center: {len(articles)} articles; {path.relative_to(ROOT)}: "
        f"{answerable} answerable, {len(questions) - answerable} off-topic"
    )
    judged = judge(ArticleIndex(articles), questions)
    print(f"the search alone (bar: score {DEFAULT_BAR.score}, domain {DEFAULT_BAR.domain}):")
    print_scores(scores(judged, lambda _: DEFAULT_BAR))
    if options.calibrate:
        sweep(judged)
    if options.model is not None:
        judged = asyncio.run(classified(options.model, questions, judged))
        print(f"in the conversation (the classifier of {options.model}, then the search):")
        print_scores(scores(judged, routed_bar))
        by_owner(judged, {article.article_id: article.intents for article in articles})
    timing(articles, questions)


if __name__ == "__main__":
    main()
