"""Rasa's prediction graph run node after node, without dask's scheduler.

Every message runs Rasa's graph three times (the NLU, then the policies once per predicted
action). ``DaskGraphRunner.run`` works out the nodes its targets need, builds a dask graph of
them and hands it to dask's local scheduler, which orders the tasks, runs them through a thread
pool interface and tracks their state: about 1 ms a turn here for graphs of 4 and 15 nodes whose
components take 3 ms together.

``install()``, called once when a server starts (``bot.services``), replaces ``run`` by one that
keeps, per runner and targets, the nodes in an order where each comes after what it needs (the
schema does not change once a model is loaded) and calls them in that order with the same
arguments: the ``(name, output)`` pairs of their needs, inputs included. The results are the
same; ``tests/test_sequential_graph.py`` compares both runners on hand-written NLU examples,
on the messages of the conversations in tests/ and after every event of those conversations.
Rasa's own checks stay: an input named like a node is refused, and a ``RuntimeError`` of a node
becomes ``GraphRunError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner

# The nodes each runner runs for a set of targets, in order; kept on the runner.
_PLAN_ATTRIBUTE = "_sequential_plans"
_DASK_RUN = DaskGraphRunner.run


def install() -> None:
    """Has every graph runner of this process run its nodes in sequence."""
    DaskGraphRunner.run = _run


def _run(
    self: DaskGraphRunner,
    inputs: dict[str, Any] | None = None,
    targets: list[str] | None = None,
) -> dict[str, Any]:
    run_targets = targets if targets else self._graph_schema.target_names
    schema, order = _plan(self, tuple(run_targets))
    results: dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and value in schema.nodes:
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure that none of the "
                f"input names passed to the `run` method are the same as node names in the "
                f"graph schema."
            )
        results[name] = (name, value)
    try:
        for name in order:
            needs = schema.nodes[name].needs.values()
            # dask passes a need that is neither a node nor an input as the name itself.
            results[name] = self._instantiated_nodes[name](*(results.get(n, n) for n in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(results[target] for target in run_targets)


def _plan(runner: DaskGraphRunner, targets: tuple[str, ...]) -> tuple[GraphSchema, list[str]]:
    """The nodes ``targets`` need, and the order to run them in; worked out once per runner."""
    plans: dict[tuple[str, ...], tuple[GraphSchema, list[str]]] = runner.__dict__.setdefault(
        _PLAN_ATTRIBUTE, {}
    )
    if targets not in plans:
        schema = runner._graph_schema.minimal_graph_schema(list(targets))
        plans[targets] = (schema, _topological(schema, targets))
    return plans[targets]


def _topological(schema: GraphSchema, targets: Sequence[str]) -> list[str]:
    """The schema's nodes, each after every node it needs (depth first from the targets)."""
    order: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done or name not in schema.nodes:
            return
        done.add(name)
        for need in schema.nodes[name].needs.values():
            visit(need)
        order.append(name)

    for target in targets:
        visit(target)
    return order
