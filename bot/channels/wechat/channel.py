"""The WeChat Official Account (微信公众号) channel: callbacks in; passive replies and pushes out.

    GET  /webhooks/wechat/webhook   URL verification: echoes ``echostr`` for a valid signature
    POST /webhooks/wechat/webhook   a user's message or event (plaintext, or AES safe mode)

Every request must carry a valid signature over a fresh timestamp (``crypto``); with
WECHAT_AES_KEY set only encrypted messages are accepted, since the plaintext signature does not
cover the body. A signature is used once (``replay``): the same signature over another body is
refused with 403 and no side effect. Bodies are parsed by ``xml``; each message (MsgId, for
events sender + time) is processed once, also after a restart (the platform base's delivery
table); the answer comes passively or through the API (``passive``, ``render``, ``api``).

Text and subscribe events are served; images, voice and other types get a polite reply. Binding
and identity are the platform base's. In plaintext mode anyone who saw one callback could write
as any openid within the window, so outside development (``bot.deployment``) a plaintext channel
binds and identifies nobody: safe mode is required for that.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.binding import BindingStore
from bot.channels.deliveries import DeliveryStore
from bot.channels.platform import (
    UNSUPPORTED,
    WELCOME,
    PlatformChannel,
    PlatformSettings,
    SettingsSource,
    started,
)
from bot.channels.wechat.api import DEFAULT_API_URL, TokenStore, WeChatApi, token_store
from bot.channels.wechat.crypto import InvalidPayload, MessageCrypto, request_valid
from bot.channels.wechat.passive import Messages, PassiveReplies
from bot.channels.wechat.render import PLATFORM, WeChatCollector, WeChatOutput
from bot.channels.wechat.replay import UsedSignatures, digest
from bot.channels.wechat.xml import (
    MAX_BODY_BYTES,
    XmlRejected,
    encrypted_reply_xml,
    parse_xml,
    text_reply_xml,
)
from bot.identity import IdentitySettings
from bot.services import Services

logger = logging.getLogger(__name__)

DEFAULT_REPLY_SECONDS = 4.5
WECHAT_DEADLINE_SECONDS = 5.0
MAX_OPENID_LENGTH = 128
SUCCESS = "success"  # WeChat's "received, no passive reply"
NO_BINDING_HERE = "utter_binding_needs_safe_mode"


@dataclass(frozen=True)
class WeChatSettings(PlatformSettings):
    """The Official Account's developer settings (credentials.yml, else WECHAT_* variables)."""

    token: str
    app_id: str
    app_secret: str
    aes_key: str | None = None
    api_url: str = DEFAULT_API_URL
    reply_seconds: float = DEFAULT_REPLY_SECONDS

    @classmethod
    def from_credentials(
        cls, credentials: Mapping[str, Any] | None, env: Mapping[str, str] = os.environ
    ) -> WeChatSettings:
        source = SettingsSource.of(credentials, env)
        return cls(
            token=source.text("token", "WECHAT_TOKEN") or "",
            app_id=source.text("app_id", "WECHAT_APP_ID") or "",
            app_secret=source.text("app_secret", "WECHAT_APP_SECRET") or "",
            aes_key=source.text("aes_key", "WECHAT_AES_KEY"),
            api_url=source.url("api_url", "WECHAT_API_URL", DEFAULT_API_URL),
            # WeChat stops waiting at 5 s.
            reply_seconds=source.number(
                "reply_seconds",
                "WECHAT_REPLY_SECONDS",
                DEFAULT_REPLY_SECONDS,
                0,
                WECHAT_DEADLINE_SECONDS,
            ),
        )

    def missing(self) -> dict[str, str]:
        missing = {}
        if not self.token:
            missing["WECHAT_TOKEN"] = "the WeChat webhook answers 503"
        if not (self.app_id and self.app_secret):
            missing["WECHAT_APP_ID and WECHAT_APP_SECRET"] = (
                "slow replies and agents' messages cannot be sent on WeChat"
            )
        return missing


