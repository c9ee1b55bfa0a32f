"""REST channel: Rasa's request/response webhook, with a reply guaranteed for every message.

The contract is Rasa's: ``{"sender", "message"}`` in, a list of messages out. Unlike Rasa's own
REST channel, a client can name neither its input channel nor any metadata (both are dropped:
metadata was stored several times over in the tracker), sender ids are limited to a safe
alphabet (they appear in logs), and a message that produced no reply gets the apology from
``reply_guard``.

The first turn of a sender id returns a conversation token in ``X-Conversation-Token``
(``bot.channels.rest_tokens``). Requests that send it back also get what belongs to the
conversation: messages sent later (an agent's reply during a handoff) that wait in the outbox,
cancelling the queue, ticket status. Starting conversations is limited per client address, so
made-up sender ids cannot flood the handoff queue.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.intake import SLOW_DOWN, take_turn
from bot.channels.limits import NEW_CONVERSATIONS, encodable
from bot.channels.platform import platform_user
from bot.channels.responses import render
from bot.channels.rest_tokens import TOKEN_HEADER, Standing
from bot.handoff.delivery import OutboxOutputChannel
from bot.handoff.outbox import Outbox
from bot.identity import OWNER_FIELD, sign_owner
from bot.services import services_of, use_services

logger = logging.getLogger(__name__)
T = TypeVar("T")

MAX_SENDER_LENGTH = 128
# Letters, digits and a few signs, for the logs. An id with a platform (``platform_user``) is
# another channel's conversation ("widget:…", "telegram:…", "wechat:…"): never a REST sender.
SENDER = re.compile(rf"[A-Za-z0-9_.@+=:-]{{1,{MAX_SENDER_LENGTH}}}")


class RestChannel(InputChannel):
    """POST /webhooks/rest/webhook {"sender", "message"[, "message_id"]} -> the bot's messages.

    A client that did not get the answer resends the message with the same ``message_id`` (to
    any server): it gets the first answer again, and the message is processed once.
    """

    def __init__(self) -> None:
        self._outbox: Outbox | None = None  # the server's, once it starts

    @classmethod
    def name(cls) -> str:
        return "rest"

    def get_output_channel(self) -> OutboxOutputChannel | None:
        """REST cannot push: later messages wait in the outbox for the next request."""
        return OutboxOutputChannel(self._outbox) if self._outbox is not None else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("im_rest_webhook", __name__)
        use_services(webhook)

        @webhook.listener("before_server_start")
        async def keep_outbox(app: Sanic, _: Any) -> None:
            self._outbox = services_of(app).handoff.outbox

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json if request.body else None
            except InvalidUsage:
                body = None
            if not isinstance(body, dict):
                return response.json({"error": "expected a JSON object"}, status=400)
            sender, text = body.get("sender"), body.get("message")
            if (
                not isinstance(sender, str)
                or not SENDER.fullmatch(sender)
                or platform_user(sender) is not None
            ):
                return response.json(
                    {"error": "sender must be 1-128 of A-Z a-z 0-9 _ . @ + = -"}, status=400
                )
            if not isinstance(text, str):
                return response.json({"error": "message must be a string"}, status=400)
            message_id = body.get("message_id")
            if message_id is not None and (
                not isinstance(message_id, str)
                or not 0 < len(message_id) <= MAX_SENDER_LENGTH
                or not encodable(message_id)
            ):
                return response.json({"error": "message_id must be a short string"}, status=400)
            services = services_of(request.app)
            address = services.limits.client_of(request)
            tokens = services.tokens
            token = request.headers.get(TOKEN_HEADER)
            standing = await from_store(
                lambda: tokens.standing(sender, token),
                Standing.STRANGER,
                "conversation token of %s not checked",
                sender,
            )
            issued = None
            if standing is Standing.NEW:
                admission = await services.limits.address_admitted(
                    "new-conversation", address, NEW_CONVERSATIONS
                )
                if not admission.admitted:
                    logger.warning("new conversations from one client limited (%s)", sender)
                    refusal = (
                        [await render(request.app.ctx.agent, sender, SLOW_DOWN, self.name())]
                        if admission.first_refusal
                        else []
                    )
                    return response.json(refusal)
                issued = await from_store(
                    lambda: tokens.issue(sender), None, "no conversation token for %s", sender
                )
            owner = issued is not None or standing is Standing.OWNER
            secret = services.identity.secret
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                sender,
                input_channel=self.name(),
                message_id=message_id,
                metadata={OWNER_FIELD: sign_owner(secret, sender)} if owner and secret else None,
            )
            await take_turn(
                request.app, message, resendable=message_id is not None, address=address
            )
            waiting: list[dict[str, Any]] = []
            if owner:
                waiting = await from_store(
                    lambda: services.handoff.outbox.collect(sender),
                    [],
                    "could not collect waiting messages of %s",
                    sender,
                )
            headers = {TOKEN_HEADER: issued} if issued else None
            # Agent messages written since the user's last request come first.
            return response.json(waiting + collector.messages, headers=headers)

        return webhook


async def from_store(read: Callable[[], T], fallback: T, failure: str, sender: str) -> T:
    """``read()`` off the event loop; ``fallback`` while the store fails, so the request is still
    answered: waiting messages stay in the outbox for the next request, a failed token check
    counts as a stranger's (nothing of the conversation's is shown), and the turn itself gets its
    apology from the intake."""
    try:
        return await asyncio.to_thread(read)
    except Exception:
        logger.exception(failure, sender)
        return fallback
