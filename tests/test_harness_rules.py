"""The test harness's rule: no test module imports another test module (``test_*.py`` or a
``conftest.py``) or a benchmark or evaluation script; what tests share lives in tests/support."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from scripts.local_stack import ROOT

TESTS = ROOT / "tests"
# Benchmarks and evaluations measure; tests import nothing from them (scripts/round_robin.py,
# scripts/secret_samples.py and scripts/ordinary_texts.py hold what both use).
MEASURING = re.compile(r"^scripts\.(bench\w*|evaluate_\w+|cross_validate)$")


def imported(tree: ast.Module) -> set[str]:
    """Every module a file imports, with ``from package import module`` as the module."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and (parts[-1].startswith("test_") or parts[-1] == "conftest")


def offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return sorted(name for name in imported(tree) if is_test_module(name) or MEASURING.match(name))


def modules_under_test() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


@pytest.mark.parametrize("path", modules_under_test(), ids=lambda path: str(path.relative_to(ROOT)))
def test_a_test_module_imports_no_test_module_and_no_measuring_script(path: Path) -> None:
    assert offences(path) == []


def test_the_check_sees_each_kind_of_import(tmp_path: Path) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(
        "import tests.channels.test_rest\n"
        "from tests.channels import test_wechat as wechat\n"
        "from tests.conftest import ALWAYS_OPEN\n"
        "from scripts.bench import FAQ\n"
        "from scripts import evaluate_secret_guard\n"
        "from scripts.round_robin import rest_turn\n"
        "from tests.support.http import Http\n"
        "from . import sibling\n",
        encoding="utf-8",
    )
    assert offences(module) == [
        "scripts.bench",
        "scripts.evaluate_secret_guard",
        "tests.channels.test_rest",
        "tests.channels.test_wechat",
        "tests.conftest",
    ]
