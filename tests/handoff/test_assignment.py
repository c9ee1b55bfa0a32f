"""Automatic assignment, presence and the ways a ticket leaves its agent (take back, transfer,
release), on SQLite and on PostgreSQL: who gets a ticket (capacity, team, load, round robin, not
the agent it was just taken from), who gets nothing (away, offline, disabled, silent), the wait a
queued user is told, and races between agents and between servers that must have one winner."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa

from bot.handoff.directory import stored_teams
from bot.handoff.records import Presence, Reason, State, Summary, Team, Ticket, Urgency
from bot.handoff.store import HandoffStore
from bot.handoff.tables import agents, metadata, ticket_agents, utc_now

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
REASSIGN = timedelta(minutes=5)
# Past the reassign time and the five minutes after which a silent console counts as away.
LATER = timedelta(minutes=6)
# The desk's agents never log in here: their password does not matter, and hashing one (scrypt
# at 128 MiB) for each would cost a third of a second.
NO_LOGIN = "-"
RACES = 20


def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh SQLite file, or the module's PostgreSQL emptied of the previous test's tables."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'handoff.db'}"
    url = str(request.getfixturevalue("postgres").url("tracker"))
    engine = sa.create_engine(url)
    metadata.drop_all(engine)
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HandoffStore]:
    """A handoff store of the test's own, in SQLite or in PostgreSQL."""
    opened = HandoffStore.from_url(database_url(request, tmp_path))
    yield opened
    opened.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[HandoffStore]]:
    """Two servers' handoff stores on one database."""
    url = database_url(request, tmp_path)
    opened = [HandoffStore.from_url(url) for _ in range(2)]
    yield opened
    for each in opened:
        each.engine.dispose()


def hire(
    store: HandoffStore,
    username: str,
    teams: tuple[Team, ...] = (Team.GENERAL,),
    capacity: int = 3,
    presence: Presence | None = Presence.ONLINE,
) -> None:
    """An agent, who said ``presence`` (none: never opened the console) with a heartbeat now."""
    with store.engine.begin() as connection:
        connection.execute(
            agents.insert().values(
                username=username,
                display_name=username.upper(),
                password_hash=NO_LOGIN,
                role="agent",
                teams=stored_teams(teams),
                capacity=capacity,
            )
        )
    if presence is not None:
        assert store.roster.heartbeat(username, presence) is not None


def last_heartbeat(store: HandoffStore, username: str, ago: timedelta) -> None:
    """The agent's console sent its last heartbeat ``ago``."""
    with store.engine.begin() as connection:
        connection.execute(
            agents.update().where(agents.c.username == username).values(last_seen=utc_now() - ago)
        )


def queue(
    store: HandoffStore,
    conversation: str,
    team: Team = Team.GENERAL,
    reason: Reason = Reason.REQUESTED,
) -> Ticket:
    return store.tickets.open(conversation, "rest", reason, Summary(), team=team)


def held(store: HandoffStore, conversation: str, agent: str) -> Ticket:
    """A ticket ``agent`` claimed by hand."""
    ticket = store.tickets.claim(queue(store, conversation).ticket_id, agent)
    assert ticket is not None
    return ticket


def close(store: HandoffStore, conversation: str) -> None:
    """The conversation's agent closes its ticket."""
    ticket = store.tickets.open_for(conversation)
    assert ticket is not None and ticket.agent is not None
    assert store.tickets.close(ticket.ticket_id, ticket.agent, "", "") is not None


def holders(store: HandoffStore) -> dict[str, str | None]:
    """Each open ticket's conversation and its agent (None: queued)."""
    return {t.conversation_id: t.agent for t in store.tickets.queue()}


def assigned(store: HandoffStore, later: timedelta = timedelta(0)) -> list[tuple[str, str]]:
    """One round (``later`` than now): the (conversation, agent) pairs, in the order given."""
    made = store.assigner.assign(utc_now() + later)
    return [(m.ticket.conversation_id, m.agent.username) for m in made]


