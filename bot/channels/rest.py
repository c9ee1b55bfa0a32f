"""REST channel: Rasa's request/response webhook, with a reply guaranteed for every message.

Unlike Rasa's own REST channel, a client cannot name its input channel, and a message that
produced no reply gets the apology from ``reply_guard``. Messages sent later (an agent's reply
during a handoff) wait in the outbox and come back with the user's next request. Metadata is
passed on untrusted: an identity in it counts only with a valid signature (``bot.identity``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.intake import take_turn
from bot.channels.limits import encodable
from bot.handoff.delivery import OutboxOutputChannel
from bot.handoff.store import handoff_store

logger = logging.getLogger(__name__)

MAX_SENDER_LENGTH = 128


class RestChannel(InputChannel):
    """POST /webhooks/rest/webhook {"sender", "message"[, "message_id"]} -> the bot's messages.

    A client that did not get the answer resends the message with the same ``message_id`` (to
    any server): it gets the first answer again, and the message is processed once.
    """

    @classmethod
    def name(cls) -> str:
        return "rest"

    def get_output_channel(self) -> OutboxOutputChannel:
        """REST cannot push: later messages wait in the outbox for the next request."""
        return OutboxOutputChannel(handoff_store())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("im_rest_webhook", __name__)

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
                or not 0 < len(sender) <= MAX_SENDER_LENGTH
                or not encodable(sender)
            ):
                return response.json({"error": "sender must be a non-empty string"}, status=400)
            if ":" in sender:
                # Other channels' conversations are "widget:…", "telegram:…", "wechat:…": a REST
                # client must never be able to write into one of them.
                return response.json({"error": "sender must not contain ':'"}, status=400)
            if not isinstance(text, str):
                return response.json({"error": "message must be a string"}, status=400)
            message_id = body.get("message_id")
            if message_id is not None and (
                not isinstance(message_id, str)
                or not 0 < len(message_id) <= MAX_SENDER_LENGTH
                or not encodable(message_id)
            ):
                return response.json({"error": "message_id must be a short string"}, status=400)
            metadata = body.get("metadata")
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                sender,
                input_channel=self.name(),
                message_id=message_id,
                metadata=metadata if isinstance(metadata, dict) else None,
            )
            await take_turn(request.app, message, resendable=message_id is not None)
            try:
                waiting = await asyncio.to_thread(handoff_store().collect, sender)
            except Exception:
                # They stay in the outbox and come with the next request.
                logger.exception("could not collect waiting messages of %s", sender)
                waiting = []
            # Agent messages written since the user's last request come first.
            return response.json(waiting + collector.messages)

        return webhook
