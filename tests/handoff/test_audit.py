"""The desk's audit log: appended, read newest first, exported as CSV, never changed or removed
(by the code or by hand), and the unusual-viewing alert."""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.handoff.audit import PANEL_VIEW, VIEW_ALERT, AuditError, as_csv
from bot.handoff.store import HandoffStore
from scripts.production_stack import Postgres

ROOT = Path(__file__).resolve().parents[2]


def test_entries_are_read_newest_first_and_per_actor(store: HandoffStore) -> None:
    store.audit.record("li", "login", "127.0.0.1")
    store.audit.record("wang", "close", "ticket:3", "已解决")
    store.audit.record("li", "transfer", "ticket:4", "team:security")
    assert [e.action for e in store.audit.entries()] == ["transfer", "close", "login"]
    assert [e.target for e in store.audit.entries(actor="li")] == ["ticket:4", "127.0.0.1"]
    assert store.audit.count() == 3


@pytest.mark.parametrize(
    "statement", ["update handoff_audit_log set detail = 'x'", "delete from handoff_audit_log"]
)
def test_the_database_refuses_to_change_or_remove_an_entry(
    store: HandoffStore, statement: str
) -> None:
    store.audit.record("li", "panel_reveal", "ticket:1", "field phone: 用户要求核对手机号")
    with pytest.raises(sa.exc.DatabaseError), store.engine.begin() as connection:
        connection.exec_driver_sql(statement)
    assert [e.detail for e in store.audit.entries()] == ["field phone: 用户要求核对手机号"]


def test_the_postgresql_log_refuses_changes_too(postgres: Postgres) -> None:
    store = HandoffStore.from_url(postgres.url("tracker"))
    HandoffStore.from_url(postgres.url("tracker"))  # a second server opening it keeps the trigger
    store.audit.record("li", "login", "127.0.0.1")
    for statement in ("update handoff_audit_log set actor = 'x'", "delete from handoff_audit_log"):
        with pytest.raises(sa.exc.DatabaseError), store.engine.begin() as connection:
            connection.exec_driver_sql(statement)
    assert [e.actor for e in store.audit.entries()] == ["li"]


def test_servers_starting_together_on_postgresql_all_open_the_log(postgres: Postgres) -> None:
    """Each start replaces the trigger: found by CI as a crash of one of two servers."""
    url = postgres.url("tracker")
    with ThreadPoolExecutor(max_workers=6) as pool:
        stores = list(pool.map(lambda _: HandoffStore.from_url(url), range(6)))
    stores[0].audit.record("li", "login", "127.0.0.1")
    with pytest.raises(sa.exc.DatabaseError), stores[1].engine.begin() as connection:
        connection.exec_driver_sql("delete from handoff_audit_log")


def test_no_code_updates_or_deletes_the_log() -> None:
    writes = re.compile(
        r"audit_log\.(update|delete)\(|(UPDATE|DELETE FROM)\s+handoff_audit_log", re.IGNORECASE
    )
    offending = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "actions", "scripts")
        for path in (ROOT / folder).rglob("*.py")
        if writes.search(path.read_text(encoding="utf-8"))
    ]
    assert offending == []


def test_a_failed_write_raises_so_the_caller_can_refuse(store: HandoffStore) -> None:
    with store.engine.begin() as connection:
        connection.exec_driver_sql("alter table handoff_audit_log rename to gone")
    with pytest.raises(AuditError):
        store.audit.record("li", "panel_reveal", "ticket:1", "reason")


def test_many_panel_views_alert_the_supervisors_once(store: HandoffStore) -> None:
    for n in range(VIEW_ALERT + 5):
        store.audit.record("li", PANEL_VIEW, f"ticket:{n}")
    store.audit.record("wang", PANEL_VIEW, "ticket:1")
    alerts = store.audit.alerts()
    assert [(a.kind, a.actor) for a in alerts] == [("unusual_viewing", "li")]


def test_the_csv_export_keeps_every_field_and_defuses_formulas(store: HandoffStore) -> None:
    store.audit.record("li", "panel_reveal", "ticket:1", '=HYPERLINK("http://evil")，原因, "引号"')
    rows = list(csv.reader(io.StringIO(as_csv(store.audit.entries()))))
    assert rows[0] == ["entry_id", "at", "actor", "action", "target", "detail"]
    assert rows[1][2:5] == ["li", "panel_reveal", "ticket:1"]
    assert rows[1][5] == '\'=HYPERLINK("http://evil")，原因, "引号"'
