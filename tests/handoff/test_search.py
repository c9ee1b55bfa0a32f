"""Search over tickets: by number, hash, address, words, tag and agent, within what the viewer
may see, over redacted transcripts."""

from __future__ import annotations

from bot.handoff.records import AgentProfile, Presence, Reason, Role, Summary, Team
from bot.handoff.search import searchable
from bot.handoff.store import HandoffStore

HASH = "0x" + "ab" * 32
ADDRESS = "TN3W4H6rK2ce4vX9YnFQHwKENnHjoxb3m9"


def viewer(
    name: str, role: Role = Role.AGENT, teams: tuple[Team, ...] = (Team.GENERAL,)
) -> AgentProfile:
    return AgentProfile(name, name, role, teams, 3, Presence.ONLINE, False)


def worked(store: HandoffStore, conversation: str, agent: str, lines: list[str]) -> int:
    ticket = store.tickets.open(conversation, "rest", Reason.REQUESTED, Summary())
    store.tickets.claim(ticket.ticket_id, agent)
    transcript = searchable([{"role": "user", "text": line} for line in lines])
    store.tickets.close(ticket.ticket_id, agent, "", transcript)
    return ticket.ticket_id


def found(store: HandoffStore, query: str, who: AgentProfile) -> list[int]:
    return [hit.ticket.ticket_id for hit in store.search.search(query, who)]


def test_an_agent_finds_their_tickets_by_hash_address_words_and_number(
    store: HandoffStore,
) -> None:
    mine = worked(store, "c1", "li", [f"转账 {HASH} 一直没到", f"收款地址 {ADDRESS}"])
    worked(store, "c2", "wang", ["充值没到账"])
    li = viewer("li")
    assert found(store, HASH.upper(), li) == [mine]
    assert found(store, ADDRESS, li) == [mine]
    assert found(store, "没到", li) == [mine]
    assert found(store, f"#{mine}", li) == [mine]
    assert found(store, "agent:li", li) == [mine]
    assert found(store, "", li) == []


def test_an_agent_does_not_find_others_tickets_a_supervisor_finds_all(
    store: HandoffStore,
) -> None:
    theirs = worked(store, "c2", "wang", ["充值没到账"])
    assert found(store, "充值", viewer("li")) == []
    assert found(store, f"{theirs}", viewer("li")) == []
    assert found(store, "充值", viewer("chen", Role.SUPERVISOR)) == [theirs]


def test_an_agent_finds_the_tickets_waiting_in_their_team_s_queue(store: HandoffStore) -> None:
    summary = Summary(last_messages=["我的币被盗了"])
    waiting = store.tickets.open("c3", "rest", Reason.COMPROMISED, summary, team=Team.SECURITY)
    assert found(store, "被盗", viewer("li")) == []
    assert found(store, "被盗", viewer("zhao", teams=(Team.SECURITY,))) == [waiting.ticket_id]


def test_tags_find_tickets_and_transcripts_keep_no_contact_details(store: HandoffStore) -> None:
    ticket_id = worked(store, "c1", "li", ["我的邮箱是 alice@example.com 电话 13812345678"])
    store.notes.set_tags(ticket_id, ["换手机"])
    li = viewer("li")
    assert found(store, "tag:换手机", li) == [ticket_id]
    assert found(store, "alice@example.com", li) == []
    assert found(store, "13812345678", li) == []
    assert found(store, "100%_", li) == []  # LIKE wildcards are searched as text
