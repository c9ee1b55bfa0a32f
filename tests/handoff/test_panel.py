"""The account panel: built from the wallet port (the demo accounts in a real SQLite wallet),
masked, and revealed one value at a time; its routes on a small server of their own with a
fresh handoff store, for who sees it, what the audit log must hold first, and a wallet outage."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.handoff.access import RoleCheck
from bot.handoff.audit import PANEL_REVEAL, PANEL_VIEW
from bot.handoff.audit_console import AuditHandlers
from bot.handoff.panel import (
    MIN_REASON,
    AccountPanel,
    PanelError,
    checked_reason,
    read_panel,
    transfer_ref,
)
from bot.handoff.panel_console import PanelHandlers
from bot.handoff.records import Reason, Role, Summary, Team, Ticket
from bot.handoff.store import HandoffStore
from bot.handoff.tables import audit_log
from bot.services import Services
from bot.settings import Settings
from bot.wallet import demo_data
from bot.wallet.http import HttpWalletService
from bot.wallet.records import Priority, TicketDraft, TicketKind
from bot.wallet.service import WalletService
from bot.wallet.sql import SqlWalletService
from bot.wallet.sql import tickets as wallet_tickets
from tests.support.channel_server import InProcessSanic, served_app
from tests.support.conversation import NOW
from tests.support.http import CONSOLE_API, Answer, Http

ALICE_SECRETS = (
    "13812345678",
    "alice@example.com",
    demo_data.ALICE_ETH,
    demo_data.ALICE_TRON,
    demo_data.EXCHANGE_ETH,
    demo_data.EXCHANGE_TRON,
    demo_data.TX_CONFIRMED,
    demo_data.TX_PENDING_LOW_FEE,
    demo_data.TX_INCOMING,
    "etherscan",
    "tronscan",
)


def alice_ticket(store: HandoffStore, conversation: str = "c-alice") -> Ticket:
    return store.tickets.open(
        conversation, "widget", Reason.REQUESTED, Summary(), account_id=demo_data.ALICE
    )


def alice_panel(store: HandoffStore, wallet: WalletService) -> AccountPanel:
    return read_panel(wallet, alice_ticket(store), NOW)


def test_the_panel_shows_the_account_with_every_identifier_masked(
    store: HandoffStore, sql_wallet: SqlWalletService
) -> None:
    shown = alice_panel(store, sql_wallet).as_dict()
    text = json.dumps(shown, ensure_ascii=False)
    for secret in ALICE_SECRETS:
        assert secret not in text
    assert (shown["account"], shown["phone"], shown["email"]) == (
        "dem***",
        "138****5678",
        "a***@example.com",
    )
    assert (shown["two_factor"], shown["frozen"], shown["locked_until"]) == (False, False, None)
    assert {(d["device"], d["location"], d["new_device"]) for d in shown["devices"]} == {
        ("iPhone 15", "上海", False),
        ("Windows PC", "Lagos, NG", True),
    }
    transfers = shown["transfers"]
    assert len(transfers) == 12 and {t["direction"] for t in transfers} == {"in", "out"}
    assert [t["at"] for t in transfers] == sorted((t["at"] for t in transfers), reverse=True)
    fresh = transfers[0]
    assert {k: fresh[k] for k in ("status", "chain", "currency", "amount")} == {
        "status": "pending",
        "chain": "TRON",
        "currency": "USDT",
        "amount": "200",
    }
    assert (
        fresh["tx_hash"] == demo_data.TX_PENDING_FRESH[:4] + "…" + demo_data.TX_PENDING_FRESH[-4:]
    )
    assert fresh["counterparty"].startswith(demo_data.EXCHANGE_TRON[:6] + "…")
    masked_incoming = demo_data.TX_INCOMING[:4] + "…" + demo_data.TX_INCOMING[-4:]
    incoming = next(t for t in transfers if t["tx_hash"] == masked_incoming)
    assert incoming["direction"] == "in"
    assert incoming["counterparty"].startswith(demo_data.EXCHANGE_TRON[:6])  # where it came from
    assert len({t["ref"] for t in transfers}) == 12
    assert "explorer_link" not in fresh  # it holds the whole hash


def test_devices_are_the_last_30_days_logins_and_a_lock_shows_while_it_lasts(
    store: HandoffStore, sql_wallet: SqlWalletService
) -> None:
    ticket = store.tickets.open(
        "c-bob", "widget", Reason.REQUESTED, Summary(), account_id=demo_data.BOB
    )
    bob = read_panel(sql_wallet, ticket, NOW).as_dict()
    assert bob["locked_until"] == (NOW + timedelta(minutes=18)).isoformat()
    assert bob["phone"] is None and bob["two_factor"] is True and bob["devices"] == []
    later = read_panel(sql_wallet, ticket, NOW + timedelta(minutes=19)).as_dict()
    assert later["locked_until"] is None
    alice = read_panel(sql_wallet, alice_ticket(store), NOW + timedelta(days=29))
    assert [d.device for d in alice.devices] == [
        "Windows PC"
    ]  # the 上海 login is 32 days old by then


def test_open_wallet_tickets_are_the_incidents(
    store: HandoffStore, sql_wallet: SqlWalletService
) -> None:
    frozen = sql_wallet.freeze_account(demo_data.ALICE, "theft", "c-alice")
    complaint = sql_wallet.create_ticket(
        TicketDraft(TicketKind.COMPLAINT, "fee", "too high", Priority.NORMAL, "c1", demo_data.ALICE)
    )
    solved = sql_wallet.create_ticket(
        TicketDraft(TicketKind.COMPLAINT, "fee", "again", Priority.NORMAL, "c1", demo_data.ALICE)
    )
    sql_wallet.create_ticket(  # someone else's
        TicketDraft(TicketKind.INCIDENT, "theft", "x", Priority.URGENT, "c2", demo_data.CAROL)
    )
    with sql_wallet.engine.begin() as connection:
        connection.execute(
            wallet_tickets.update()
            .where(wallet_tickets.c.number == solved.number)
            .values(state="resolved")
        )
    shown = alice_panel(store, sql_wallet).as_dict()
    assert {(i["number"], i["kind"], i["state"]) for i in shown["incidents"]} == {
        (frozen.number, "incident", "open"),
        (complaint.number, "complaint", "open"),
    }
    assert shown["frozen"] is True


def test_a_reveal_gives_one_value_whole(store: HandoffStore, sql_wallet: SqlWalletService) -> None:
    panel = alice_panel(store, sql_wallet)
    assert panel.reveal("phone", None).value == "13812345678"
    assert panel.reveal("email", "ignored").as_dict() == {
        "field": "email",
        "ref": None,
        "value": "alice@example.com",
        "explorer_link": None,
    }
    confirmed = next(t for t in panel.transfers if t.tx.tx_hash == demo_data.TX_CONFIRMED)
    revealed = panel.reveal("tx_hash", confirmed.ref)
    assert (revealed.value, revealed.explorer_link) == (
        demo_data.TX_CONFIRMED,
        f"https://tronscan.org/#/transaction/{demo_data.TX_CONFIRMED}",
    )
    assert panel.reveal("counterparty", confirmed.ref).value == demo_data.EXCHANGE_TRON
    incoming = next(t for t in panel.transfers if t.tx.tx_hash == demo_data.TX_INCOMING)
    assert panel.reveal("counterparty", incoming.ref).value == demo_data.EXCHANGE_TRON
    for field, ref in [("tx_hash", None), ("tx_hash", "0" * 16), ("password", None)]:
        with pytest.raises(PanelError):
            panel.reveal(field, ref)


def test_a_reveal_of_a_value_the_account_lacks_is_refused(
    store: HandoffStore, sql_wallet: SqlWalletService
) -> None:
    ticket = store.tickets.open(
        "c-bob", "widget", Reason.REQUESTED, Summary(), account_id=demo_data.BOB
    )
    with pytest.raises(PanelError, match="no phone"):
        read_panel(sql_wallet, ticket, NOW).reveal("phone", None)


def test_transfer_refs_hold_no_hash_and_differ_between_tickets(
    store: HandoffStore, sql_wallet: SqlWalletService
) -> None:
    first = alice_ticket(store, "c-1")
    second = alice_ticket(store, "c-2")
    tx = sql_wallet.transaction(demo_data.ALICE, demo_data.TX_CONFIRMED)
    ref = transfer_ref(first, tx)
    assert ref == transfer_ref(store.tickets.get(first.ticket_id) or first, tx)  # any server
    assert ref != transfer_ref(second, tx)
    assert ref not in demo_data.TX_CONFIRMED and demo_data.TX_CONFIRMED[:6] not in ref


def test_a_ticket_of_an_anonymous_user_has_no_panel(
    store: HandoffStore, sql_wallet: SqlWalletService
) -> None:
    ticket = store.tickets.open("c-rest", "rest", Reason.REQUESTED, Summary())
    with pytest.raises(ValueError, match="not identified"):
        read_panel(sql_wallet, ticket, NOW)


@pytest.mark.parametrize("reason", [None, "", "   ", "看看", "a b", 42, "长" * 501])
def test_a_reveal_needs_a_reason(reason: Any) -> None:
    with pytest.raises(PanelError):
        checked_reason(reason)


def test_a_reason_is_kept_trimmed() -> None:
    assert checked_reason("  用户要求\n核对转账  ") == "用户要求 核对转账"
    assert len(checked_reason("x" * MIN_REASON)) == MIN_REASON


# The routes, on a server of their own.

PASSWORD = "a-long-panel-password"


@dataclass
class PanelServer:
    store: HandoffStore
    http: Http
    tokens: dict[str, str]

    def call(self, who: str, method: str, path: str, body: Any = None) -> Answer:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if method == "GET":
            return self.http.get(f"{CONSOLE_API}{path}", headers=headers)
        return self.http.post(f"{CONSOLE_API}{path}", json=body or {}, headers=headers)

    def panel(self, who: str, ticket_id: int) -> Answer:
        return self.call(who, "GET", f"/tickets/{ticket_id}/account")

    def reveal(self, who: str, ticket_id: int, **body: Any) -> Answer:
        return self.call(who, "POST", f"/tickets/{ticket_id}/account/reveal", body)

    def audit(self, action: str) -> list[Any]:
        return [e for e in self.store.audit.entries(None) if e.action == action]


@contextmanager
def serve(tmp_path: Path, store: HandoffStore, wallet: WalletService) -> Iterator[PanelServer]:
    """The panel's and the audit log's routes with ``store`` and ``wallet``; an agent ``ann``
    (general team), an agent ``bo``, a supervisor ``sue`` and an admin ``ada``, logged in."""
    app = InProcessSanic(f"panel-test-{tmp_path.name}")
    env = {**os.environ, "HANDOFF_DB_URL": f"sqlite:///{tmp_path / 'handoff.db'}"}
    app.ctx.services = Services(Settings.from_env(env), handoff=store, wallet=wallet)
    roles = RoleCheck(store)
    for method, uri, handler in PanelHandlers(roles).routes() + AuditHandlers(roles).routes():
        app.add_route(_plain(handler), f"/webhooks/agent{uri}", methods=[method])
    people = {"ann": Role.AGENT, "bo": Role.AGENT, "sue": Role.SUPERVISOR, "ada": Role.ADMIN}
    tokens = {}
    for name, role in people.items():
        store.agents.add(name, name, PASSWORD, role, (Team.GENERAL,))
        token = store.agents.login(name, PASSWORD, timedelta(hours=1))
        assert token is not None
        tokens[name] = token
    with served_app(app) as url:
        yield PanelServer(store, Http.to(url), tokens)


def _plain(handler: Any) -> Any:
    async def route(request: Any, **params: Any) -> Any:
        return await handler(request, **params)

    return route


@pytest.fixture
def wallet() -> SqlWalletService:
    """The demo accounts as of now: the routes read the clock."""
    service = SqlWalletService.from_url("sqlite://")
    demo_data.seed(service)
    return service


@pytest.fixture
def server(tmp_path: Path, store: HandoffStore, wallet: SqlWalletService) -> Iterator[PanelServer]:
    with serve(tmp_path, store, wallet) as running:
        yield running


def claimed(store: HandoffStore, agent: str, conversation: str = "c-alice") -> Ticket:
    ticket = alice_ticket(store, conversation)
    assert store.tickets.claim(ticket.ticket_id, agent) is not None
    return ticket


def test_the_assigned_agent_and_supervisors_see_the_panel_and_each_view_is_recorded(
    server: PanelServer,
) -> None:
    ticket = claimed(server.store, "ann")
    for who in ("ann", "sue", "ada"):
        answer = server.panel(who, ticket.ticket_id)
        assert answer.status == 200, answer
        assert answer.json()["panel"]["account"] == "dem***"
        assert answer.headers.get("cache-control") == "no-store"
    views = server.audit(PANEL_VIEW)
    assert [(e.actor, e.target, e.detail) for e in reversed(views)] == [
        (who, f"ticket:{ticket.ticket_id}", "dem***") for who in ("ann", "sue", "ada")
    ]


def test_other_agents_are_refused_even_one_who_held_the_ticket_or_sees_it_queued(
    server: PanelServer,
) -> None:
    store = server.store
    ticket = claimed(store, "ann")
    assert server.panel("bo", ticket.ticket_id).status == 403
    assert server.reveal("bo", ticket.ticket_id, field="phone", reason="核对身份").status == 403
    store.tickets.transfer(ticket.ticket_id, "ann", to_agent="bo", team=None)
    assert server.panel("bo", ticket.ticket_id).status == 200
    assert server.panel("ann", ticket.ticket_id).status == 403  # held it before
    queued = alice_ticket(store, "c-queued")  # waiting in ann's team's queue
    assert server.panel("ann", queued.ticket_id).status == 403
    assert server.panel("sue", queued.ticket_id).status == 200
    store.tickets.close(ticket.ticket_id, "bo", "done", "")
    assert server.panel("bo", ticket.ticket_id).status == 403  # no longer theirs to work
    assert [e.actor for e in server.audit(PANEL_VIEW)] == ["sue", "bo"]


def test_no_ticket_404_an_unidentified_user_409_no_login_401(server: PanelServer) -> None:
    anonymous = server.store.tickets.open("c-rest", "rest", Reason.REQUESTED, Summary())
    server.store.tickets.claim(anonymous.ticket_id, "ann")
    answer = server.panel("ann", anonymous.ticket_id)
    assert answer.status == 409 and "not identified" in answer.json()["error"]
    assert server.reveal("ann", anonymous.ticket_id, field="phone", reason="核对").status == 409
    assert server.panel("sue", 999_999).status == 404
    assert server.panel("sue", 2**63).status == 404
    assert server.http.get(f"{CONSOLE_API}/tickets/{anonymous.ticket_id}/account").status == 401
    unknown = server.store.tickets.open(
        "c-ghost", "widget", Reason.REQUESTED, Summary(), account_id="no-such-account"
    )
    assert server.panel("sue", unknown.ticket_id).status == 409
    assert server.audit(PANEL_VIEW) == []


def test_a_reveal_is_recorded_with_its_reason_before_the_value_is_given(
    server: PanelServer,
) -> None:
    ticket = claimed(server.store, "ann")
    panel = server.panel("ann", ticket.ticket_id).json()["panel"]
    ref = next(t["ref"] for t in panel["transfers"] if t["status"] == "confirmed")
    answer = server.reveal(
        "ann", ticket.ticket_id, field="tx_hash", ref=ref, reason="用户要求核对转账"
    )
    assert answer.status == 200, answer
    assert answer.json() == {
        "field": "tx_hash",
        "ref": ref,
        "value": demo_data.TX_CONFIRMED,
        "explorer_link": f"https://tronscan.org/#/transaction/{demo_data.TX_CONFIRMED}",
    }
    [entry] = server.audit(PANEL_REVEAL)
    assert (entry.actor, entry.target) == ("ann", f"ticket:{ticket.ticket_id}")
    assert entry.detail == f"field=tx_hash ref={ref} account=dem*** reason=用户要求核对转账"
    assert demo_data.TX_CONFIRMED not in entry.detail


REFUSED_REVEALS: list[dict[str, Any]] = [
    {"field": "phone"},
    {"field": "phone", "reason": "  "},
    {"field": "phone", "reason": "看看"},
    {"field": "password", "reason": "用户要求核对"},
    {"field": "tx_hash", "reason": "用户要求核对"},
    {"field": "tx_hash", "ref": "0123456789abcdef", "reason": "用户要求核对"},
    {"field": "counterparty", "ref": ["x"], "reason": "用户要求核对"},
]


def test_a_reveal_without_a_reason_or_of_nothing_is_refused_and_shows_nothing(
    server: PanelServer,
) -> None:
    ticket = claimed(server.store, "ann")
    for body in REFUSED_REVEALS:
        answer = server.reveal("ann", ticket.ticket_id, **body)
        assert answer.status == 400 and "error" in answer.json(), body
        assert "value" not in answer.json() and "13812345678" not in answer.text
    not_json = server.http.post(
        f"{CONSOLE_API}/tickets/{ticket.ticket_id}/account/reveal",
        b"[1]",
        headers={"Authorization": f"Bearer {server.tokens['ann']}"},
    )
    assert not_json.status == 400
    assert server.audit(PANEL_REVEAL) == []


def test_no_view_or_reveal_without_an_audit_record(server: PanelServer) -> None:
    ticket = claimed(server.store, "ann")
    ref = server.panel("ann", ticket.ticket_id).json()["panel"]["transfers"][0]["ref"]
    with server.store.engine.begin() as connection:
        audit_log.drop(connection)
    viewed = server.panel("ann", ticket.ticket_id)
    assert viewed.status == 503 and "audit" in viewed.json()["error"]
    assert "panel" not in viewed.json() and "dem***" not in viewed.text
    for field, asked in [("phone", None), ("tx_hash", ref), ("counterparty", ref)]:
        answer = server.reveal("sue", ticket.ticket_id, field=field, ref=asked, reason="核对转账")
        assert answer.status == 503 and "value" not in answer.json()
    for secret in ALICE_SECRETS:
        assert secret not in answer.text


def test_a_wallet_outage_is_503_not_a_crash(tmp_path: Path, store: HandoffStore) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = HttpWalletService(f"http://127.0.0.1:{port}", token="t", timeout=1, retries=0)
    with serve(tmp_path, store, down) as running:
        ticket = claimed(store, "ann")
        answer = running.panel("ann", ticket.ticket_id)
        assert answer.status == 503 and "wallet" in answer.json()["error"]
        revealed = running.reveal("ann", ticket.ticket_id, field="phone", reason="核对身份")
        assert revealed.status == 503
        assert running.audit(PANEL_VIEW) == running.audit(PANEL_REVEAL) == []
