"""Rasa without TensorFlow (bot/serving.py), as the servers and these tests import it: TensorFlow
cannot be imported, and a model part that needs it fails with a message saying what to do. That
the production servers answer without it in memory is in tests/test_production_stack.py."""

from __future__ import annotations

import pytest

from bot import serving


def test_tensorflow_is_not_importable_where_rasa_serves() -> None:
    with pytest.raises(ImportError, match="left out of a serving process"):
        import tensorflow  # noqa: F401


def test_a_model_part_that_needs_tensorflow_says_how_to_serve_it() -> None:
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier

    for part in (TEDPolicy, DIETClassifier):
        with pytest.raises(serving.TrainingOnly, match="with `rasa run`"):
            part.load({}, None, None, None)
        with pytest.raises(serving.TrainingOnly, match=part.__name__):
            part()
