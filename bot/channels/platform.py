"""The base of every messaging-platform channel (Telegram, WeChat): what a platform does not own.

A platform's ``channel.py`` subclasses ``PlatformChannel`` and writes only what is its own:
parsing and authenticating a delivery, and answering it the way the platform expects. The base
holds the rest, once:

- settings: a credentials.yml key, else its environment variable (``SettingsSource``); missing
  ones are logged at start with what fails without them, malformed ones raise ``ConfigError``;
- conversation ids: ``<platform>:<user>`` (``conversation_id`` / ``platform_user``), a namespace
  no REST sender may enter;
- each delivery processed once (``process_once``, on ``bot.channels.deliveries``);
- binding: "绑定 K7PM-X4QD" is redeemed here and never reaches Rasa, wrong codes limited by the
  binding store (5 per user in 15 minutes, shared by every server); a bound user's messages carry
  the account's signed identity; every store call runs off the event loop;
- stores: those the constructor was not given come from the server's services when it starts
  (``open_stores``; a platform with stores of its own extends it);
- what the channel answers itself (welcome, unsupported content, binding) within the sender's
  rate;
- the routes: ``GET /`` health, ``POST /webhook`` never a 500 (an unexpected error is logged and
  the platform gets its usual acknowledgement), and the API session closed on server stop.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import responses
from bot.channels.binding import BindingStore, TooManyAttempts, bind_code_in
from bot.channels.deliveries import DeliveryStore
from bot.channels.intake import SLOW_DOWN, take_turn
from bot.channels.widget import notify_owner
from bot.identity import IDENTITY_FIELD, IdentitySettings, sign_identity
from bot.privacy import mask_account_id
from bot.services import Services, services_of, use_services
from bot.settings import ConfigError

logger = logging.getLogger(__name__)
T = TypeVar("T")

SEPARATOR = ":"
# Responses every platform gives by itself.
WELCOME = "utter_welcome"
UNSUPPORTED = "utter_unsupported_message"
BOUND = "utter_binding_done"
NOT_BOUND = "utter_binding_failed"
TOO_MANY = "utter_binding_too_many"
BINDING_ADDED = "utter_binding_added"


# --- conversation ids ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformUser:
    """Who a platform conversation is with: the platform's name and its own user id."""

    platform: str
    user: str


def conversation_id(platform: str, user: str) -> str:
    """The conversation of a platform's user: ``telegram:42``, ``wechat:oAbC…``."""
    return f"{platform}{SEPARATOR}{user}"


def platform_user(conversation: str) -> PlatformUser | None:
    """The platform and user of a channel's conversation id; None for an id without a platform."""
    platform, separator, user = conversation.partition(SEPARATOR)
    return PlatformUser(platform, user) if separator else None


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsSource:
    """A platform channel's settings: its credentials.yml entry, an empty key read from the
    environment variable named beside it."""

    credentials: Mapping[str, Any]
    env: Mapping[str, str]

    @classmethod
    def of(
        cls, credentials: Mapping[str, Any] | None, env: Mapping[str, str] = os.environ
    ) -> SettingsSource:
        return cls(credentials or {}, env)

    def text(self, key: str, variable: str) -> str | None:
        """The stripped value, None when neither place sets it."""
        value = self.credentials.get(key)
        if value is None or str(value).strip() == "":
            value = self.env.get(variable)
        return str(value or "").strip() or None

    def url(self, key: str, variable: str, default: str) -> str:
        """A base URL, without its trailing slash."""
        return (self.text(key, variable) or default).rstrip("/")

    def number(self, key: str, variable: str, default: float, above: float, below: float) -> float:
        """A number strictly between ``above`` and ``below``; ConfigError naming the variable."""
        raw = self.text(key, variable)
        try:
            value = default if raw is None else float(raw)
        except ValueError:
            raise ConfigError(f"{variable} must be a number") from None
        if not above < value < below:
            raise ConfigError(f"{variable} must be above {above:g} and below {below:g}")
        return value


