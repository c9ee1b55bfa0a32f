from __future__ import annotations

from datetime import datetime, timezone

import pytest

from actions.handoff import ActionHandoff, ActionSaveRating
from bot.handoff.records import Presence, Reason, Summary, Team, Urgency
from bot.handoff.store import HandoffStore
from bot.wallet import demo_data
from tests.support.actions import CONVERSATION, IDENTITY, run_action

IN_HOURS = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)  # 11:00 Beijing
AFTER_HOURS = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # 23:00 Beijing


@pytest.fixture
def store(tmp_path) -> HandoffStore:  # type: ignore[no-untyped-def]
    return HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoff.db'}")


def handoff(store: HandoffStore, now: datetime) -> ActionHandoff:
    return ActionHandoff(store=store, identity=IDENTITY, clock=lambda: now)


def test_in_hours_the_user_hears_position_and_wait_and_the_bot_pauses(store: HandoffStore) -> None:
    store.tickets.open("someone-else", "rest", Reason.REQUESTED, Summary())
    outcome = run_action(handoff(store, IN_HOURS), account=demo_data.ALICE)
    assert outcome.responses == ["utter_handoff_queued"]
    values = outcome.values("utter_handoff_queued")
    assert (values["position"], values["eta_minutes"]) == (2, 10)
    assert [event["event"] for event in outcome.events] == ["slot", "pause"]
    ticket = store.tickets.open_for(CONVERSATION)
    assert ticket is not None and ticket.summary.account == "dem***"


def test_after_hours_the_ticket_stays_open(store: HandoffStore) -> None:
    outcome = run_action(handoff(store, AFTER_HOURS))
    assert outcome.responses == ["utter_handoff_after_hours"]
    assert store.tickets.open_for(CONVERSATION) is not None


def test_reason_set_by_a_previous_action_sets_the_urgency(store: HandoffStore) -> None:
    run_action(handoff(store, IN_HOURS), slots={"handoff_reason": "compromised"})
    ticket = store.tickets.open_for(CONVERSATION)
    assert ticket is not None and ticket.reason is Reason.COMPROMISED
    assert ticket.urgency is Urgency.URGENT


def test_rating_is_stored_on_the_closed_ticket(store: HandoffStore) -> None:
    ticket = store.tickets.open(CONVERSATION, "rest", Reason.REQUESTED, Summary())
    store.tickets.claim(ticket.ticket_id, "li")
    store.tickets.close(ticket.ticket_id, "li", "ok", "")
    rate = ActionSaveRating(store=store, identity=IDENTITY)
    assert run_action(rate, entities=[("rating", "4")]).responses == ["utter_thanks_for_rating"]
    assert store.tickets.last_closed_for(CONVERSATION).rating == 4  # type: ignore[union-attr]


def test_a_rating_without_a_number_asks_again(store: HandoffStore) -> None:
    rate = ActionSaveRating(store=store, identity=IDENTITY)
    assert run_action(rate, text="还行吧").responses == ["utter_ask_rating"]


def test_a_rating_of_a_bot_only_conversation_is_thanked_too(store: HandoffStore) -> None:
    rate = ActionSaveRating(store=store, identity=IDENTITY)
    assert run_action(rate, entities=[("rating", "5")]).responses == ["utter_thanks_for_rating"]
    assert store.tickets.last_closed_for(CONVERSATION) is None


def said(intent: str, text: str) -> dict[str, object]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def test_a_theft_reported_before_asking_for_a_human_is_urgent_for_the_security_team(
    store: HandoffStore,
) -> None:
    theft = [said("account_compromised", "我的U被盗了"), said("request_human", "转人工")]
    run_action(handoff(store, IN_HOURS), intent="request_human", events=theft)
    ticket = store.tickets.open_for(CONVERSATION)
    assert ticket is not None
    assert (ticket.reason, ticket.urgency, ticket.team) == (
        Reason.COMPROMISED,
        Urgency.URGENT,
        Team.SECURITY,
    )


def test_a_routine_request_goes_to_the_general_queue(store: HandoffStore) -> None:
    asked = [said("network_fee", "gas费多少"), said("request_human", "转人工")]
    run_action(handoff(store, IN_HOURS), intent="request_human", events=asked)
    ticket = store.tickets.open_for(CONVERSATION)
    assert ticket is not None
    assert (ticket.reason, ticket.urgency, ticket.team) == (
        Reason.REQUESTED,
        Urgency.NORMAL,
        Team.GENERAL,
    )


def test_the_wait_counts_the_agents_online_and_their_free_places(store: HandoffStore) -> None:
    for name in ("li", "wang"):
        store.agents.add(name, name, "correct horse battery", capacity=1)
        store.roster.heartbeat(name, Presence.ONLINE)
    for n in range(5):  # five tickets ahead, two free places: three wait for two agents
        store.tickets.open(f"earlier-{n}", "rest", Reason.REQUESTED, Summary())
    outcome = run_action(handoff(store, IN_HOURS))
    values = outcome.values("utter_handoff_queued")
    # Two rounds of two agents at 5 minutes a ticket: 10 minutes, not position 6 × 5.
    assert (values["position"], values["eta_minutes"]) == (6, 10)


def test_with_a_free_agent_online_the_wait_is_a_minute(store: HandoffStore) -> None:
    store.agents.add("li", "小李", "correct horse battery")
    store.roster.heartbeat("li", Presence.ONLINE)
    store.tickets.open("earlier", "rest", Reason.REQUESTED, Summary())
    values = run_action(handoff(store, IN_HOURS)).values("utter_handoff_queued")
    assert (values["position"], values["eta_minutes"]) == (2, 1)
