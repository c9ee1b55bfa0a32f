"""WeChat Official Account (微信公众号) channel: callbacks in; passive replies and pushes out.

    GET  /webhooks/wechat/webhook   URL verification: echoes ``echostr`` for a valid signature
    POST /webhooks/wechat/webhook   a user's message or event (plaintext, or AES safe mode)

Every request must carry a valid signature over a fresh timestamp (``wechat_crypto``); with
WECHAT_AES_KEY set only encrypted messages are accepted, since the plaintext signature does not
cover the body. A signature is used once: (timestamp, nonce, signature) is recorded with the
body it came with, for the 300 s the timestamp stays fresh, in the channels' database that
every server shares; the same signature over another body is a replay (403, no side effect).

WeChat waits 5 seconds for an answer and then redelivers the message, three times in all: each
message (MsgId, for events sender + time) is processed once, recorded in the same database so a
restart keeps the record. A turn ready within WECHAT_REPLY_SECONDS is answered in the HTTP
response (one text: the turn's messages joined, buttons as a list answered by number or title);
a slower one gets "success" and its messages follow through the customer-service API
(/cgi-bin/message/custom/send), which also carries agents' replies during a handoff. Replies the
channel gives itself (welcome, images and voice, binding) count against the sender's rate, as
text does in the intake.

Users bind their wallet account with a one-time code from the app ("绑定 K7PM-X4QD"); until then
they get general help only. In plaintext mode anyone who saw one callback could write as any
openid within the window, so outside development (``bot.deployment``) a plaintext channel binds
and identifies nobody: safe mode is required for that.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from xml.parsers import expat

import aiohttp
import sqlalchemy as sa
from rasa.core.agent import Agent
from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.channels import responses
from bot.channels.binding import (
    bind_code_in,
    bind_platform_user,
    binding_db_url,
    binding_store,
)
from bot.channels.button_choice import button_choice, numbered
from bot.channels.intake import SLOW_DOWN, take_turn
from bot.channels.limits import sender_admitted
from bot.channels.wechat_crypto import (
    FRESHNESS_SECONDS,
    InvalidPayload,
    MessageCrypto,
    request_valid,
)
from bot.channels.widget import notify_owner
from bot.database import UtcDateTime, open_database
from bot.deployment import is_development
from bot.identity import IDENTITY_FIELD, IdentitySettings, sign_identity

logger = logging.getLogger(__name__)

PLATFORM = "wechat"
SENDER_PREFIX = "wechat:"
DEFAULT_API_URL = "https://api.weixin.qq.com"
DEFAULT_REPLY_SECONDS = 4.5
WECHAT_DEADLINE_SECONDS = 5.0
MAX_BODY_BYTES = 64 * 1024
MAX_XML_DEPTH = 8
MAX_OPENID_LENGTH = 128
MAX_TEXT_BYTES = 2048  # WeChat's limit for one text message
API_TIMEOUT_SECONDS = 5.0
TOKEN_MARGIN_SECONDS = 300  # refresh this long before WeChat says the token expires
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid or expired access token: fetch a new one
TURN_MEMORY_SECONDS = 120  # WeChat's redeliveries come within about 15 s
RECEIVED_KEEP = timedelta(days=2)
PRUNE_SIGNATURES_SECONDS = 60.0
SUCCESS = "success"  # WeChat's "received, no passive reply"

WELCOME = "utter_welcome"
UNSUPPORTED = "utter_unsupported_message"
NO_BINDING_HERE = "utter_binding_needs_safe_mode"
BINDING_ADDED = "utter_binding_added"


# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeChatSettings:
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
        given = credentials or {}

        def value(key: str, variable: str) -> str:
            raw = given.get(key)
            if raw is None or str(raw).strip() == "":
                raw = env.get(variable, "")
            return str(raw).strip()

        reply = value("reply_seconds", "WECHAT_REPLY_SECONDS") or str(DEFAULT_REPLY_SECONDS)
        try:
            reply_seconds = float(reply)
        except ValueError:
            raise ValueError("WECHAT_REPLY_SECONDS must be a number of seconds") from None
        if not 0 < reply_seconds < WECHAT_DEADLINE_SECONDS:
            raise ValueError("WECHAT_REPLY_SECONDS must be between 0 and 5 (WeChat's limit)")
        return cls(
            token=value("token", "WECHAT_TOKEN"),
            app_id=value("app_id", "WECHAT_APP_ID"),
            app_secret=value("app_secret", "WECHAT_APP_SECRET"),
            aes_key=value("aes_key", "WECHAT_AES_KEY") or None,
            api_url=(value("api_url", "WECHAT_API_URL") or DEFAULT_API_URL).rstrip("/"),
            reply_seconds=reply_seconds,
        )


# --- messages: safe XML in, text replies out -------------------------------------------------


class XmlRejected(ValueError):
    """A request body that is not a WeChat message we are willing to parse."""


def parse_xml(data: bytes) -> dict[str, str]:
    """The fields of a flat ``<xml>`` message; DTDs and entities (XML bombs, XXE) are refused."""
    if len(data) > MAX_BODY_BYTES:
        raise XmlRejected("too large")
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    fields: dict[str, str] = {}
    chunks: list[str] = []
    depth = 0

    def start(name: str, _: Any) -> None:
        nonlocal depth
        depth += 1
        if depth == 1 and name != "xml":
            raise XmlRejected("the root element is not <xml>")
        if depth > MAX_XML_DEPTH:
            raise XmlRejected("nested too deep")
        if depth == 2:
            chunks.clear()

    def end(name: str) -> None:
        nonlocal depth
        if depth == 2:
            fields[name] = "".join(chunks).strip()
        depth -= 1

    def characters(text: str) -> None:
        if depth == 2:
            chunks.append(text)

    def forbidden(*_: Any) -> None:
        raise XmlRejected("DTDs and entities are not accepted")

    def external(*_: Any) -> int:
        raise XmlRejected("external entities are not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = forbidden
    parser.EntityDeclHandler = forbidden
    parser.UnparsedEntityDeclHandler = forbidden
    parser.ExternalEntityRefHandler = external
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise XmlRejected("malformed XML") from error
    return fields


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_user: str, text: str, created: int) -> str:
    """A passive text reply."""
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(text)}</Content></xml>"
    )


def encrypted_reply_xml(crypto: MessageCrypto, xml: str, timestamp: int) -> str:
    """A passive reply in safe mode: the encrypted reply with its msg_signature."""
    encrypted = crypto.encrypt(xml)
    nonce = str(secrets.randbelow(10**10))
    signature = crypto.signature(str(timestamp), nonce, encrypted)
    return (
        f"<xml><Encrypt>{cdata(encrypted)}</Encrypt>"
        f"<MsgSignature>{cdata(signature)}</MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>"
    )


def message_key(fields: Mapping[str, str]) -> str:
    """What identifies one delivery: MsgId, for events sender + creation time (WeChat's advice)."""
    if fields.get("MsgId"):
        return f"msg:{fields['MsgId']}"
    parts = (fields.get(name, "") for name in ("FromUserName", "CreateTime", "Event"))
    return ":".join(("event", *parts))


def render(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """Each bot message as WeChat text; buttons become one list across the turn."""
    messages = list(messages)
    use_numbers = numbered(b for m in messages for b in m.get("buttons") or [])
    texts, number = [], 1
    for message in messages:
        lines = [str(message["text"])] if message.get("text") else []
        for button in message.get("buttons") or []:
            title = button.get("title", "")
            lines.append(f"{number}. {title}" if use_numbers else f"· {title}")
            number += 1
        if message.get("image"):
            lines.append(str(message["image"]))
        if message.get("attachment"):
            lines.append(str(message["attachment"]))
        if lines:
            texts.append("\n".join(lines))
    return texts


def openid_of(recipient_id: str) -> str | None:
    return recipient_id[len(SENDER_PREFIX) :] if recipient_id.startswith(SENDER_PREFIX) else None


# --- replays and redeliveries: each signature and each message once, across servers ----------

received_metadata = sa.MetaData()

received = sa.Table(
    "wechat_received_messages",
    received_metadata,
    sa.Column("message_key", sa.String(64), primary_key=True),
    sa.Column("received_at", UtcDateTime, nullable=False, index=True),
)

used_signatures = sa.Table(
    "wechat_used_signatures",
    received_metadata,
    sa.Column("request_key", sa.String(64), primary_key=True),
    sa.Column("body_digest", sa.String(64), nullable=False),
    sa.Column("signed_at", sa.BigInteger, nullable=False, index=True),  # the request's timestamp
)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ReceivedMessages:
    """Signed requests and keys of the WeChat messages already taken for processing."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pruned_at = 0.0
        self._signatures_pruned_at = 0.0

    def first_use(self, request_key: str, body: bytes, timestamp: int) -> bool:
        """False when the signature ``request_key`` already came with another body: a replay.

        The same body again is WeChat redelivering the message (processed once by ``claim``).
        The insert either wins or fails on the key, atomically on every server.
        """
        self._prune_signatures()
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    used_signatures.insert().values(
                        request_key=request_key, body_digest=digest(body), signed_at=timestamp
                    )
                )
        except IntegrityError:
            query = sa.select(used_signatures.c.body_digest).where(
                used_signatures.c.request_key == request_key
            )
            with self._engine.connect() as connection:
                first = connection.execute(query).scalar_one_or_none()
            return first == digest(body)
        return True

    def _prune_signatures(self) -> None:
        if time.monotonic() - self._signatures_pruned_at < PRUNE_SIGNATURES_SECONDS:
            return
        self._signatures_pruned_at = time.monotonic()
        # A timestamp this old fails the freshness check: its signature cannot be used again.
        stale = int(time.time()) - FRESHNESS_SECONDS - 1
        with self._engine.begin() as connection:
            connection.execute(used_signatures.delete().where(used_signatures.c.signed_at < stale))

    @classmethod
    def from_url(cls, url: str) -> ReceivedMessages:
        return cls(open_database(url, received_metadata))

    def claim(self, key: str) -> bool:
        """True the first time the message ``key`` is seen, False for a redelivery."""
        now = datetime.now(timezone.utc)
        try:
            with self._engine.begin() as connection:
                if time.monotonic() - self._pruned_at > 3600:
                    connection.execute(
                        received.delete().where(received.c.received_at < now - RECEIVED_KEEP)
                    )
                    self._pruned_at = time.monotonic()
                connection.execute(
                    received.insert().values(message_key=digest(key.encode()), received_at=now)
                )
        except IntegrityError:
            return False
        return True


@lru_cache(maxsize=1)
def received_messages() -> ReceivedMessages:
    """The process-wide record, in the binding store's database (BINDING_DB_URL)."""
    return ReceivedMessages.from_url(binding_db_url())


# --- the WeChat API: access token and customer-service messages ------------------------------


class WeChatApiError(Exception):
    """WeChat refused a call or could not be reached."""

    def __init__(self, reason: str, errcode: int | None = None) -> None:
        super().__init__(reason)
        self.errcode = errcode


class WeChatApi:
    """Customer-service messages through WeChat's API, with the access token cached."""

    def __init__(self, settings: WeChatSettings) -> None:
        self._settings = settings
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def _call(
        self, method: str, path: str, params: Mapping[str, str], body: Any = None
    ) -> dict[str, Any]:
        url = f"{self._settings.api_url}{path}"
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if data else {}
        timeout = aiohttp.ClientTimeout(total=API_TIMEOUT_SECONDS)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(
                    method, url, params=dict(params), data=data, headers=headers
                ) as answer,
            ):
                if answer.status != 200:
                    raise WeChatApiError(f"HTTP {answer.status} from {path}")
                result = await answer.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise WeChatApiError(f"{path} failed: {type(error).__name__}") from error
        if not isinstance(result, dict):
            raise WeChatApiError(f"unexpected answer from {path}")
        errcode = result.get("errcode") or 0
        if errcode:
            raise WeChatApiError(f"{path} errcode {errcode}", int(errcode))
        return result

    async def access_token(self, refresh: bool = False) -> str:
        """The cached token, fetched again when it is about to expire or WeChat rejected it."""
        async with self._token_lock:
            if refresh or self._token is None or time.monotonic() >= self._token_expires:
                if not (self._settings.app_id and self._settings.app_secret):
                    raise WeChatApiError("WECHAT_APP_ID and WECHAT_APP_SECRET are not set")
                result = await self._call(
                    "GET",
                    "/cgi-bin/token",
                    {
                        "grant_type": "client_credential",
                        "appid": self._settings.app_id,
                        "secret": self._settings.app_secret,
                    },
                )
                token, lifetime = result.get("access_token"), result.get("expires_in", 7200)
                if not isinstance(token, str) or not token:
                    raise WeChatApiError("no access_token in the answer")
                margin = min(TOKEN_MARGIN_SECONDS, float(lifetime) / 2)
                self._token = token
                self._token_expires = time.monotonic() + float(lifetime) - margin
                logger.info("fetched a WeChat access token valid for %ss", lifetime)
            return self._token

    async def send_text(self, openid: str, text: str) -> bool:
        """Sends a customer-service text message; False (logged) when WeChat did not take it."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        for attempt in range(2):
            try:
                token = await self.access_token(refresh=attempt > 0)
                await self._call(
                    "POST", "/cgi-bin/message/custom/send", {"access_token": token}, body
                )
                return True
            except WeChatApiError as error:
                if error.errcode in TOKEN_ERRORS and attempt == 0:
                    continue
                # 45015: the user has not written within 48 hours, WeChat allows no push.
                logger.error("customer-service message to wechat:%s failed: %s", openid, error)
                return False
        return False


class WeChatCollector(CollectingOutputChannel):
    """Collects a turn's messages for the passive reply; named so responses pick their
    "wechat" variation (Rasa chooses variations by the output channel's name)."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM


class WeChatOutput(OutputChannel):
    """Pushes messages to a WeChat user (slow turns, handoff agents, handoff notices)."""

    def __init__(self, api: WeChatApi) -> None:
        self._api = api

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    async def _push(self, recipient_id: str, texts: list[str]) -> None:
        openid = openid_of(recipient_id)
        if openid is None:
            logger.error("conversation %s is not a WeChat conversation", recipient_id)
            return
        for text in texts:
            await self._api.send_text(openid, text)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        # One push per response: the base class would split paragraphs into separate messages.
        await self._push(recipient_id, render([message]))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._push(recipient_id, render([{"text": text}]))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._push(recipient_id, render([{"text": text, "buttons": buttons}]))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._push(recipient_id, [image])

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        await self._push(recipient_id, [attachment])

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        logger.debug("custom message to %s not shown on WeChat", recipient_id)


# --- the channel -----------------------------------------------------------------------------


class Rejected(Exception):
    """A request answered with a 4xx and no side effect."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Turn:
    """One message being answered; a redelivery of it waits for the same result."""

    task: asyncio.Task[list[dict[str, Any]] | None]
    started: float = field(default_factory=time.monotonic)
    push: asyncio.Task[None] | None = None  # set once the messages go out through the API


class WeChatChannel(InputChannel):
    """The WeChat Official Account webhook; registered in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return PLATFORM

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatChannel:
        return cls(WeChatSettings.from_credentials(credentials))

    def __init__(
        self, settings: WeChatSettings, received_store: ReceivedMessages | None = None
    ) -> None:
        self._settings = settings
        self._crypto = (
            MessageCrypto(settings.token, settings.aes_key, settings.app_id)
            if settings.aes_key
            else None
        )
        self._api = WeChatApi(settings)
        self._received = received_store
        self._identity_secret = IdentitySettings.from_env().secret
        self._turns: dict[str, Turn] = {}
        # Plaintext callbacks can be forged from one observed URL: nobody is bound or identified.
        self._binds = self._crypto is not None or is_development()
        if not settings.token:
            logger.warning("WECHAT_TOKEN is not set: the WeChat webhook answers 503")

    def get_output_channel(self) -> WeChatOutput:
        return WeChatOutput(self._api)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("im_wechat_webhook", __name__)
        if not self._binds:
            logger.warning(
                "WeChat runs in plaintext mode (no WECHAT_AES_KEY): users cannot bind their "
                "account and bound users get general help only; set WECHAT_AES_KEY (safe mode)"
            )

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
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

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            started = time.monotonic()
            if not self._settings.token:
                return response.text("not configured", status=503)
            try:
                fields = self._open(request)
                await self._refuse_replay(request)
            except Rejected as rejected:
                logger.warning("rejected a WeChat callback: %s", rejected.reason)
                return response.text(rejected.reason, status=rejected.status)
            try:
                text = await self._answer(fields, request.app, on_new_message, started)
                if text is None:
                    return response.text(SUCCESS)
                return response.text(self._reply_xml(fields, text), content_type="application/xml")
            except Exception:
                # WeChat shows users an error for anything but an answer: never a 500.
                logger.exception("WeChat callback failed for wechat:%s", fields["FromUserName"])
                return response.text(SUCCESS)

        return webhook

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
        timestamp, nonce = str(args.get("timestamp")), str(args.get("nonce"))
        signature = str(args.get("msg_signature" if self._crypto else "signature"))
        request_key = digest("\n".join((timestamp, nonce, signature)).encode())
        store = self._received or received_messages()
        try:
            fresh = await asyncio.to_thread(
                store.first_use, request_key, request.body or b"", int(timestamp)
            )
        except SQLAlchemyError:
            # Without the record a replay cannot be told apart: refuse rather than guess.
            logger.exception("cannot record a WeChat signature")
            raise Rejected(503, "try again later") from None
        if not fresh:
            raise Rejected(403, "replayed signature")

    def _reply_xml(self, fields: Mapping[str, str], text: str) -> str:
        now = int(time.time())
        xml = text_reply_xml(fields["FromUserName"], fields.get("ToUserName", ""), text, now)
        return encrypted_reply_xml(self._crypto, xml, now) if self._crypto else xml

    async def _answer(
        self,
        fields: Mapping[str, str],
        app: Sanic,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        started: float,
    ) -> str | None:
        """The passive reply text, or None: "success", with the messages pushed when ready."""
        self._forget_old_turns()
        key = message_key(fields)
        turn = self._turns.get(key)
        if turn is None:
            # Registered before any await, so a redelivery arriving meanwhile joins this turn.
            turn = Turn(asyncio.create_task(self._process(key, fields, app, on_new_message)))
            self._turns[key] = turn
        else:
            logger.info("redelivery of a message from wechat:%s", fields["FromUserName"])
        if turn.push is not None:
            return None
        remaining = started + self._settings.reply_seconds - time.monotonic()
        try:
            messages = await asyncio.wait_for(asyncio.shield(turn.task), max(remaining, 0.0))
        except asyncio.TimeoutError:
            self._push_later(turn, fields["FromUserName"])
            return None
        texts = render(messages or [])
        joined = "\n\n".join(texts)
        if not joined or turn.push is not None:
            return None
        if len(joined.encode()) > MAX_TEXT_BYTES:
            self._push_later(turn, fields["FromUserName"])
            return None
        return joined

    def _push_later(self, turn: Turn, openid: str) -> None:
        if turn.push is None:
            turn.push = asyncio.create_task(self._push_when_done(turn.task, openid))

    async def _push_when_done(
        self, task: asyncio.Task[list[dict[str, Any]] | None], openid: str
    ) -> None:
        texts = render(await task or [])
        joined = "\n\n".join(texts)
        for text in [joined] if len(joined.encode()) <= MAX_TEXT_BYTES else texts:
            if text:
                await self._api.send_text(openid, text)

    def _forget_old_turns(self) -> None:
        now = time.monotonic()
        for key, turn in list(self._turns.items()):
            finished = turn.task.done() and (turn.push is None or turn.push.done())
            if finished and now - turn.started > TURN_MEMORY_SECONDS:
                del self._turns[key]

    # -- processing ----------------------------------------------------------------------------

    async def _process(
        self,
        key: str,
        fields: Mapping[str, str],
        app: Sanic,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> list[dict[str, Any]] | None:
        """The bot's messages for a new message; None when it was processed before a restart."""
        sender_id = SENDER_PREFIX + fields["FromUserName"]
        try:
            store = self._received or received_messages()
            if not await asyncio.to_thread(store.claim, key):
                logger.info("message from %s was already processed", sender_id)
                return None
        except SQLAlchemyError:
            # Answering twice beats not answering at all.
            logger.exception("cannot record WeChat message of %s", sender_id)
        try:
            return await self._handle(fields, sender_id, app, on_new_message)
        except Exception:
            logger.exception("WeChat message of %s failed", sender_id)
            return []

    async def _handle(
        self,
        fields: Mapping[str, str],
        sender_id: str,
        app: Sanic,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> list[dict[str, Any]]:
        agent: Agent = app.ctx.agent
        openid = fields["FromUserName"]
        kind = fields["MsgType"]
        if kind == "event":
            if fields.get("Event", "").lower() == "subscribe":
                return await self._reply(agent, sender_id, WELCOME)
            return []  # unsubscribe, menu clicks, location reports: nothing to say
        if kind != "text":
            return await self._reply(agent, sender_id, UNSUPPORTED)
        text = fields.get("Content", "")
        code = bind_code_in(text)
        if code is not None:
            # Handled here, never passed to Rasa: the code stays out of the tracker.
            if not self._binds:
                return await self._reply(agent, sender_id, NO_BINDING_HERE)
            refusal = await self._refusal(agent, sender_id)
            if refusal is not None:
                return refusal
            return [await self._bind(app, openid, sender_id, code)]
        collector = WeChatCollector()
        message = UserMessage(
            await button_choice(agent, sender_id, text),
            collector,
            sender_id,
            input_channel=self.name(),
            message_id=fields.get("MsgId") or None,
            metadata=await self._identity(openid, sender_id),
        )
        await take_turn(app, message)  # counts the message against the sender's rate itself
        return collector.messages

    async def _reply(self, agent: Agent, sender_id: str, name: str) -> list[dict[str, Any]]:
        """A reply the channel gives itself, within the sender's rate."""
        refusal = await self._refusal(agent, sender_id)
        return [await self._response(agent, sender_id, name)] if refusal is None else refusal

    async def _refusal(self, agent: Agent, sender_id: str) -> list[dict[str, Any]] | None:
        """None within the sender's rate; else the first refusal of a streak says so, then
        silence."""
        admission = await sender_admitted(sender_id)
        if admission.admitted:
            return None
        logger.warning("rate limit reached in conversation %s", sender_id)
        if not admission.first_refusal:
            return []
        return [await self._response(agent, sender_id, SLOW_DOWN)]

    async def _response(self, agent: Agent, sender_id: str, name: str) -> dict[str, Any]:
        """A domain response rendered for this channel, outside any Rasa turn."""
        return {
            "recipient_id": sender_id,
            **await responses.render(agent, sender_id, name, self.name()),
        }

    async def _bind(self, app: Sanic, openid: str, sender_id: str, code: str) -> dict[str, Any]:
        outcome = await bind_platform_user(code, PLATFORM, openid, sender_id)
        reply = await self._response(app.ctx.agent, sender_id, outcome.response)
        if outcome.account_id is not None:
            await notify_owner(app, outcome.account_id, BINDING_ADDED, platform="微信")
        return reply

    async def _identity(self, openid: str, sender_id: str) -> dict[str, Any] | None:
        """The signed identity of a bound user, for the actions."""
        if not self._identity_secret or not self._binds:
            return None
        account = await asyncio.to_thread(binding_store().account_for, PLATFORM, openid)
        if account is None:
            return None
        return {IDENTITY_FIELD: sign_identity(self._identity_secret, account, sender_id)}