class PlatformSettings(abc.ABC):
    """A platform's settings; what each missing one stops is logged when the channel starts."""

    @abc.abstractmethod
    def missing(self) -> dict[str, str]:
        """Each unset variable the platform needs, with what does not work without it."""


# --- the platform's HTTP API -----------------------------------------------------------------


class PlatformApi:
    """The HTTP side of a platform's API: one aiohttp session for the channel's life."""

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        # Built on first use, inside the server's event loop; kept for its connection pool.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        """Closes the session (on server stop); a later call opens a new one."""
        if self._session is not None and not self._session.closed:
            await self._session.close()


def started(part: T | None) -> T:
    """A store or setting the channel has once its server started (``open_stores``)."""
    if part is None:
        raise RuntimeError("the channel's server has not started")
    return part


# --- the channel -----------------------------------------------------------------------------


class PlatformChannel(InputChannel, abc.ABC):
    """A platform's webhook with what every platform shares; see the module docstring."""

    platform: ClassVar[str]  # the channel's name and the prefix of its conversation ids
    display_name: ClassVar[str]  # how the account's owner is told where a user bound

    def __init__(
        self,
        settings: PlatformSettings,
        api: PlatformApi,
        deliveries: DeliveryStore | None = None,
        bindings: BindingStore | None = None,
        identity: IdentitySettings | None = None,
    ) -> None:
        self.api = api
        self._deliveries = deliveries
        self._bindings = bindings
        self._identity = identity
        for variable, consequence in settings.missing().items():
            logger.warning("%s is not set: %s", variable, consequence)

    @classmethod
    def name(cls) -> str:
        return cls.platform

    def conversation(self, user: str) -> str:
        return conversation_id(self.platform, user)

    # -- routes --------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Health, the webhook and the platform's own routes; turns go through the intake
        (``take_turn``), not ``on_new_message``."""
        webhook = Blueprint(f"im_{self.platform}_webhook", __name__)
        use_services(webhook)

        async def open_stores(app: Sanic, _: Any) -> None:
            await asyncio.to_thread(self.open_stores, services_of(app))

        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def receive(request: Request) -> HTTPResponse:
            try:
                return await self.receive(request)
            except Exception:
                # An error status makes the platform redeliver, stall the chat or show the user
                # an error: it always gets its acknowledgement.
                logger.exception("%s webhook call failed", self.platform)
                return self.acknowledgement()

        async def close_api(_: Sanic, __: Any) -> None:
            await self.api.close()

        webhook.listener("before_server_start")(open_stores)
        webhook.add_route(health, "/", methods=["GET"], name="health")
        webhook.add_route(receive, "/webhook", methods=["POST"], name="receive")
        webhook.listener("after_server_stop")(close_api)
        self.add_routes(webhook)
        return webhook

    def open_stores(self, services: Services) -> None:
        """Takes what the constructor was not given from the server's ``services`` (blocking:
        opening a store creates its tables)."""
        stores = services.settings.stores
        self._deliveries = self._deliveries or DeliveryStore.from_url(stores.bindings)
        self._bindings = self._bindings or services.bindings
        self._identity = self._identity or services.identity

    def add_routes(self, webhook: Blueprint) -> None:
        """The platform's routes beside health and the webhook's POST; none by default."""

    @abc.abstractmethod
    async def receive(self, request: Request) -> HTTPResponse:
        """Answers one webhook call: a 4xx before any side effect, else the platform's answer."""

    @abc.abstractmethod
    def acknowledgement(self) -> HTTPResponse:
        """The answer that tells the platform a delivery was received and needs nothing more."""

    # -- deliveries ----------------------------------------------------------------------------

    async def process_once(
        self, key: str, about: str, process: Callable[[], Awaitable[T]], failed: T
    ) -> T | None:
        """``process()`` the first time delivery ``key`` arrives, None for a redelivery;
        ``failed`` when processing raised (logged, naming ``about``)."""
        try:
            first = await asyncio.to_thread(self._claim, key)
        except Exception:
            # Better to risk answering a redelivery twice than to leave the user unanswered.
            logger.exception("could not record the %s delivery of %s", self.platform, about)
            first = True
        if not first:
            logger.info(
                "%s delivery of %s was redelivered: already processed", self.platform, about
            )
            return None
        try:
            return await process()
        except Exception:
            logger.exception("processing the %s delivery of %s failed", self.platform, about)
            return failed

    def _claim(self, key: str) -> bool:
        return started(self._deliveries).claim(self.platform, key)

    # -- text, binding and identity ------------------------------------------------------------

    async def on_text(
        self,
        app: Sanic,
        output: OutputChannel,
        user: str,
        text: str,
        message_id: str | None = None,
    ) -> None:
        """A user's text: a binding code is handled here (it stays out of the tracker); anything
        else is a turn, carrying the account's signed identity for a bound user."""
        conversation = self.conversation(user)
        code = bind_code_in(text)
        if code is not None:
            if await self.admitted(app, output, conversation):
                await self._bind(app, output, user, code)
            return
        message = UserMessage(
            text,
            output,
            conversation,
            input_channel=self.name(),
            message_id=message_id,
            metadata=await self._identity_of(user),
        )
        await take_turn(app, message)  # counts the message against the sender's rate itself

    def binding_refusal(self) -> str | None:
        """The response given instead of binding when the channel cannot trust who is writing
        (then nobody is identified either); None when it can."""
        return None

    async def _bind(self, app: Sanic, output: OutputChannel, user: str, code: str) -> None:
        conversation = self.conversation(user)
        refusal = self.binding_refusal()
        if refusal is not None:
            await self.say(app, output, conversation, refusal)
            return
        try:
            account = await asyncio.to_thread(self._redeem, code, user)
        except TooManyAttempts as refused:
            logger.warning(
                "binding refused in conversation %s: too many wrong codes (%s)",
                conversation,
                refused,
            )
            await self.say(app, output, conversation, TOO_MANY)
            return
        if account is None:
            logger.info("wrong or expired binding code in conversation %s", conversation)
            await self.say(app, output, conversation, NOT_BOUND)
            return
        logger.info("conversation %s bound to account %s", conversation, mask_account_id(account))
        await self.say(app, output, conversation, BOUND)
        await notify_owner(app, account, BINDING_ADDED, platform=self.display_name)

    def _redeem(self, code: str, user: str) -> str | None:
        return started(self._bindings).redeem(code, self.platform, user)

    async def _identity_of(self, user: str) -> dict[str, Any] | None:
        """The signed identity of a bound user, for the actions; None: general help only."""
        if self.binding_refusal() is not None:
            return None
        conversation = self.conversation(user)
        try:
            account = await asyncio.to_thread(self._account_of, user)
        except Exception:
            # Answered as an unbound user (general help) rather than not at all.
            logger.exception("binding look-up failed in conversation %s", conversation)
            return None
        if account is None:
            return None
        secret = started(self._identity).secret
        if secret is None:
            logger.error(
                "IDENTITY_SECRET is not set: bound user %s is not identified", conversation
            )
            return None
        return {IDENTITY_FIELD: sign_identity(secret, account, conversation)}

    def _account_of(self, user: str) -> str | None:
        return started(self._bindings).account_for(self.platform, user)

    # -- what the channel answers itself -------------------------------------------------------

    async def reply(self, app: Sanic, output: OutputChannel, conversation: str, name: str) -> None:
        """A response the channel gives itself, within the sender's rate."""
        if await self.admitted(app, output, conversation):
            await self.say(app, output, conversation, name)

    async def admitted(self, app: Sanic, output: OutputChannel, conversation: str) -> bool:
        """Whether the sender is within its rate; the first refusal of a streak is told so."""
        admission = await services_of(app).limits.sender_admitted(conversation)
        if admission.admitted:
            return True
        logger.warning("rate limit reached in conversation %s", conversation)
        if admission.first_refusal:
            await self.say(app, output, conversation, SLOW_DOWN)
        return False

    async def say(self, app: Sanic, output: OutputChannel, conversation: str, name: str) -> None:
        """A domain response, rendered by the server's NLG for this channel, out through
        ``output``."""
        await responses.say(app.ctx.agent, output, conversation, name, self.name())
