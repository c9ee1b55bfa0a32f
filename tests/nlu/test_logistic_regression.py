"""The fast intent classifier scores exactly what Rasa's own would, from the same features."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

from bot.nlu.logistic_regression import FastLogisticRegressionClassifier


def test_one_message_gets_the_features_rasa_would_combine(
    agent: Agent, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[bool] = []
    fast = FastLogisticRegressionClassifier._create_X

    def both(self: FastLogisticRegressionClassifier, messages: list[Any]) -> Any:
        ours = fast(self, messages)
        rasas = LogisticRegressionClassifier._create_X(self, messages)
        compared.append(ours.shape == rasas.shape and abs(ours - rasas).sum() == 0)
        return ours

    monkeypatch.setattr(FastLogisticRegressionClassifier, "_create_X", both)
    for text in ["我的转账一直没到账", "轉帳 pending 咗好耐", "zhuanzhang meidaozhang", "好的"]:
        assert run(agent.parse_message(text))["intent"]["name"]
    assert len(compared) == 4 and all(compared)
