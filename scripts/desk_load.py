"""The desk's load scenario, shared by ``scripts/bench_assignment.py`` (which prints its figures)
and the load test (tests/test_assignment_load.py).

The agents (capacity 3, team general) are created in the shared handoff database and log in to
the console; each is a thread that keeps its console online (POST /api/presence), looks for the
tickets assigned to it (GET /api/queue), answers each (POST /tickets/<id>/reply) and closes it
(POST /tickets/<id>/close) a fixed time after it first saw it, as an agent working several chats
at once would, its calls going to the two servers in turn. The tickets are opened straight in the
handoff database (``TicketStore.open``, as the action server opens them when a user asks for a
human), one every ``arrival_seconds``: the users' turns would only add the NLU's time, not the
assignment's. Both servers' dispatchers assign at once, every HANDOFF_ASSIGN_SECONDS and when a
close or a heartbeat wakes them.

Figures: tickets each agent handled, the most tickets an agent ever held (sampled during the run
and exact from the assignment and close times), the time from the first ticket to the last close,
and the assignment wait (assigned_at - created_at) p50/p95; and what went wrong: tickets never
closed, assigned more than once, or closed by another agent than their own.
"""

from __future__ import annotations

import http.client
import itertools
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.handoff.records import Presence, Reason, State, Summary, Team
from bot.handoff.store import HandoffStore
from bot.handoff.tables import ticket_agents, tickets

logger = logging.getLogger(__name__)

CONSOLE_API = "/webhooks/agent/api"
PASSWORD = "a-long-desk-load-password"
CHANNEL = "rest"
# Agents on duty around the clock and no rate limit: the run measures assignment, not them.
STACK_SETTINGS = {
    "SUPPORT_HOURS": "00:00-23:59:59",
    "RATE_LIMIT_BURST": "1000000",
    "RATE_LIMIT_PER_MINUTE": "1000000",
}
HTTP_TIMEOUT = 30.0
REPLY = "Hello, this is the support desk (load test)."


@dataclass(frozen=True)
class DeskPlan:
    """How many tickets and agents, and the pace of both."""

    tickets: int = 200
    agents: int = 6
    capacity: int = 3
    # A new ticket this often.
    arrival_seconds: float = 0.2
    # An agent answers a ticket this long after first seeing it, and closes it this long after.
    reply_seconds: float = 0.3
    handling_seconds: float = 1.5
    # How often each agent's console looks at the queue and sends a heartbeat.
    poll_seconds: float = 0.25
    heartbeat_seconds: float = 5.0
    # Longest the desk may take to close every ticket after the last one was opened.
    drain_timeout: float = 120.0
    # Names: "<prefix>-1" … and conversations "<prefix>-<n>".
    prefix: str = "desk-load"

    def agent_names(self) -> list[str]:
        return [f"{self.prefix}-{n}" for n in range(1, self.agents + 1)]


@dataclass(frozen=True)
class TicketOutcome:
    """One ticket of the run as the handoff database holds it afterwards."""

    ticket_id: int
    state: State
    agent: str | None
    # Everyone the ticket was ever assigned to (handoff_ticket_agents), and whether it was ever
    # taken back from its agent (which may then have had it again: one row).
    holders: tuple[str, ...]
    taken_back: bool
    created_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    # The agent whose console closed it (None: no close was accepted).
    closed_by: str | None


