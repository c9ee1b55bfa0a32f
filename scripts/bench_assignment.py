"""Automatic assignment under load: 200 tickets, 6 agents, 2 servers on PostgreSQL and Redis
(the scenario is ``scripts/desk_load.py``'s, also the load test's), on a stack of its own.

    python -m scripts.bench_assignment [--tickets 200] [--agents 6] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.desk_load import STACK_SETTINGS, DeskPlan, run_desk
from scripts.production_stack import ProductionStack


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=DeskPlan.tickets)
    parser.add_argument("--agents", type=int, default=DeskPlan.agents)
    parser.add_argument("--workdir", type=Path, help="logs (default: a new temporary directory)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    plan = DeskPlan(tickets=args.tickets, agents=args.agents)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-assignment-"))
    started = time.monotonic()
    with ProductionStack(workdir, servers=2, settings=STACK_SETTINGS) as stack:
        print(f"2 servers on PostgreSQL and Redis in {time.monotonic() - started:.0f}s", flush=True)
        figures = run_desk(stack.store_urls["HANDOFF_DB_URL"], stack.base_urls, plan)
    print(figures.report())
    balanced = all(abs(n - figures.mean) <= 1 for n in figures.handled.values())
    print(f"balanced within ±1 of the mean: {'yes' if balanced else 'no'}; logs in {workdir}")
    whole = not (figures.lost or figures.assigned_twice or figures.closed_by_another)
    return 0 if whole and balanced else 1


if __name__ == "__main__":
    sys.exit(main())
