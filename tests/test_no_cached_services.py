"""No process-wide cached service: stores, clients and settings are built in ``bot.services``.

A function under ``bot/`` or ``actions/`` decorated with ``functools.lru_cache`` or ``cache``
hides its configuration from tests and keeps its state for the life of the process. Only what
reads files from ``data/`` or the libraries, or compiles a fixed table, may be cached; a new one
must be added here on purpose.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHES = {"lru_cache", "cache"}
ALLOWED = {
    # Data files read once (data/ and the libraries' word lists).
    ("bot/dialogue/complaints.py", "load_categories"),
    ("bot/dialogue/clarify.py", "load_intent_labels"),
    ("bot/handoff/guard.py", "official_channels"),  # data/official_channels.yml
    ("bot/handoff/secret_requests.py", "_words"),  # the secret guard's cue words, data/
    ("bot/improvement/inbox.py", "load_fallback_threshold"),  # config.yml
    ("bot/insight/labels.py", "load_insight_labels"),
    ("bot/secret_guard/cues.py", "load_cues"),
    ("bot/secret_guard/mnemonics.py", "wordlist"),
    ("bot/secret_guard/chinese_text.py", "_tokenizer"),
    ("bot/help_center/domain.py", "training_examples"),  # data/nlu
    ("bot/help_center/domain.py", "_example_frequencies"),
    ("bot/help_center/terms.py", "_canonical"),  # data/lexicon.yml
    ("bot/help_center/terms.py", "_segmenter"),
    # Fixed tables, patterns and converters, compiled once.
    ("bot/dialogue/action_validation.py", "_response_validator"),
    ("bot/dialogue/script.py", "_converter"),
    ("bot/nlu/normalisation.py", "_converters"),
    ("bot/nlu/normalisation.py", "_cantonese"),
    ("bot/nlu/normalisation.py", "_marker_pattern"),
    ("bot/secret_guard/folding.py", "_table"),
    ("bot/secret_guard/folding.py", "_foldable"),
    ("bot/secret_guard/mnemonics.py", "_deletion_index"),
    ("bot/secret_guard/volunteered.py", "_before_cue"),
}


def cached_functions() -> Iterator[tuple[str, str]]:
    """(module path, function name) of every cache-decorated function in bot/ and actions/."""
    for folder in ("bot", "actions"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for name in cached_in(tree):
                yield path.relative_to(ROOT).as_posix(), name


def cached_in(tree: ast.AST) -> Iterator[str]:
    """The names of the cache-decorated functions in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            decorator_name(decorator) in CACHES for decorator in node.decorator_list
        ):
            yield node.name


def decorator_name(decorator: ast.expr) -> str | None:
    """``lru_cache`` for ``@lru_cache``, ``@lru_cache(maxsize=1)`` and ``@functools.lru_cache``."""
    if isinstance(decorator, ast.Call):
        decorator = decorator.func
    if isinstance(decorator, ast.Attribute):
        return decorator.attr
    return decorator.id if isinstance(decorator, ast.Name) else None


def test_only_data_loaders_and_fixed_tables_are_cached() -> None:
    found = set(cached_functions())
    assert found - ALLOWED == set(), "build services in bot.services, not in a cached function"


def test_the_allow_list_names_only_cached_functions() -> None:
    assert ALLOWED - set(cached_functions()) == set()


def test_a_cached_service_would_be_found() -> None:
    source = (
        "import functools\n"
        "@functools.lru_cache(maxsize=1)\n"
        "def handoff_store(): ...\n"
        "@cache\n"
        "async def wallet(): ...\n"
        "def settings(): ...\n"
    )
    assert list(cached_in(ast.parse(source))) == ["handoff_store", "wallet"]
