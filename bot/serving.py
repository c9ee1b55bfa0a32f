"""Rasa's command line for a serving process, without TensorFlow: ``python -m bot.serving run ...``
is ``rasa run ...`` (and ``... shell ...`` is ``rasa shell ...``) in about half the memory.

This assistant's pipeline and policies never touch TensorFlow (``config.yml``: count vectors, a
logistic regression and RulePolicy), yet importing Rasa's server loads it, with jax behind TF Lite:
about 340 MB and 6 CPU-seconds per server. Two kinds of module pull it in:

- ``rasa.utils.train_utils``, which every featuriser and policy imports, defines training callbacks
  and a batch generator as Keras subclasses at import time (``rasa.utils.tensorflow.callback`` and
  ``.data_generator``);
- a trained model's metadata names ``DefaultV1RecipeValidator``, whose module imports
  ``DIETClassifier``, ``ResponseSelector`` and ``TEDPolicy`` to compare configurations with them
  while training.

A serving process uses none of them, so before Rasa is imported this module puts stand-ins in
their place (``TRAINING_ONLY``) and refuses to import TensorFlow itself (``LEFT_OUT``). A library
that merely probes for TensorFlow (thinc, under spaCy) sees it missing and carries on. A stand-in
class fails loudly when used: a model that needs DIET or TED must be served by plain ``rasa run``.
Training, ``rasa test`` and ``rasa data validate`` keep the full Rasa.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

# Rasa's modules that need TensorFlow at import time, and that a serving process imports without
# using them.
TRAINING_ONLY = frozenset(
    {
        "rasa.utils.tensorflow.callback",
        "rasa.utils.tensorflow.data_generator",
        "rasa.nlu.classifiers.diet_classifier",
        "rasa.nlu.selectors.response_selector",
        "rasa.core.policies.ted_policy",
    }
)
# Top-level packages a serving process never imports.
LEFT_OUT = frozenset({"tensorflow", "keras", "jax", "jaxlib"})


class TrainingOnly(RuntimeError):
    """A serving process used a part of Rasa that needs TensorFlow."""


class _StandInType(type):
    """The type of a stand-in class: any attribute it lacks (``load``, ``create``) is an error."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise cls.refusal()

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise cls.refusal()

    def refusal(cls) -> TrainingOnly:
        return TrainingOnly(
            f"{cls.__module__}.{cls.__name__} needs TensorFlow, which `python -m bot.serving` "
            "leaves out; serve a model that uses it with `rasa run`"
        )


class _StandInLoader(importlib.abc.Loader):
    """Makes a module whose every public name is a stand-in class."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        def stand_in(name: str) -> type:
            if name.startswith("__"):
                raise AttributeError(name)
            cls = _StandInType(name, (), {"__module__": module.__name__})
            setattr(module, name, cls)
            return cls

        module.__getattr__ = stand_in  # type: ignore[method-assign]


class ServingImports(importlib.abc.MetaPathFinder):
    """Answers imports of ``TRAINING_ONLY`` modules with stand-ins and of ``LEFT_OUT`` ones with
    ImportError; every other import is left to the usual finders."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in LEFT_OUT:
            raise ImportError(f"{fullname} is left out of a serving process (bot.serving)")
        if fullname in TRAINING_ONLY:
            return importlib.machinery.ModuleSpec(fullname, _StandInLoader())
        return None


def install() -> None:
    """Puts ``ServingImports`` first; must run before anything imports Rasa."""
    loaded = sorted(name for name in TRAINING_ONLY if name in sys.modules)
    if loaded or "tensorflow" in sys.modules:
        raise RuntimeError(f"bot.serving.install() after Rasa's training modules: {loaded}")
    if not any(isinstance(finder, ServingImports) for finder in sys.meta_path):
        sys.meta_path.insert(0, ServingImports())


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
