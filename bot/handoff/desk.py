"""The agent desk's routes beside the console's: presence, notes, tags, transfer, typing, canned
replies and search.

    GET  /webhooks/agent/api/me                          the agent's profile (role, teams, load)
    POST /webhooks/agent/api/presence                    {presence?}: heartbeat, every minute
    GET  /webhooks/agent/api/agents                      everyone's presence, for transfers
    POST /webhooks/agent/api/tickets/<id>/notes          {text}: an internal note
    POST /webhooks/agent/api/tickets/<id>/tags           {tags}: replaces the ticket's tags
    POST /webhooks/agent/api/tickets/<id>/transfer       {agent | team, note}
    POST /webhooks/agent/api/tickets/<id>/typing         {typing}: the agent is typing (or not)
    GET  /webhooks/agent/api/tickets/<id>/canned/<rid>   the reply filled in for the ticket
    GET  /webhooks/agent/api/canned?q=                   the agent's and their teams' replies
    POST /webhooks/agent/api/canned                      {shortcut, text, team?}
    POST /webhooks/agent/api/canned/<rid>                {shortcut, text, revision}
    POST /webhooks/agent/api/canned/<rid>/delete         {revision}
    GET  /webhooks/agent/api/search?q=                   tickets (``bot.handoff.search``)

Notes, tags and transfers are for the ticket's agent (and supervisors); users never see notes.
Team replies are written by supervisors and admins, personal ones by their owner. Every store
call runs off the event loop.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sanic import response
from sanic.models.handler_types import RouteHandler
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.access import RoleCheck
from bot.handoff.audit import CANNED_CHANGE
from bot.handoff.audit import TRANSFER as TRANSFER_ENTRY
from bot.handoff.canned import CannedError, EditConflict, fill
from bot.handoff.console_io import bad_request, body, denied, shown_ticket
from bot.handoff.delivery import Delivery
from bot.handoff.dispatch import JOINED, Dispatcher
from bot.handoff.notes import TRANSFER, NoteError
from bot.handoff.records import AgentProfile, CannedReply, Presence, State, Team, Ticket
from bot.handoff.store import HandoffStore
from bot.services import services_of
from bot.wallet.explorers import explorer_link

MAX_ID = 2**63
TYPING_FOR = timedelta(seconds=6)
TRANSFERRED = "utter_handoff_transferred"


def ticket_values(ticket: Ticket) -> dict[str, str | None]:
    """The values of a canned reply's variables for ``ticket`` (None: not known)."""
    entities = ticket.summary.entities
    tx_hash = next(reversed(entities.get("tx_hash") or []), None)
    chain = next(reversed(entities.get("chain") or []), None)
    account = ticket.summary.account if ticket.summary.account != "-" else None
    return {
        "user_display": account,
        "ticket_number": f"#{ticket.ticket_id}",
        "masked_account": account,
        "tx_hash": tx_hash,
        "explorer_link": explorer_link(chain, tx_hash) if tx_hash else None,
    }


