"""Rasa's own checks on the training data and the test stories."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from bot.wallet.records import FailureReason, TicketState
from tests.conftest import ROOT

RASA = str(Path(ROOT) / ".venv" / "bin" / "rasa")
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
# Responses Rasa's validator cannot see in rules because something other than a rule utters them.
BUILT_IN_RESPONSES = {"utter_default"}  # Rasa's action_default_fallback
# Responses named from a state: f"utter_failure_{reason}", f"utter_ticket_{state}".
FAMILIES = {
    "utter_failure_": [*(reason.value for reason in FailureReason), "unknown"],
    "utter_ticket_": [state.value for state in TicketState],
}


def responses_named_in_code() -> set[str]:
    """Every response the actions, the dialogue helpers or the policies utter by name."""
    files = [*(ROOT / "actions").glob("*.py"), *(ROOT / "bot").rglob("*.py")]
    source = "".join(path.read_text(encoding="utf-8") for path in files)
    named = set(re.findall(r'"(utter_[a-z_]+[a-z])"', source))
    return named | {prefix + value for prefix, values in FAMILIES.items() for value in values}


def form_questions() -> set[str]:
    """The utter_ask_<slot> responses Rasa's forms use for their required slots."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return {
        f"utter_ask_{slot}"
        for form in domain.get("forms", {}).values()
        for slot in form["required_slots"]
    }


def test_rasa_data_validate_finds_nothing_but_action_responses() -> None:
    result = subprocess.run(
        [RASA, "data", "validate"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    unused = set(re.findall(r"The utterance '(\w+)' is not used in any story or rule", output))
    assert unused <= responses_named_in_code() | form_questions() | BUILT_IN_RESPONSES
    other_warnings = [
        line
        for line in re.findall(r"UserWarning: (.*)", output)
        if "is not used in any story or rule" not in line
    ]
    assert other_warnings == []


def test_test_stories_pass_with_rasa_test(model_path: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            RASA,
            "test",
            "core",
            "--model",
            str(model_path),
            "--stories",
            "tests/test_stories.yml",
            "--fail-on-prediction-errors",
            "--no-plot",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:] + details
    assert "# predicted:" not in details
