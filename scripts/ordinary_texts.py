"""Text that holds no secret, for the secret guard's evaluation (`make eval`) and its tests: the
project's own sentences and responses, the standard library's docstrings, and the Chinese in
them that a word list could mistake for a mnemonic."""

from __future__ import annotations

import ast
import re
import sysconfig
from pathlib import Path

import yaml

from bot.secret_guard.mnemonics import CHINESE_LISTS, VALID_LENGTHS, checksum_ok, wordlist
from scripts.heldout import HELDOUT, load_heldout

ROOT = Path(__file__).resolve().parents[1]
# "[0x3e49…](tx_hash)", "[500U](amount)", '[TRC20]{"entity": "chain"}' -> the annotated text.
ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def plain_text(example: str) -> str:
    """A Rasa training example with its entity annotations turned into plain text."""
    return ANNOTATION.sub(r"\1", example)


def project_sentences(root: Path = ROOT) -> list[str]:
    """Every user sentence of the NLU data, held-out sets and test stories, as plain text."""
    sentences = [example.text for example in load_heldout(root / HELDOUT)]
    for path in sorted((root / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" in item:
                sentences += [
                    plain_text(line.strip()[2:])
                    for line in str(item.get("examples") or "").splitlines()
                    if line.strip().startswith("- ")
                ]
    stories = yaml.safe_load((root / "tests" / "test_stories.yml").read_text(encoding="utf-8"))
    for story in stories.get("stories") or []:
        sentences += [
            plain_text(str(step["user"]).strip()) for step in story["steps"] if "user" in step
        ]
    return sentences


def response_texts(root: Path = ROOT) -> list[str]:
    """The assistant's own Chinese responses: more natural Chinese to test against."""
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))
    return [
        str(variant["text"])
        for variants in (domain.get("responses") or {}).values()
        for variant in variants
        if "text" in variant
    ]


def english_paragraphs() -> list[str]:
    """The paragraphs of the standard library's docstrings: English prose and examples."""
    paragraphs = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                paragraphs += [p for p in re.split(r"\n\s*\n", doc or "") if p.strip()]
    return paragraphs


def chinese_runs(texts: list[str], checksum: bool = False) -> list[str]:
    """Every 12-24 character run of ``texts`` made of one list's words (passing the checksum)."""
    runs = set()
    for text in texts:
        for chunk in re.findall(r"[\u4e00-\u9fff]{12,}", text):
            for language in CHINESE_LISTS:
                index = wordlist(language).index
                for length in VALID_LENGTHS:
                    for start in range(len(chunk) - length + 1):
                        window = chunk[start : start + length]
                        if all(c in index for c in window) and (
                            not checksum or checksum_ok([index[c] for c in window])
                        ):
                            runs.add(window)
    return sorted(runs)


def spaced_out(texts: list[str]) -> list[str]:
    """Sentences of 12 Chinese characters or more, typed with a space between characters."""
    return [
        " ".join(re.sub(r"\s", "", text))
        for text in texts
        if len(re.findall(r"[\u4e00-\u9fff]", text)) >= 12
    ]