class DeskHandlers:
    def __init__(self, roles: RoleCheck, dispatcher: Dispatcher) -> None:
        self._roles = roles
        self._dispatcher = dispatcher

    def routes(self) -> list[tuple[str, str, RouteHandler]]:
        return [
            ("GET", "/api/me", self.me),
            ("POST", "/api/presence", self.presence),
            ("GET", "/api/agents", self.agents),
            ("POST", "/api/tickets/<ticket_id:int>/notes", self.note),
            ("POST", "/api/tickets/<ticket_id:int>/tags", self.tags),
            ("POST", "/api/tickets/<ticket_id:int>/transfer", self.transfer),
            ("POST", "/api/tickets/<ticket_id:int>/typing", self.typing),
            ("GET", "/api/tickets/<ticket_id:int>/canned/<reply_id:int>", self.filled),
            ("GET", "/api/canned", self.canned),
            ("POST", "/api/canned", self.create_canned),
            ("POST", "/api/canned/<reply_id:int>", self.update_canned),
            ("POST", "/api/canned/<reply_id:int>/delete", self.delete_canned),
            ("GET", "/api/search", self.search),
        ]

    async def me(self, request: Request) -> HTTPResponse:
        found = await self._roles.profile(request)
        return found if isinstance(found, HTTPResponse) else response.json(found.as_dict())

    async def presence(self, request: Request) -> HTTPResponse:
        username = await self._roles.agent(request)
        if username is None:
            return denied()
        said = (body(request) or {}).get("presence")
        if said is not None and said not in {p.value for p in Presence}:
            return bad_request("presence must be online, away or offline")
        presence = Presence(said) if said else None
        store = self._store(request)
        profile = await asyncio.to_thread(store.roster.heartbeat, username, presence)
        if profile is None:
            return response.json({"error": "no such agent"}, status=404)
        if profile.presence is Presence.ONLINE:
            self._dispatcher.wake()
        return response.json(profile.as_dict())

    async def agents(self, request: Request) -> HTTPResponse:
        found = await self._roles.profile(request)
        if isinstance(found, HTTPResponse):
            return found
        profiles = await asyncio.to_thread(self._store(request).roster.profiles)
        return response.json({"agents": [p.as_dict() for p in profiles if not p.disabled]})

    async def note(self, request: Request, ticket_id: int) -> HTTPResponse:
        held = await self._held(request, ticket_id)
        if isinstance(held, HTTPResponse):
            return held
        viewer, ticket = held
        text = (body(request) or {}).get("text")
        if not isinstance(text, str):
            return bad_request("text must be text")
        try:
            note = await asyncio.to_thread(
                self._store(request).notes.add, ticket.ticket_id, viewer.username, text
            )
        except NoteError as error:
            return bad_request(str(error))
        return response.json({"note": note.as_dict()})

    async def tags(self, request: Request, ticket_id: int) -> HTTPResponse:
        held = await self._held(request, ticket_id)
        if isinstance(held, HTTPResponse):
            return held
        tags = (body(request) or {}).get("tags")
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            return bad_request("tags must be a list of text")
        try:
            kept = await asyncio.to_thread(self._store(request).notes.set_tags, ticket_id, tags)
        except NoteError as error:
            return bad_request(str(error))
        return response.json({"tags": kept})

    async def transfer(self, request: Request, ticket_id: int) -> HTTPResponse:
        held = await self._held(request, ticket_id, own=True)
        if isinstance(held, HTTPResponse):
            return held
        viewer, _ = held
        data = body(request) or {}
        note, to_agent, team = data.get("note") or "", data.get("agent"), data.get("team")
        if not isinstance(note, str) or (to_agent is None) == (team is None):
            return bad_request("give an agent or a team, and the note as text")
        store = self._store(request)
        target: AgentProfile | None = None
        if to_agent is not None:
            target = await asyncio.to_thread(store.roster.profile, str(to_agent))
            if target is None or target.disabled or target.username == viewer.username:
                return bad_request("no such agent to transfer to")
        elif team not in {t.value for t in Team}:
            return bad_request("team must be general or security")
        moved = await asyncio.to_thread(
            store.tickets.transfer,
            ticket_id,
            viewer.username,
            target.username if target else None,
            Team(team) if team else None,
        )
        if moved is None:
            return response.json({"error": "the ticket is no longer yours"}, status=409)
        where = f"agent:{target.username}" if target else f"team:{team}"
        await asyncio.to_thread(
            store.audit.record, viewer.username, TRANSFER_ENTRY, f"ticket:{ticket_id}", where
        )
        try:
            await asyncio.to_thread(
                store.notes.add, ticket_id, viewer.username, note, TRANSFER, where
            )
        except NoteError as error:
            return bad_request(str(error))
        delivery = Delivery(request.app.ctx.agent, request.app.ctx.input_channels, store.outbox)
        await delivery.send_response(moved.conversation_id, TRANSFERRED, channel=moved.channel)
        if target is not None:
            await delivery.send_response(
                moved.conversation_id,
                JOINED,
                channel=moved.channel,
                agent_name=target.display_name,
            )
        self._dispatcher.wake()
        return response.json({"ticket": shown_ticket(moved, services_of(request.app).settings)})

    async def typing(self, request: Request, ticket_id: int) -> HTTPResponse:
        held = await self._held(request, ticket_id, own=True)
        if isinstance(held, HTTPResponse):
            return held
        _, ticket = held
        typing = bool((body(request) or {}).get("typing"))
        until = datetime.now(timezone.utc) + TYPING_FOR if typing else None
        store = self._store(request)
        await asyncio.to_thread(store.tickets.typing, ticket.conversation_id, "agent", until)
        channel = Delivery(request.app.ctx.agent, request.app.ctx.input_channels, store.outbox)
        await channel.typing(ticket.conversation_id, ticket.channel, typing)
        return response.json({"ok": True})

    async def filled(self, request: Request, ticket_id: int, reply_id: int) -> HTTPResponse:
        held = await self._held(request, ticket_id)
        if isinstance(held, HTTPResponse):
            return held
        viewer, ticket = held
        reply = await self._canned_for(request, viewer, reply_id)
        if reply is None:
            return response.json({"error": "no such canned reply"}, status=404)
        text, missing = fill(reply.text, ticket_values(ticket))
        return response.json({"text": text, "missing": missing})

    async def canned(self, request: Request) -> HTTPResponse:
        viewer = await self._roles.profile(request)
        if isinstance(viewer, HTTPResponse):
            return viewer
        query = request.args.get("q", "")
        replies = await asyncio.to_thread(
            self._store(request).canned.visible_to, viewer.username, _reply_teams(viewer), query
        )
        return response.json(
            {
                "replies": [
                    {**reply.as_dict(), "editable": _may_edit(viewer, reply)} for reply in replies
                ]
            }
        )

    async def create_canned(self, request: Request) -> HTTPResponse:
        viewer = await self._roles.profile(request)
        if isinstance(viewer, HTTPResponse):
            return viewer
        data = body(request) or {}
        shortcut, text, team = data.get("shortcut"), data.get("text"), data.get("team")
        if not isinstance(shortcut, str) or not isinstance(text, str):
            return bad_request("shortcut and text must be text")
        if team is not None:
            if team not in {t.value for t in Team}:
                return bad_request("team must be general or security")
            if not viewer.role.supervises:
                return response.json({"error": "only a supervisor writes team replies"}, status=403)
        try:
            reply = await asyncio.to_thread(
                self._store(request).canned.create,
                viewer.username,
                shortcut,
                text,
                Team(team) if team else None,
            )
        except CannedError as error:
            return bad_request(str(error))
        await asyncio.to_thread(
            self._store(request).audit.record,
            viewer.username,
            CANNED_CHANGE,
            f"canned:{reply.reply_id}",
            f"created /{reply.shortcut}",
        )
        return response.json({"reply": reply.as_dict()})

    async def update_canned(self, request: Request, reply_id: int) -> HTTPResponse:
        return await self._change_canned(request, reply_id, delete=False)

    async def delete_canned(self, request: Request, reply_id: int) -> HTTPResponse:
        return await self._change_canned(request, reply_id, delete=True)

    async def search(self, request: Request) -> HTTPResponse:
        viewer = await self._roles.profile(request)
        if isinstance(viewer, HTTPResponse):
            return viewer
        query = request.args.get("q", "")
        store = self._store(request)
        found = await asyncio.to_thread(store.search.search, query, viewer)
        tags = await asyncio.to_thread(store.notes.tags_of, [hit.ticket.ticket_id for hit in found])
        now, settings = datetime.now(timezone.utc), services_of(request.app).settings
        return response.json(
            {
                "results": [
                    {
                        "ticket": shown_ticket(
                            hit.ticket, settings, tags.get(hit.ticket.ticket_id), now
                        ),
                        "excerpt": hit.excerpt,
                    }
                    for hit in found
                ]
            }
        )

    async def _change_canned(self, request: Request, reply_id: int, delete: bool) -> HTTPResponse:
        viewer = await self._roles.profile(request)
        if isinstance(viewer, HTTPResponse):
            return viewer
        reply = await self._canned_for(request, viewer, reply_id)
        if reply is None:
            return response.json({"error": "no such canned reply"}, status=404)
        if not _may_edit(viewer, reply):
            return response.json({"error": "only a supervisor edits team replies"}, status=403)
        data = body(request) or {}
        revision = data.get("revision")
        if not isinstance(revision, int) or isinstance(revision, bool):
            return bad_request("revision must be the number the edit started from")
        canned = self._store(request).canned
        try:
            if delete:
                await asyncio.to_thread(canned.delete, reply_id, viewer.username, revision)
                await self._audit_canned(request, viewer, reply_id, f"deleted /{reply.shortcut}")
                return response.json({"deleted": reply_id})
            shortcut, text = data.get("shortcut"), data.get("text")
            if not isinstance(shortcut, str) or not isinstance(text, str):
                return bad_request("shortcut and text must be text")
            saved = await asyncio.to_thread(
                canned.update, reply_id, viewer.username, shortcut, text, revision
            )
        except CannedError as error:
            return bad_request(str(error))
        except EditConflict:
            current = await asyncio.to_thread(canned.get, reply_id)
            return response.json(
                {
                    "error": "someone changed this reply meanwhile: reload it",
                    "current": current.as_dict() if current else None,
                },
                status=409,
            )
        await self._audit_canned(request, viewer, reply_id, f"edited /{saved.shortcut}")
        return response.json({"reply": saved.as_dict()})

    async def _audit_canned(
        self, request: Request, viewer: AgentProfile, reply_id: int, detail: str
    ) -> None:
        await asyncio.to_thread(
            self._store(request).audit.record,
            viewer.username,
            CANNED_CHANGE,
            f"canned:{reply_id}",
            detail,
        )

    async def _canned_for(
        self, request: Request, viewer: AgentProfile, reply_id: int
    ) -> CannedReply | None:
        """The reply if ``viewer`` may use it."""
        if reply_id >= MAX_ID:
            return None
        reply = await asyncio.to_thread(self._store(request).canned.get, reply_id)
        if reply is None:
            return None
        mine = reply.owner == viewer.username
        team = reply.owner is None and reply.team in _reply_teams(viewer)
        return reply if mine or team else None

    async def _held(
        self, request: Request, ticket_id: int, own: bool = False
    ) -> tuple[AgentProfile, Ticket] | HTTPResponse:
        """The viewer and the open ticket they hold (``own``: assigned to them; otherwise a
        supervisor may act on any open ticket), or the refusal."""
        viewer = await self._roles.profile(request)
        if isinstance(viewer, HTTPResponse):
            return viewer
        ticket = (
            await asyncio.to_thread(self._store(request).tickets.get, ticket_id)
            if ticket_id < MAX_ID
            else None
        )
        if ticket is None:
            return response.json({"error": "no such ticket"}, status=404)
        if ticket.state is State.CLOSED and own:
            return response.json({"error": "the ticket is closed"}, status=409)
        holds = ticket.agent == viewer.username and ticket.state is State.ASSIGNED
        if not holds and (own or not viewer.role.supervises):
            return response.json({"error": "claim the ticket first"}, status=409)
        return viewer, ticket

    def _store(self, request: Request) -> HandoffStore:
        return self._roles.store(request)


def _reply_teams(viewer: AgentProfile) -> tuple[Team, ...]:
    """Whose team replies the viewer uses: their teams'; a supervisor's, every team's."""
    return tuple(Team) if viewer.role.supervises else viewer.teams


def _may_edit(viewer: AgentProfile, reply: CannedReply) -> bool:
    return reply.owner == viewer.username or (reply.owner is None and viewer.role.supervises)
