"""Rasa's logistic regression intent classifier, with its weights laid out for fast prediction.

sklearn scores a message as its sparse features times ``coef_.T``. Unless that transpose is
C-contiguous, scipy copies the whole weight matrix (intents x n-gram vocabulary) for every
message: about 1.5 ms, the largest single cost of a turn. Stored in Fortran order, the transpose
is C-contiguous and scoring takes microseconds. A single message's features are also used as
they are instead of being stacked into a new matrix. The predictions are the same numbers.
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
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
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
        """As Rasa's, without stacking matrices for the usual single message with no dense part."""
        if len(messages) == 1 and messages[0].get_dense_features(attribute=TEXT)[1] is None:
            sparse = messages[0].get_sparse_features(attribute=TEXT)[1]
            if sparse is not None:
                return csr_matrix(sparse.features)
        return super()._create_X(messages)

    def _lay_out_weights(self) -> None:
        if hasattr(self.clf, "coef_"):
            self.clf.coef_ = np.asfortranarray(self.clf.coef_)


def _has_features(message: Message) -> bool:
    sparse, dense = message.get_sparse_features(TEXT)[1], message.get_dense_features(TEXT)[1]
    return sparse is not None or dense is not None
