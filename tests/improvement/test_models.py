"""Model versions: candidates and refused ones stored with their verdict, one live version after
an approval (also when two leads approve at once), a rollback to the previous model, the audit
entries, and which model each server runs (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
import gzip
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.improvement.audit import AuditLog
from bot.improvement.models import (
    IN_SERVICE,
    ModelError,
    ModelState,
    ModelStore,
    ModelVersion,
    digest_of,
)
from bot.improvement.server_models import ServerModels


@pytest.fixture
def store(url: str) -> Iterator[ModelStore]:
    store = ModelStore.from_url(url)
    yield store
    store.engine.dispose()


def model_bytes(n: int) -> bytes:
    """A small gzip archive of its own for each ``n`` (the store checks only the gzip header)."""
    return gzip.compress(f"model {n}".encode(), mtime=0)


def candidate(store: ModelStore, n: int, passed: bool = True) -> ModelVersion:
    verdict = {"passed": passed, "overall": {"live": 90.0, "candidate": 91.5}}
    return store.add_candidate(model_bytes(n), "lead1", run_id=n, verdict=verdict, passed=passed)


def test_a_candidate_is_stored_with_its_digest_verdict_and_bytes(store: ModelStore) -> None:
    version = candidate(store, 1)
    assert version.state == ModelState.CANDIDATE == "candidate"
    assert version.digest == digest_of(model_bytes(1))
    assert version.verdict == {"passed": True, "overall": {"live": 90.0, "candidate": 91.5}}
    assert (version.created_by, version.run_id, version.approved_by) == ("lead1", 1, None)
    assert store.data_of(version.version_id) == model_bytes(1)
    assert store.get(version.version_id) == version
    refused = candidate(store, 2, passed=False)
    assert refused.state == ModelState.REFUSED
    assert [v.version_id for v in store.versions()] == [refused.version_id, version.version_id]
    assert store.live() is None
    assert store.live_data() is None


def test_what_is_no_model_is_refused(store: ModelStore) -> None:
    with pytest.raises(ModelError, match="not a Rasa model archive"):
        store.add_candidate(b"PK\x03\x04 a zip", "lead1", None, None, passed=True)
    with pytest.raises(ModelError, match="who did it"):
        store.add_candidate(model_bytes(1), " ", None, None, passed=True)
    with pytest.raises(ModelError, match="does not exist"):
        store.data_of(99)
    assert store.versions() == []


def test_approving_makes_the_candidate_live_and_retires_the_live_one(store: ModelStore) -> None:
    first = candidate(store, 1)
    live = store.approve(first.version_id, "lead1")
    assert (live.state, live.approved_by) == (ModelState.LIVE, "lead1")
    assert live.approved_at is not None
    assert store.live() == live
    assert store.live_data() == (first.digest, model_bytes(1))

    second = candidate(store, 2)
    assert second.baseline_id == first.version_id
    now_live = store.approve(second.version_id, "lead2")
    assert store.live() == now_live
    assert store.live_data() == (second.digest, model_bytes(2))
    retired = store.get(first.version_id)
    assert (retired.state, retired.retired_by) == (ModelState.RETIRED, "lead2")
    assert [v.state for v in store.versions()] == [ModelState.LIVE, ModelState.RETIRED]


def test_only_a_candidate_can_be_approved(store: ModelStore) -> None:
    refused = candidate(store, 1, passed=False)
    with pytest.raises(ModelError, match="refused by the gate"):
        store.approve(refused.version_id, "lead1")
    first = candidate(store, 2)
    store.approve(first.version_id, "lead1")
    with pytest.raises(ModelError, match="live already"):
        store.approve(first.version_id, "lead1")
    second = candidate(store, 3)
    store.approve(second.version_id, "lead1")
    with pytest.raises(ModelError, match="was retired"):
        store.approve(first.version_id, "lead1")
    with pytest.raises(ModelError, match="does not exist"):
        store.approve(99, "lead1")
    assert store.live() == store.get(second.version_id)
    assert store.get(refused.version_id).state == ModelState.REFUSED


def test_a_rollback_brings_back_the_previous_model(store: ModelStore) -> None:
    store.approve(candidate(store, 1).version_id, "lead1")
    second = store.approve(candidate(store, 2).version_id, "lead1")
    third = store.approve(candidate(store, 3).version_id, "lead1")
    restored = store.rollback("lead2")
    assert restored.version_id == second.version_id
    assert (restored.state, restored.retired_by, restored.retired_at) == (
        ModelState.LIVE,
        None,
        None,
    )
    assert store.live_data() == (second.digest, model_bytes(2))
    assert store.get(third.version_id).state == ModelState.RETIRED
    # The previous model of the restored one is the one it replaced just now.
    assert store.rollback("lead2").version_id == third.version_id


def test_a_rollback_needs_a_previous_model(store: ModelStore) -> None:
    with pytest.raises(ModelError, match="nothing to roll back"):
        store.rollback("lead1")
    first = candidate(store, 1)
    candidate(store, 2, passed=False)
    store.approve(first.version_id, "lead1")
    with pytest.raises(ModelError, match="no previous model"):
        store.rollback("lead1")
    assert store.live() == store.get(first.version_id)


def test_each_change_leaves_an_audit_entry(store: ModelStore) -> None:
    first, second = candidate(store, 1), candidate(store, 2, passed=False)
    store.approve(first.version_id, "lead1")
    third = candidate(store, 3)
    store.approve(third.version_id, "lead2")
    store.rollback("lead1")
    entries = AuditLog(store.engine).entries()
    assert [(e.actor, e.action) for e in entries] == [
        ("lead1", "rollback"),
        ("lead2", "approve"),
        ("lead1", "candidate"),
        ("lead1", "approve"),
        ("lead1", "candidate"),
        ("lead1", "candidate"),
    ]
    assert entries[0].details == {
        "version": first.version_id,
        "digest": first.digest,
        "retired": third.version_id,
    }
    assert entries[1].details["retired"] == first.version_id
    assert entries[3].details["retired"] is None
    assert entries[4].details["state"] == "refused"
    assert entries[4].details["version"] == second.version_id
    # A refused approval changes nothing and leaves no entry.
    with pytest.raises(ModelError):
        store.approve(second.version_id, "lead1")
    assert len(AuditLog(store.engine).entries()) == len(entries)


def test_a_candidate_compared_with_another_model_than_the_live_one_is_refused(
    store: ModelStore,
) -> None:
    first, second = candidate(store, 1), candidate(store, 2)
    store.approve(first.version_id, "lead1")
    # The gate compared the second with no live model; the first is live now.
    with pytest.raises(ModelError, match=f"version {first.version_id} is live now"):
        store.approve(second.version_id, "lead2")
    third = candidate(store, 3)
    store.approve(third.version_id, "lead1")
    fourth = candidate(store, 4)  # compared with the third
    store.rollback("lead1")
    with pytest.raises(ModelError, match="train a new candidate"):
        store.approve(fourth.version_id, "lead1")
    # Compared with the live model again after a second rollback: it may go live.
    store.rollback("lead1")
    assert store.approve(fourth.version_id, "lead1").state == ModelState.LIVE
    assert store.get(second.version_id).state == ModelState.CANDIDATE


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Runs the calls in threads released together: each one's result or ModelError."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except ModelError as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("same", [True, False], ids=["same candidate", "two candidates"])
@pytest.mark.parametrize("live_before", [True, False], ids=["over a live one", "first live"])
def test_two_leads_approving_at_once_one_wins(
    store: ModelStore, same: bool, live_before: bool
) -> None:
    approved = 0
    if live_before:
        store.approve(candidate(store, 0).version_id, "lead0")
        approved = 1
    for round_ in range(5):
        first = candidate(store, 10 * round_ + 1)
        second = first if same else candidate(store, 10 * round_ + 2)
        results = at_once(
            [
                functools.partial(store.approve, first.version_id, "lead1"),
                functools.partial(store.approve, second.version_id, "lead2"),
            ]
        )
        won = [result for result in results if isinstance(result, ModelVersion)]
        lost = [result for result in results if isinstance(result, ModelError)]
        assert len(won) == 1 and len(lost) == 1, results
        assert "meanwhile" in str(lost[0]) or "live already" in str(lost[0]), lost
        assert store.live() == store.get(won[0].version_id)
        live = [v for v in store.versions(limit=100) if v.state == ModelState.LIVE]
        assert [v.version_id for v in live] == [won[0].version_id]
        approvals = [e for e in AuditLog(store.engine).entries(limit=500) if e.action == "approve"]
        approved += 1
        assert len(approvals) == approved


def test_a_server_s_model_is_recorded_and_replaced(store: ModelStore) -> None:
    servers = ServerModels(store.engine)
    one, two = digest_of(b"one"), digest_of(b"two")
    servers.report_loaded("app-1:5005", one)
    servers.report_loaded("app-2:5005", one)
    first_load = servers.loaded()[0].loaded_at
    servers.report_loaded("app-1:5005", two)
    reported = servers.loaded()
    assert [(s.server_id, s.digest) for s in reported] == [
        ("app-1:5005", two),
        ("app-2:5005", one),
    ]
    assert reported[0].loaded_at >= first_load
    with pytest.raises(ModelError, match="not a model digest"):
        servers.report_loaded("app-1:5005", "abc")
    with pytest.raises(ModelError, match="server id"):
        servers.report_loaded("", one)
    assert servers.loaded() == reported


def test_the_model_in_service_is_adopted_so_the_first_approval_can_be_rolled_back(
    store: ModelStore,
) -> None:
    started = store.adopt(model_bytes(0), IN_SERVICE)
    assert started is not None and started.state == ModelState.LIVE
    assert store.adopt(model_bytes(9), IN_SERVICE) is None  # one is live: nothing changes
    assert store.live() == started
    store.approve(candidate(store, 1).version_id, "wang")
    assert store.rollback("wang").version_id == started.version_id
    assert [entry.action for entry in AuditLog(store.engine).entries()][-1] == "adopt"