@dataclass
class DeskFigures:
    """What a run did."""

    plan: DeskPlan
    servers: int
    outcomes: list[TicketOutcome]
    # Closes each agent's console made that the server accepted.
    handled: dict[str, int]
    # The most tickets each agent held in the samples of the handoff database during the run.
    sampled_max_load: dict[str, int]
    drain_seconds: float
    # Console calls that failed (status or error), for the report.
    failures: list[str] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return self.plan.tickets / self.plan.agents

    @property
    def lost(self) -> list[int]:
        """Tickets not closed by their agent."""
        return [o.ticket_id for o in self.outcomes if o.state is not State.CLOSED]

    @property
    def assigned_twice(self) -> list[int]:
        """Tickets assigned more than once: held by several agents, or taken back."""
        return [o.ticket_id for o in self.outcomes if len(o.holders) != 1 or o.taken_back]

    @property
    def closed_by_another(self) -> list[int]:
        return [
            o.ticket_id
            for o in self.outcomes
            if o.closed_by is None or o.closed_by != o.agent or (o.agent,) != o.holders
        ]

    @property
    def held_max_load(self) -> dict[str, int]:
        """The most tickets each agent held at once, from the assignment and close times."""
        changes: dict[str, list[tuple[datetime, int]]] = {}
        for o in self.outcomes:
            if o.agent is None or o.assigned_at is None:
                continue
            marks = changes.setdefault(o.agent, [])
            marks.append((o.assigned_at, 1))
            if o.closed_at is not None:
                marks.append((o.closed_at, -1))
        most = {}
        for agent, marks in changes.items():
            load = peak = 0
            for _, change in sorted(marks, key=lambda mark: (mark[0], mark[1])):
                load += change
                peak = max(peak, load)
            most[agent] = peak
        return most

    @property
    def waits(self) -> list[float]:
        """Seconds from each ticket's opening to its assignment."""
        return [
            (o.assigned_at - o.created_at).total_seconds()
            for o in self.outcomes
            if o.assigned_at is not None
        ]

    def report(self) -> str:
        waits = sorted(self.waits)
        lines = [
            f"{self.plan.tickets} tickets, {self.plan.agents} agents (capacity "
            f"{self.plan.capacity}), {self.servers} servers; a ticket every "
            f"{self.plan.arrival_seconds}s, each handled in {self.plan.handling_seconds}s",
            f"handled per agent (mean {self.mean:.2f}): "
            + ", ".join(f"{name} {count}" for name, count in sorted(self.handled.items())),
            f"most tickets held at once: {max(self.held_max_load.values(), default=0)} "
            f"(sampled {max(self.sampled_max_load.values(), default=0)})",
            f"time to drain: {self.drain_seconds:.1f}s",
            f"assignment wait: p50 {percentile(waits, 0.5):.2f}s, "
            f"p95 {percentile(waits, 0.95):.2f}s, max {max(waits, default=0.0):.2f}s",
            f"lost {len(self.lost)}, assigned twice {len(self.assigned_twice)}, closed by "
            f"another {len(self.closed_by_another)}, failed console calls {len(self.failures)}",
        ]
        return "\n".join(lines)


def percentile(ordered: Sequence[float], share: float) -> float:
    """The value below which ``share`` of the sorted values lie (0 for none)."""
    if not ordered:
        return 0.0
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


class Console:
    """An agent's console API on several servers, each call to the next server in turn."""

    def __init__(self, base_urls: Sequence[str], first: int) -> None:
        self._servers = [urllib.parse.urlsplit(url) for url in base_urls]
        self._turn = itertools.count(first)
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        server = self._servers[next(self._turn) % len(self._servers)]
        connection = http.client.HTTPConnection(
            server.hostname or "127.0.0.1", server.port, timeout=HTTP_TIMEOUT
        )
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            payload = None if body is None else json.dumps(body).encode()
            connection.request(method, f"{CONSOLE_API}{path}", payload, headers)
            answer = connection.getresponse()
            data = answer.read()
            return answer.status, json.loads(data) if data else None
        finally:
            connection.close()

    def login(self, username: str, password: str) -> None:
        status, answer = self.call("POST", "/login", {"username": username, "password": password})
        if status != 200:
            raise RuntimeError(f"{username} could not log in: {status} {answer}")
        self.token = str(answer["token"])


class DeskAgent:
    """One agent at the console: online, answering and closing what is assigned to them."""

    def __init__(self, username: str, console: Console, plan: DeskPlan) -> None:
        self.username = username
        self.console = console
        self.plan = plan
        self.handled = 0
        self.closed: dict[int, str] = {}
        self.failures: list[str] = []
        self._seen: dict[int, float] = {}
        self._answered: set[int] = set()
        self._next_beat = 0.0

    def work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._turn()
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.failures.append(f"{self.username}: {error!r}")
            stop.wait(self.plan.poll_seconds)

    def _turn(self) -> None:
        now = time.monotonic()
        if now >= self._next_beat:
            self._expect("POST", "/presence", {"presence": Presence.ONLINE.value})
            self._next_beat = now + self.plan.heartbeat_seconds
        status, page = self.console.call("GET", "/queue?limit=200")
        if status != 200:
            self.failures.append(f"{self.username}: queue {status}")
            return
        for ticket in page["tickets"]:
            if ticket["agent"] == self.username and ticket["state"] == State.ASSIGNED.value:
                self._seen.setdefault(int(ticket["ticket_id"]), time.monotonic())
        for ticket_id, seen in sorted(self._seen.items(), key=lambda item: item[1]):
            since = time.monotonic() - seen
            due = ticket_id not in self._answered and since >= self.plan.reply_seconds
            if due and self._expect("POST", f"/tickets/{ticket_id}/reply", {"text": REPLY}):
                self._answered.add(ticket_id)
            if ticket_id in self._answered and since >= self.plan.handling_seconds:
                if self._expect("POST", f"/tickets/{ticket_id}/close", {"note": "load test"}):
                    self.closed[ticket_id] = self.username
                    self.handled += 1
                del self._seen[ticket_id]

    def _expect(self, method: str, path: str, body: Any) -> bool:
        status, answer = self.console.call(method, path, body)
        if status != 200:
            self.failures.append(f"{self.username}: {method} {path} {status} {answer}")
        return status == 200


