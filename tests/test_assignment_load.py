"""Automatic assignment under load, on the session's production stack (two servers on one
PostgreSQL and one Redis): 200 tickets, 6 agents of capacity 3, both servers' dispatchers
assigning at once. Every ticket is assigned once, to one agent, who closes it; nobody ever holds
more than their capacity; and every agent handles within one ticket of the mean.

The run is ``scripts/desk_load.py``'s; ``scripts/bench_assignment.py`` prints the same figures on a stack of its own
(``python -m scripts.bench_assignment``): the tickets are opened straight in the shared
handoff database (``TicketStore.open``, one every 0.2 s, as the action server opens them), and
each agent's console, on the two servers in turn, keeps its heartbeat, finds its tickets in the
queue, answers and closes each 1.5 s after seeing it. The figures are printed with the results.
"""

from __future__ import annotations

import pytest

from scripts.desk_load import DeskFigures, DeskPlan, run_desk
from scripts.production_stack import ProductionStack

PLAN = DeskPlan(tickets=200, agents=6, capacity=3)


@pytest.fixture(scope="module")
def desk(production: ProductionStack) -> DeskFigures:
    """One run for the module's tests."""
    return run_desk(production.store_urls["HANDOFF_DB_URL"], production.base_urls, PLAN)


def test_every_ticket_is_assigned_once_to_one_agent_who_closes_it(
    desk: DeskFigures, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print(f"\nAssignment under load:\n{desk.report()}")
    assert len(desk.outcomes) == PLAN.tickets
    assert desk.lost == [], desk.report()
    assert desk.assigned_twice == [], desk.report()
    assert desk.closed_by_another == [], desk.report()
    assert sum(desk.handled.values()) == PLAN.tickets
    assert desk.failures == []


def test_no_agent_ever_holds_more_than_their_capacity(desk: DeskFigures) -> None:
    held = desk.held_max_load
    assert set(held) == set(PLAN.agent_names())
    assert max(held.values()) <= PLAN.capacity, held
    assert max(desk.sampled_max_load.values()) <= PLAN.capacity, desk.sampled_max_load
    # The desk was busy: agents worked several tickets at once, so capacity was at stake.
    assert max(held.values()) >= 2, held


def test_every_agent_handles_within_one_ticket_of_the_mean(desk: DeskFigures) -> None:
    off = {name: n for name, n in desk.handled.items() if abs(n - desk.mean) > 1}
    assert off == {}, desk.report()
