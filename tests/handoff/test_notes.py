"""Internal notes and tags of a ticket."""

from __future__ import annotations

import pytest

from bot.handoff.notes import MAX_NOTE, NoteError
from bot.handoff.records import Reason, Summary
from bot.handoff.store import HandoffStore


def test_notes_are_kept_in_order_with_their_author(store: HandoffStore) -> None:
    ticket = store.tickets.open("c1", "rest", Reason.REQUESTED, Summary())
    store.notes.add(ticket.ticket_id, "li", "用户说是换了手机后看不到余额")
    store.notes.add(ticket.ticket_id, "wang", '<script>alert("x")</script>')
    notes = store.notes.notes(ticket.ticket_id)
    assert [(n.author, n.kind) for n in notes] == [("li", "note"), ("wang", "note")]
    assert notes[1].text == '<script>alert("x")</script>'  # kept as typed; pages show text


def test_an_empty_or_too_long_note_is_refused(store: HandoffStore) -> None:
    ticket = store.tickets.open("c1", "rest", Reason.REQUESTED, Summary())
    with pytest.raises(NoteError):
        store.notes.add(ticket.ticket_id, "li", "   ")
    with pytest.raises(NoteError, match=str(MAX_NOTE)):
        store.notes.add(ticket.ticket_id, "li", "长" * (MAX_NOTE + 1))
    assert store.notes.notes(ticket.ticket_id) == []


def test_tags_replace_the_ticket_s_tags(store: HandoffStore) -> None:
    ticket = store.tickets.open("c1", "rest", Reason.REQUESTED, Summary())
    assert store.notes.set_tags(ticket.ticket_id, [" 充值未到账 ", "TRC20", "TRC20"]) == [
        "充值未到账",
        "TRC20",
    ]
    store.notes.set_tags(ticket.ticket_id, ["已解决"])
    assert store.notes.tags(ticket.ticket_id) == ["已解决"]
    with pytest.raises(NoteError):
        store.notes.set_tags(ticket.ticket_id, ["a,b"])
    with pytest.raises(NoteError):
        store.notes.set_tags(ticket.ticket_id, [f"t{n}" for n in range(11)])
