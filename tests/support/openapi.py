"""The project's OpenAPI contracts (docs/*.openapi.yaml) as JSON Schema, to check what a test
backend answers or an adapter sends against what the contract documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DOCS = Path(__file__).resolve().parents[2] / "docs"


def load_contract(name: str) -> dict[str, Any]:
    """``docs/<name>`` with its schema objects as JSON Schema."""
    return json_schema(yaml.safe_load((DOCS / name).read_text(encoding="utf-8")))


def json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects as JSON Schema: ``nullable`` becomes a null type."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") and "type" in node:
        converted["type"] = [node["type"], "null"]
    return converted