def ticket_agent_rows(store: HandoffStore) -> list[tuple[int, str]]:
    """Who held which ticket (``handoff_ticket_agents``)."""
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(ticket_agents.c.ticket_id, ticket_agents.c.username))
        return sorted((int(ticket_id), str(username)) for ticket_id, username in rows)


def race(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """Both calls, in two threads released at the same moment."""
    barrier = threading.Barrier(2)

    def released(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=2) as pool:
        one, other = pool.submit(released, first), pool.submit(released, second)
        return one.result(), other.result()


# Who gets a ticket


def test_tickets_go_to_online_agents_up_to_their_capacity(store: HandoffStore) -> None:
    hire(store, "li", capacity=2)
    for n in range(4):
        queue(store, f"c{n}")
    assert assigned(store) == [("c0", "li"), ("c1", "li")]
    assert assigned(store) == []  # full: the others wait
    assert holders(store) == {"c0": "li", "c1": "li", "c2": None, "c3": None}
    close(store, "c0")
    assert assigned(store) == [("c2", "li")]
    profile = store.roster.profile("li")
    assert profile is not None and profile.load == 2


def test_the_least_loaded_agent_gets_the_next_ticket(store: HandoffStore) -> None:
    hire(store, "li")
    hire(store, "wang")
    held(store, "held0", "li")
    held(store, "held1", "li")
    for n in range(3):
        queue(store, f"c{n}")
    # wang holds none: the next two are his; then both hold two and li waited longer.
    assert assigned(store) == [("c0", "wang"), ("c1", "wang"), ("c2", "li")]


def test_equal_loads_take_turns(store: HandoffStore) -> None:
    for name in ("chen", "li", "wang"):
        hire(store, name)
    order = []
    for n in range(7):
        queue(store, f"c{n}")
        [(_, agent)] = assigned(store)
        order.append(agent)
        close(store, f"c{n}")  # everyone is free again
    assert order == ["chen", "li", "wang", "chen", "li", "wang", "chen"]


def test_one_round_spreads_a_burst_over_the_desk(store: HandoffStore) -> None:
    for name in ("chen", "li", "wang"):
        hire(store, name)
    for n in range(10):
        queue(store, f"c{n}")
    made = assigned(store)
    assert [agent for _, agent in made] == ["chen", "li", "wang"] * 3  # the tenth waits
    assert holders(store)["c9"] is None


def test_the_most_urgent_ticket_takes_the_last_free_place(store: HandoffStore) -> None:
    hire(store, "li", capacity=1)
    queue(store, "routine")
    queue(store, "stolen", reason=Reason.COMPROMISED)
    assert assigned(store) == [("stolen", "li")]


def test_a_security_ticket_waits_for_the_security_team_while_one_of_it_is_online(
    store: HandoffStore,
) -> None:
    hire(store, "li")
    hire(store, "zhao", teams=(Team.SECURITY,), capacity=1)
    held(store, "busy", "zhao")
    queue(store, "theft", Team.SECURITY, Reason.COMPROMISED)
    queue(store, "routine")
    # zhao is full and li free: the theft still waits for the security team, routine does not.
    assert assigned(store) == [("routine", "li")]
    close(store, "busy")
    assert assigned(store) == [("theft", "zhao")]


def test_a_security_ticket_goes_to_a_security_agent_before_a_less_busy_general_one(
    store: HandoffStore,
) -> None:
    hire(store, "li")
    hire(store, "zhao", teams=(Team.GENERAL, Team.SECURITY))
    held(store, "held", "zhao")
    queue(store, "theft", Team.SECURITY, Reason.COMPROMISED)
    assert assigned(store) == [("theft", "zhao")]


def test_a_security_ticket_goes_to_anyone_when_no_security_agent_is_online(
    store: HandoffStore,
) -> None:
    hire(store, "li")
    hire(store, "zhao", teams=(Team.SECURITY,), presence=Presence.AWAY)
    queue(store, "theft", Team.SECURITY, Reason.COMPROMISED)
    assert assigned(store) == [("theft", "li")]


def test_a_general_ticket_goes_to_a_general_agent_first_and_to_anyone_when_none_is_online(
    store: HandoffStore,
) -> None:
    hire(store, "zhao", teams=(Team.SECURITY,))
    hire(store, "li", capacity=1)
    held(store, "held", "li")
    queue(store, "routine")
    assert assigned(store) == []  # li is busy, and zhao is not of the general team
    store.roster.heartbeat("li", Presence.AWAY)
    assert assigned(store) == [("routine", "zhao")]


# Who gets nothing


def test_away_offline_silent_and_disabled_agents_get_nothing(store: HandoffStore) -> None:
    hire(store, "away", presence=Presence.AWAY)
    hire(store, "offline", presence=Presence.OFFLINE)
    hire(store, "never", presence=None)  # never opened the console
    hire(store, "silent")
    last_heartbeat(store, "silent", LATER)  # said online, then the console went quiet
    hire(store, "gone")
    assert store.agents.disable("gone")
    queue(store, "c1")
    assert assigned(store) == []
    assert {p.username: p.presence for p in store.roster.profiles()} == {
        "away": Presence.AWAY,
        "gone": Presence.OFFLINE,
        "never": Presence.OFFLINE,
        "offline": Presence.OFFLINE,
        "silent": Presence.AWAY,
    }
    store.roster.heartbeat("silent")  # back at the console, online as they said
    assert assigned(store) == [("c1", "silent")]


def test_an_agent_counts_as_away_five_minutes_after_the_last_heartbeat(
    store: HandoffStore,
) -> None:
    hire(store, "li")
    queue(store, "c1")
    assert assigned(store, later=LATER) == []
    assert assigned(store, later=timedelta(minutes=4)) == [("c1", "li")]


def test_a_heartbeat_of_an_unknown_or_disabled_agent_is_refused(store: HandoffStore) -> None:
    hire(store, "li")
    store.agents.disable("li")
    assert store.roster.heartbeat("li", Presence.ONLINE) is None
    assert store.roster.heartbeat("nobody", Presence.ONLINE) is None
    profile = store.roster.profile("li")
    assert profile is not None and profile.presence is Presence.OFFLINE


# Taking back, releasing and transferring


def test_a_ticket_without_reply_in_time_goes_to_another_agent(store: HandoffStore) -> None:
    hire(store, "li")
    hire(store, "wang")
    ticket = queue(store, "c1")
    assert assigned(store) == [("c1", "li")]
    assert store.tickets.take_back(REASSIGN, []) == []  # not late yet
    [back] = store.tickets.take_back(REASSIGN, [], utc_now() + LATER)
    assert (back.ticket_id, back.state, back.agent, back.returned_from) == (
        ticket.ticket_id,
        State.QUEUED,
        None,
        "li",
    )
    held(store, "held", "wang")  # li now holds fewer tickets and has waited longer
    assert assigned(store) == [("c1", "wang")]
    assert [row for row in ticket_agent_rows(store) if row[0] == ticket.ticket_id] == [
        (ticket.ticket_id, "li"),
        (ticket.ticket_id, "wang"),
    ]


def test_a_ticket_taken_back_goes_to_the_same_agent_when_nobody_else_is_online(
    store: HandoffStore,
) -> None:
    hire(store, "li")
    queue(store, "c1")
    assert assigned(store) == [("c1", "li")]
    assert len(store.tickets.take_back(REASSIGN, [], utc_now() + LATER)) == 1
    assert assigned(store) == [("c1", "li")]


def test_an_answered_ticket_stays_with_its_agent(store: HandoffStore) -> None:
    hire(store, "li")
    ticket = queue(store, "c1")
    assigned(store)
    assert store.tickets.replied(ticket.ticket_id, "li", "") is not None
    assert store.tickets.take_back(REASSIGN, [], utc_now() + LATER) == []
    assert holders(store) == {"c1": "li"}


def test_an_agent_without_heartbeat_for_the_timeout_loses_their_tickets(
    store: HandoffStore,
) -> None:
    hire(store, "li")
    hire(store, "wang")
    for n in range(4):
        queue(store, f"c{n}")
    assert assigned(store) == [("c0", "li"), ("c1", "wang"), ("c2", "li"), ("c3", "wang")]
    for ticket in store.tickets.queue():
        assert ticket.agent is not None
        store.tickets.replied(ticket.ticket_id, ticket.agent, "")  # both are at work
    assert store.roster.gone(REASSIGN) == []
    last_heartbeat(store, "wang", LATER)  # wang's laptop closed mid-ticket
    gone = store.roster.gone(REASSIGN)
    assert gone == ["wang"]
    back = store.tickets.take_back(REASSIGN, gone)
    assert sorted((t.conversation_id, t.returned_from) for t in back) == [
        ("c1", "wang"),
        ("c3", "wang"),
    ]
    # wang counts as away now: li has room for one more; the other waits.
    assert assigned(store) == [("c1", "li")]
    assert holders(store) == {"c0": "li", "c1": "li", "c2": "li", "c3": None}


def test_an_agent_holding_nothing_is_never_gone(store: HandoffStore) -> None:
    hire(store, "li")
    last_heartbeat(store, "li", LATER)
    assert store.roster.gone(REASSIGN) == []


def test_a_disabled_agents_tickets_go_back_to_the_queue_and_to_others(
    store: HandoffStore,
) -> None:
    hire(store, "li")
    hire(store, "wang")
    held(store, "c0", "li")
    held(store, "c1", "li")
    assert store.agents.disable("li")
    released = store.tickets.release("li")
    assert sorted((t.conversation_id, t.state, t.returned_from) for t in released) == [
        ("c0", State.QUEUED, "li"),
        ("c1", State.QUEUED, "li"),
    ]
    assert store.tickets.release("li") == []
    assert assigned(store) == [("c0", "wang"), ("c1", "wang")]


def test_a_transfer_to_an_agent_gives_them_the_ticket_at_once(store: HandoffStore) -> None:
    hire(store, "li")
    hire(store, "wang", presence=Presence.AWAY)
    ticket = held(store, "c1", "li")
    assert store.tickets.transfer(ticket.ticket_id, "wang", "li", None) is None  # not wang's
    moved = store.tickets.transfer(ticket.ticket_id, "li", "wang", None)
    assert moved is not None and (moved.state, moved.agent) == (State.ASSIGNED, "wang")
    assert ticket_agent_rows(store) == [(ticket.ticket_id, "li"), (ticket.ticket_id, "wang")]
    assert store.tickets.transfer(ticket.ticket_id, "li", "wang", None) is None  # li's no more


def test_a_transfer_to_a_team_queues_the_ticket_for_that_team(store: HandoffStore) -> None:
    hire(store, "li")
    hire(store, "zhao", teams=(Team.SECURITY,))
    ticket = held(store, "c1", "li")
    moved = store.tickets.transfer(ticket.ticket_id, "li", None, Team.SECURITY)
    assert moved is not None
    assert (moved.state, moved.agent, moved.team) == (State.QUEUED, None, Team.SECURITY)
    assert assigned(store) == [("c1", "zhao")]


# The wait a queued user is told


def test_the_wait_counts_online_agents_and_their_free_places(store: HandoffStore) -> None:
    waiting = queue(store, "c0")
    assert store.assigner.wait_minutes(waiting, 5) is None  # nobody online
    hire(store, "li", capacity=1)
    hire(store, "wang", capacity=1)
    assert store.assigner.wait_minutes(waiting, 5) == 1  # a free place: soon
    store.tickets.claim(waiting.ticket_id, "li")
    held(store, "c1", "wang")
    tickets = [queue(store, f"q{n}") for n in range(5)]
    # The desk is full, two agents: the first two wait a round, the fifth three.
    assert [store.assigner.wait_minutes(t, 5) for t in tickets] == [5, 5, 10, 10, 15]
    urgent = queue(store, "stolen", reason=Reason.COMPROMISED)
    assert urgent.urgency is Urgency.URGENT
    assert store.assigner.wait_minutes(urgent, 5) == 5  # ahead of every routine ticket


def test_a_security_ticket_waits_for_the_security_teams_places(store: HandoffStore) -> None:
    hire(store, "li", capacity=3)
    hire(store, "zhao", teams=(Team.SECURITY,), capacity=1)
    held(store, "held", "zhao")
    theft = queue(store, "theft", Team.SECURITY, Reason.COMPROMISED)
    # li's free places are not the security team's: a round of zhao's.
    assert store.assigner.wait_minutes(theft, 5) == 5
    store.roster.heartbeat("zhao", Presence.AWAY)
    assert store.assigner.wait_minutes(theft, 5) == 1  # then anyone may take it


# Races


def test_two_agents_claiming_at_once_one_wins(servers: list[HandoffStore]) -> None:
    one, other = servers
    for n in range(RACES):
        ticket = queue(one, f"c{n}")
        mine, theirs = race(
            partial(one.tickets.claim, ticket.ticket_id, "li"),
            partial(other.tickets.claim, ticket.ticket_id, "wang"),
        )
        winners = [t.agent for t in (mine, theirs) if t is not None]
        assert len(winners) == 1, f"race {n}: {winners}"
        now = one.tickets.get(ticket.ticket_id)
        assert now is not None and now.agent == winners[0]
    rows = ticket_agent_rows(one)
    assert [ticket_id for ticket_id, _ in rows] == list(range(1, RACES + 1))


def test_a_claim_racing_automatic_assignment_gives_the_ticket_once(
    servers: list[HandoffStore],
) -> None:
    one, other = servers
    hire(one, "auto")
    for n in range(RACES):
        ticket = queue(one, f"c{n}")
        claimed, made = race(
            partial(one.tickets.claim, ticket.ticket_id, "hand"), other.assigner.assign
        )
        assert (claimed is not None) + len(made) == 1, f"race {n}"
        holder = "hand" if claimed is not None else "auto"
        assert holders(one) == {f"c{n}": holder}
        close(one, f"c{n}")
    rows = ticket_agent_rows(one)
    assert [ticket_id for ticket_id, _ in rows] == list(range(1, RACES + 1))


def test_servers_taking_back_at_once_return_each_ticket_once(servers: list[HandoffStore]) -> None:
    one, other = servers
    hire(one, "li", capacity=10)
    for n in range(10):
        queue(one, f"c{n}")
    assert len(assigned(one)) == 10
    later = utc_now() + LATER
    first, second = race(
        partial(one.tickets.take_back, REASSIGN, [], later),
        partial(other.tickets.take_back, REASSIGN, [], later),
    )
    assert sorted(t.ticket_id for t in first + second) == list(range(1, 11))


def test_rounds_at_once_never_give_a_ticket_twice_nor_fill_an_agent_past_capacity(
    servers: list[HandoffStore],
) -> None:
    """Every server runs rounds: on PostgreSQL, rounds of both servers' stores race; SQLite
    serves one server, whose rounds race within it."""
    one, other = servers
    if one.engine.dialect.name != "postgresql":
        other = one
    for name in ("chen", "li", "wang"):
        hire(one, name)
    for n in range(RACES):
        for k in range(10):
            queue(one, f"c{n}-{k}")
        mine, theirs = race(one.assigner.assign, other.assigner.assign)
        given = [m.ticket.ticket_id for m in mine + theirs]
        assert len(given) == len(set(given)) == 9, f"race {n}"
        loads = {p.username: p.load for p in one.roster.profiles()}
        assert loads == {"chen": 3, "li": 3, "wang": 3}, f"race {n}"
        for conversation, agent in holders(one).items():
            if agent is not None:
                close(one, conversation)
    # Each ticket was given to one agent once (the one left queued each race was given later).
    rows = ticket_agent_rows(one)
    assert len(rows) == len({ticket_id for ticket_id, _ in rows}) == 9 * RACES