class LoadSampler:
    """Samples every agent's load in the handoff database while the run lasts."""

    def __init__(self, store: HandoffStore, names: Sequence[str]) -> None:
        self._store = store
        self.most = dict.fromkeys(names, 0)

    def sample(self, stop: threading.Event) -> None:
        while not stop.is_set():
            for profile in self._store.roster.profiles():
                if profile.username in self.most:
                    self.most[profile.username] = max(self.most[profile.username], profile.load)
            stop.wait(0.1)


def clear_desk(store: HandoffStore) -> None:
    """An empty queue and nobody else online: earlier tickets (a shared stack's) are cancelled or
    closed, and other agents set offline, so the run's agents get the run's tickets alone."""
    for ticket in store.tickets.queue():
        if ticket.state is State.QUEUED:
            store.tickets.cancel(ticket.conversation_id)
        elif ticket.agent is not None:
            store.tickets.close(ticket.ticket_id, ticket.agent, "closed before a load run", "")
    for profile in store.roster.profiles():
        if profile.presence is not Presence.OFFLINE:
            store.roster.heartbeat(profile.username, Presence.OFFLINE)


def run_desk(handoff_url: str, base_urls: Sequence[str], plan: DeskPlan) -> DeskFigures:
    """The run on servers already started (``base_urls``) on the handoff database."""
    store = HandoffStore.from_url(handoff_url)
    try:
        return _run(store, base_urls, plan)
    finally:
        store.engine.dispose()


def _run(store: HandoffStore, base_urls: Sequence[str], plan: DeskPlan) -> DeskFigures:
    names = plan.agent_names()
    clear_desk(store)
    for name in names:
        store.agents.add(name, name, PASSWORD, teams=(Team.GENERAL,), capacity=plan.capacity)
    desk = []
    for number, name in enumerate(names):
        console = Console(base_urls, number)
        console.login(name, PASSWORD)
        desk.append(DeskAgent(name, console, plan))
    sampler = LoadSampler(store, names)
    stop = threading.Event()
    threads = [threading.Thread(target=a.work, args=(stop,), name=a.username) for a in desk]
    threads.append(threading.Thread(target=sampler.sample, args=(stop,), name="sampler"))
    run_id = time.time_ns()
    opened: list[int] = []
    for thread in threads:
        thread.start()
    try:
        started = time.monotonic()
        for n in range(plan.tickets):
            time.sleep(max(started + n * plan.arrival_seconds - time.monotonic(), 0))
            ticket = store.tickets.open(
                f"{plan.prefix}-{run_id}-{n}", CHANNEL, Reason.REQUESTED, Summary()
            )
            opened.append(ticket.ticket_id)
        deadline = time.monotonic() + plan.drain_timeout
        while sum(a.handled for a in desk) < plan.tickets and time.monotonic() < deadline:
            time.sleep(0.1)
        drained = time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for agent in desk:
            agent.console.call("POST", "/logout")  # offline: the stack's later users get nothing
    closed_by = {ticket_id: name for a in desk for ticket_id, name in a.closed.items()}
    return DeskFigures(
        plan=plan,
        servers=len(base_urls),
        outcomes=outcomes(store, opened, closed_by),
        handled={a.username: a.handled for a in desk},
        sampled_max_load=sampler.most,
        drain_seconds=drained,
        failures=[failure for a in desk for failure in a.failures],
    )


def outcomes(
    store: HandoffStore, ticket_ids: Sequence[int], closed_by: dict[int, str]
) -> list[TicketOutcome]:
    """The tickets as the database holds them, with who held them and whose console closed
    them."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                tickets.c.ticket_id,
                tickets.c.state,
                tickets.c.agent,
                tickets.c.created_at,
                tickets.c.assigned_at,
                tickets.c.closed_at,
                tickets.c.returned_from,
            ).where(tickets.c.ticket_id.in_(ticket_ids))
        ).all()
        held = connection.execute(
            sa.select(ticket_agents.c.ticket_id, ticket_agents.c.username).where(
                ticket_agents.c.ticket_id.in_(ticket_ids)
            )
        ).all()
    holders: dict[int, list[str]] = {}
    for ticket_id, username in held:
        holders.setdefault(int(ticket_id), []).append(str(username))
    found = {
        int(row.ticket_id): TicketOutcome(
            ticket_id=int(row.ticket_id),
            state=State(row.state),
            agent=row.agent,
            holders=tuple(sorted(holders.get(int(row.ticket_id), []))),
            taken_back=row.returned_from is not None,
            created_at=row.created_at,
            assigned_at=row.assigned_at,
            closed_at=row.closed_at,
            closed_by=closed_by.get(int(row.ticket_id)),
        )
        for row in rows
    }
    return [found[ticket_id] for ticket_id in ticket_ids]