class Rejected(Exception):
    """A request answered with a 4xx and no side effect."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def message_key(fields: Mapping[str, str]) -> str:
    """What identifies one delivery: MsgId, for events sender + creation time (WeChat's advice);
    as a digest, the delivery table's key."""
    if fields.get("MsgId"):
        key = f"msg:{fields['MsgId']}"
    else:
        parts = (fields.get(name, "") for name in ("FromUserName", "CreateTime", "Event"))
        key = ":".join(("event", *parts))
    return digest(key.encode())


class WeChatChannel(PlatformChannel):
    """The WeChat Official Account webhook; registered in credentials.yml."""

    platform = PLATFORM
    display_name = "微信"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatChannel:
        settings = WeChatSettings.from_credentials(credentials)
        return cls(settings, tokens=token_store(settings.app_id))

    def __init__(
        self,
        settings: WeChatSettings,
        deliveries: DeliveryStore | None = None,
        signatures: UsedSignatures | None = None,
        tokens: TokenStore | None = None,
        bindings: BindingStore | None = None,
        identity: IdentitySettings | None = None,
    ) -> None:
        api = WeChatApi(settings.api_url, settings.app_id, settings.app_secret, tokens)
        super().__init__(settings, api, deliveries, bindings, identity)
        self._settings = settings
        self._crypto = (
            MessageCrypto(settings.token, settings.aes_key, settings.app_id)
            if settings.aes_key
            else None
        )
        self._wechat = api
        self._signatures = signatures
        self._passive = PassiveReplies(api, settings.reply_seconds)
        self._binds = False  # decided when the server starts

    def open_stores(self, services: Services) -> None:
        super().open_stores(services)
        stores = services.settings.stores
        self._signatures = self._signatures or UsedSignatures.from_url(stores.bindings)
        # Plaintext callbacks can be forged from one observed URL: nobody is bound or identified.
        self._binds = self._crypto is not None or services.settings.development
        if not self._binds:
            logger.warning(
                "WeChat runs in plaintext mode (no WECHAT_AES_KEY): users cannot bind their "
                "account and bound users get general help only; set WECHAT_AES_KEY (safe mode)"
            )

    def get_output_channel(self) -> WeChatOutput:
        return WeChatOutput(self._wechat)

    def acknowledgement(self) -> HTTPResponse:
        return response.text(SUCCESS)

    def binding_refusal(self) -> str | None:
        return None if self._binds else NO_BINDING_HERE

    def add_routes(self, webhook: Blueprint) -> None:
        async def verify(request: Request) -> HTTPResponse:
            if not self._settings.token:
                return response.text("not configured", status=503)
            args = request.args
            valid = request_valid(
                self._settings.token,
                args.get("timestamp"),
                args.get("nonce"),
                args.get("signature"),
            )
            if not valid or not args.get("echostr"):
                logger.warning("rejected a WeChat URL verification")
                return response.text("forbidden", status=403)
            return response.text(args.get("echostr"))

        webhook.add_route(verify, "/webhook", methods=["GET"], name="verify")

    async def receive(self, request: Request) -> HTTPResponse:
        started = time.monotonic()
        if not self._settings.token:
            return response.text("not configured", status=503)
        try:
            fields = self._open(request)
            await self._refuse_replay(request)
        except Rejected as rejected:
            logger.warning("rejected a WeChat callback: %s", rejected.reason)
            return response.text(rejected.reason, status=rejected.status)
        key, openid = message_key(fields), fields["FromUserName"]
        about = self.conversation(openid)

        async def process() -> Messages:
            return await self.process_once(
                key, about, lambda: self._handle(request.app, fields), []
            )

        text = await self._passive.answer(key, openid, process, started)
        if text is None:
            return self.acknowledgement()
        return response.text(self._reply_xml(fields, text), content_type="application/xml")

    # -- requests ------------------------------------------------------------------------------

    def _open(self, request: Request) -> dict[str, str]:
        """The authenticated message of a callback; Rejected before any side effect."""
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            raise Rejected(413, "too large")
        args = request.args
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
        token = self._settings.token
        try:
            if self._crypto is None:
                if args.get("encrypt_type", "raw") != "raw":
                    raise Rejected(400, "safe mode is not configured")
                if not request_valid(token, timestamp, nonce, args.get("signature")):
                    raise Rejected(403, "bad or stale signature")
                fields = parse_xml(body)
            else:
                # The plaintext signature does not cover the body: in safe mode accept only
                # encrypted messages, whose msg_signature does.
                if args.get("encrypt_type") != "aes":
                    raise Rejected(403, "encrypted messages only")
                encrypted = parse_xml(body).get("Encrypt")
                if not encrypted:
                    raise Rejected(400, "no Encrypt element")
                if not request_valid(token, timestamp, nonce, args.get("msg_signature"), encrypted):
                    raise Rejected(403, "bad or stale signature")
                fields = parse_xml(self._crypto.decrypt(encrypted).encode())
        except XmlRejected as error:
            raise Rejected(400, f"not a WeChat message ({error})") from None
        except InvalidPayload as error:
            raise Rejected(400, f"cannot decrypt ({error})") from None
        openid = fields.get("FromUserName", "")
        if not 0 < len(openid) <= MAX_OPENID_LENGTH or not fields.get("MsgType"):
            raise Rejected(400, "FromUserName and MsgType are required")
        return fields

    async def _refuse_replay(self, request: Request) -> None:
        """Rejected when the request's signature was already used for another body."""
        args = request.args
        signature = args.get("msg_signature" if self._crypto else "signature")
        try:
            fresh = await asyncio.to_thread(
                self._first_use,
                str(args.get("timestamp")),
                str(args.get("nonce")),
                str(signature),
                request.body or b"",
            )
        except SQLAlchemyError:
            # Without the record a replay cannot be told apart: refuse rather than guess.
            logger.exception("cannot record a WeChat signature")
            raise Rejected(503, "try again later") from None
        if not fresh:
            raise Rejected(403, "replayed signature")

    def _first_use(self, timestamp: str, nonce: str, signature: str, body: bytes) -> bool:
        return started(self._signatures).first_use(timestamp, nonce, signature, body)

    def _reply_xml(self, fields: Mapping[str, str], text: str) -> str:
        now = int(time.time())
        xml = text_reply_xml(fields["FromUserName"], fields.get("ToUserName", ""), text, now)
        return encrypted_reply_xml(self._crypto, xml, now) if self._crypto else xml

    # -- processing ----------------------------------------------------------------------------

    async def _handle(self, app: Sanic, fields: Mapping[str, str]) -> Messages:
        """The bot's messages for a new message."""
        openid, kind = fields["FromUserName"], fields["MsgType"]
        conversation = self.conversation(openid)
        collector = WeChatCollector()
        if kind == "event":
            if fields.get("Event", "").lower() == "subscribe":
                await self.reply(app, collector, conversation, WELCOME)
            # unsubscribe, menu clicks, location reports: nothing to say
        elif kind != "text":
            await self.reply(app, collector, conversation, UNSUPPORTED)
        else:
            text = fields.get("Content", "")
            await self.on_text(app, collector, openid, text, fields.get("MsgId") or None)
        return collector.messages
