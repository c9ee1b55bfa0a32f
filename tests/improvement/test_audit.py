"""The audit log: every label, undo, pin and flag leaves an entry with who and when, newest
first; nothing in the API changes or removes an entry (SQLite and PostgreSQL)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.improvement import audit as audit_module
from bot.improvement import flags as flags_module
from bot.improvement import labels as labels_module
from bot.improvement.audit import AuditLog
from bot.improvement.flags import FlagStore
from bot.improvement.labels import LabelError, LabelStore, utc_now
from bot.improvement.tables import audit

KNOWN = {"transfer_pending", "network_fee"}


@pytest.fixture
def log(url: str) -> Iterator[AuditLog]:
    log = AuditLog.from_url(url)
    yield log
    log.engine.dispose()


def test_each_change_is_recorded_with_who_did_it_newest_first(log: AuditLog) -> None:
    store, flags = LabelStore(log.engine), FlagStore(log.engine)
    before = utc_now()
    first = store.label("转账没到", "k1", "transfer_pending", "lead1", known_intents=KNOWN)
    second = store.label("gas费太高", "k1", "network_fee", "lead2", known_intents=KNOWN)
    store.pin(second.label_id, True, "lead1")
    store.undo(second.label_id, "lead2")
    flags.flag("conv-1", 7, "agent1", "机器人答错了")
    log.record("lead1", "approve", {"model": "20261202-candidate", "accuracy": 0.93})
    entries = log.entries()
    assert [(e.actor, e.action) for e in entries] == [
        ("lead1", "approve"),
        ("agent1", "flag"),
        ("lead2", "undo"),
        ("lead1", "pin"),
        ("lead2", "label"),
        ("lead1", "label"),
    ]
    assert entries[0].details == {"model": "20261202-candidate", "accuracy": 0.93}
    assert entries[4].details["replaced"] == first.label_id
    assert entries[4].details["intent"] == "network_fee"
    assert entries[5].details["replaced"] is None
    assert all(before <= e.at <= utc_now() for e in entries)
    assert [e.action for e in log.entries(limit=2, offset=1)] == ["flag", "undo"]


def test_refused_and_ineffective_changes_leave_no_entry(log: AuditLog) -> None:
    store = LabelStore(log.engine)
    with pytest.raises(LabelError):
        store.label("转账没到", "k1", "deleted_intent", "lead1", known_intents=KNOWN)
    assert not store.undo(12345, "lead1")
    assert not store.pin(12345, True, "lead1")
    assert log.entries() == []


def test_the_audit_log_offers_only_record_and_entries() -> None:
    public = {name for name, _ in inspect.getmembers(AuditLog) if not name.startswith("_")}
    assert public == {"record", "entries", "from_url"}


def test_no_code_of_the_modules_updates_or_deletes_audit_entries() -> None:
    for module in (labels_module, flags_module, audit_module):
        source = inspect.getsource(module)
        assert "audit.update" not in source and "audit.delete" not in source
        assert "sa.update(audit" not in source and "sa.delete(audit" not in source


def test_no_call_of_the_api_changes_an_entry(log: AuditLog) -> None:
    """Every public method of every store runs after entries exist; the entries stay as they were."""
    store, flags = LabelStore(log.engine), FlagStore(log.engine)
    label = store.label("转账没到", "k1", "transfer_pending", "lead1", known_intents=KNOWN)
    log.record("lead1", "train", {"run": 1})

    def rows() -> list[tuple[object, ...]]:
        with log.engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.execute(sa.select(audit).order_by(audit.c.entry_id))
            ]

    written = rows()
    store.label("转账没到啊", "k1", "network_fee", "lead2", known_intents=KNOWN)
    store.pin(label.label_id, True, "lead2")
    current = store.active()[0]
    store.pin(current.label_id, True, "lead2")
    store.undo(current.label_id, "lead2")
    store.active(), store.pinned(), store.handled_keys()
    flags.flag("conv-1", None, "agent1")
    flags.flags()
    log.record("lead1", "rollback", {"to": "previous"})
    log.entries(limit=1)
    methods = {
        f"{type(owner).__name__}.{name}"
        for owner in (store, flags, log)
        for name, _ in inspect.getmembers(type(owner), inspect.isfunction)
        if not name.startswith("_")
    }
    # A new public method must be added to this test (and append only).
    assert methods == {
        "LabelStore.label", "LabelStore.undo", "LabelStore.pin", "LabelStore.active",
        "LabelStore.pinned", "LabelStore.handled_keys", "FlagStore.flag", "FlagStore.flags",
        "AuditLog.record", "AuditLog.entries",
    }  # fmt: skip
    now = rows()
    assert now[: len(written)] == written
    assert len(now) == len(written) + 5  # label, pin, undo, flag, rollback appended
