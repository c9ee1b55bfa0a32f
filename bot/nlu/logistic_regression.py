"""Rasa's logistic regression intent classifier, with its weights laid out for fast prediction.

sklearn scores a message as its sparse features times ``coef_.T``. Unless that transpose is
C-contiguous, scipy copies the whole weight matrix (intents x n-gram vocabulary) for every
message: about 1.5 ms, the largest single cost of a turn. Stored in Fortran order, the transpose
is C-contiguous and scoring takes microseconds. A single message's sentence features are also
put side by side once instead of through Rasa's pairwise combination. The predictions are the
same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import (
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy import sparse
from scipy.sparse import csr_matrix


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class FastLogisticRegressionClassifier(LogisticRegressionClassifier):
    """LogisticRegressionClassifier whose weights are kept in Fortran order."""

    def train(self, training_data: TrainingData) -> Resource:
        resource = super().train(training_data)
        self._lay_out_weights()
        return resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LogisticRegressionClassifier:
        component = super().load(config, model_storage, resource, execution_context, **kwargs)
        if isinstance(component, FastLogisticRegressionClassifier):
            component._lay_out_weights()
        return component

    def process(self, messages: list[Message]) -> list[Message]:
        """As Rasa's; a message with no features at all (white space only, which the channels
        refuse but ``/model/parse`` may send) gets no intent, so the fallback takes it, instead
        of failing in Rasa's feature stacking."""
        featured = [message for message in messages if _has_features(message)]
        if featured:
            super().process(featured)
        for message in messages:
            if not _has_features(message):
                message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, True)
                message.set(INTENT_RANKING_KEY, [], True)
        return messages

    def _create_X(self, messages: list[Message]) -> csr_matrix:
        """As Rasa's; for the usual single message, its sentence features put side by side once.

        Rasa combines a message's features pairwise, deep-copying them and building the sequence
        features too, once per featurizer: with three featurizers that cost more than 1 ms.
        """
        if len(messages) == 1:
            features = _sentence_features(messages[0])
            if features is not None:
                return features
        return super()._create_X(messages)

    def _lay_out_weights(self) -> None:
        if hasattr(self.clf, "coef_"):
            self.clf.coef_ = np.asfortranarray(self.clf.coef_)


def _has_features(message: Message) -> bool:
    return any(feature.attribute == TEXT for feature in message.features)


def _sentence_features(message: Message) -> csr_matrix | None:
    """The message's sparse sentence features in featurizer order, as Rasa combines them; None
    if there are none or some are dense."""
    parts = [
        feature
        for feature in message.features
        if feature.attribute == TEXT and feature.type == FEATURE_TYPE_SENTENCE
    ]
    if not parts or any(feature.is_dense() for feature in parts):
        return None
    return sparse.hstack([feature.features for feature in parts], format="csr")
