"""The stores and services a server shares, built once from its ``Settings`` and handed out.

The Rasa server builds one ``Services`` when it starts and keeps it on ``app.ctx.services``;
channels and the agent console read it from there (``services_of``). Every channel whose routes
use it calls ``use_services(blueprint)``: the listener it registers runs before the channel's own
listeners, and only the first run builds anything, so a server with any subset of the channels
(a test serving one) gets its services, once. The same start does the work that belongs to the
server's start rather than to a turn: Rasa's agents keep their tracker store bare
(``bot.tracking.fail_loudly``), remote actions use the compiled response validator
(``bot.dialogue.action_validation``), RulePolicy builds only the states its rules can see
(``bot.dialogue.flat_rules``), trackers copy their state rather than replay their events
(``bot.dialogue.flat_copy``) and extend their applied events rather than list them anew
(``bot.dialogue.flat_applied``), Rasa's graph runs node after node (``bot.sequential_graph``) and
its stages of a turn are timed (``bot.turn_stages``): ``adapt_rasa``, which the tests' agent
uses too. The held parts of split mnemonics are kept out of the logs, and the stores are opened
off the event loop (opening creates their tables).

Each part is the one given (tests pass fakes and test stores) or built from the settings the
first time it is asked for, so the action server, which has a ``Services`` too
(``bot.action_services``), opens only the stores its actions use; ``open()`` builds them all.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sanic import Blueprint, Sanic

from bot.care.watches import WatchStore
from bot.channels.binding import BindingStore
from bot.channels.limits import Limits
from bot.channels.rest_tokens import ConversationTokens
from bot.handoff.store import HandoffStore
from bot.identity import IdentitySettings
from bot.link_safety.factory import link_safety_service
from bot.link_safety.service import LinkSafety
from bot.rate_limits import RateLimiter, rate_limiter
from bot.settings import Settings
from bot.wallet.factory import wallet_service
from bot.wallet.service import WalletService

if TYPE_CHECKING:
    from bot.help_center.library import HelpCenter
    from bot.improvement.store import ReviewStore
    from bot.secret_guard.split import SplitMnemonics

T = TypeVar("T")


class Once(Generic[T]):
    """A part given by the caller, or built by ``build`` the first time it is asked for."""

    def __init__(self, given: T | None, build: Callable[[], T]) -> None:
        self._value = given
        self._build = build
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value


class Services:
    """One server's stores, wallet, rate limits and held mnemonic parts, on one ``Settings``."""

    def __init__(
        self,
        settings: Settings,
        *,
        handoff: HandoffStore | None = None,
        bindings: BindingStore | None = None,
        wallet: WalletService | None = None,
        tokens: ConversationTokens | None = None,
        review: ReviewStore | None = None,
        help_center: HelpCenter | None = None,
        limiter: RateLimiter | None = None,
        split_mnemonics: SplitMnemonics | None = None,
        watches: WatchStore | None = None,
        link_safety: LinkSafety | None = None,
    ) -> None:
        stores = settings.stores
        self.settings = settings
        self.limiter = limiter or rate_limiter(stores.redis)
        self.limits = Limits(self.limiter, settings.intake, settings.addresses)
        self._split_mnemonics = Once(split_mnemonics, _held_parts)
        self._handoff = Once(handoff, lambda: HandoffStore.from_url(stores.handoff))
        self._bindings = Once(bindings, lambda: BindingStore.from_url(stores.bindings))
        self._wallet = Once(wallet, lambda: wallet_service(settings.wallet_backend, stores.wallet))
        self._tokens = Once(tokens, lambda: ConversationTokens.from_url(stores.handoff))
        self._review = Once(review, lambda: _review_store(stores.handoff))
        self._help_center = Once(
            help_center, lambda: _help_center(stores.handoff, settings.help_center.refresh_seconds)
        )
        self._watches = Once(watches, lambda: WatchStore.from_url(stores.handoff, settings.watches))
        self._link_safety = Once(link_safety, lambda: link_safety_service(settings.link_safety))

    @property
    def identity(self) -> IdentitySettings:
        return self.settings.identity

    @property
    def split_mnemonics(self) -> SplitMnemonics:
        """This process's parts of mnemonics split over messages (never shared: secrets)."""
        return self._split_mnemonics.get()

    @property
    def handoff(self) -> HandoffStore:
        """Tickets, the agent directory and the outbox (HANDOFF_DB_URL)."""
        return self._handoff.get()

    @property
    def bindings(self) -> BindingStore:
        """Binding codes and bound platform users (BINDING_DB_URL)."""
        return self._bindings.get()

    @property
    def wallet(self) -> WalletService:
        """The wallet port: the backend's HTTP API, else the SQL store (WALLET_DB_URL)."""
        return self._wallet.get()

    @property
    def tokens(self) -> ConversationTokens:
        """REST conversation tokens, in the handoff database beside the outbox."""
        return self._tokens.get()

    @property
    def review(self) -> ReviewStore:
        """The review's labels, agents' flags and audit log, in the handoff database."""
        return self._review.get()

    @property
    def help_center(self) -> HelpCenter:
        """The help-center articles this server answers from (in the handoff database)."""
        return self._help_center.get()

    @property
    def watches(self) -> WatchStore:
        """Users' watches on their pending transfers, in the handoff database."""
        return self._watches.get()

    @property
    def link_safety(self) -> LinkSafety:
        """Checks of pasted addresses, links and contacts: the local lists, then the service of
        LINK_SAFETY_URL when one is set."""
        return self._link_safety.get()

    def open(self) -> Services:
        """Builds every part now (blocking: tables are created), rather than on first use."""
        for part in (
            self._handoff,
            self._bindings,
            self._wallet,
            self._tokens,
            self._review,
            self._help_center,
            self._watches,
            self._link_safety,
        ):
            part.get()
        return self


def _review_store(url: str) -> ReviewStore:
    # Imported here: the review's labels check texts with the secret guard, which loads jieba.
    from bot.improvement.store import ReviewStore

    return ReviewStore.from_url(url)


def _help_center(url: str, refresh_seconds: float) -> HelpCenter:
    # Imported here: the search loads jieba, which only the servers that search need.
    from bot.help_center.library import HelpCenter
    from bot.help_center.store import ArticleStore

    return HelpCenter(ArticleStore.from_url(url), refresh_seconds)


def _held_parts() -> SplitMnemonics:
    # Imported here: the secret guard loads jieba, which the action server has no use for.
    from bot.secret_guard.split import SplitMnemonics

    return SplitMnemonics()


def use_services(blueprint: Blueprint) -> None:
    """Has the server of ``blueprint`` start its services before the blueprint's own listeners."""
    blueprint.listener("before_server_start")(start_services)


async def start_services(app: Sanic, _: Any) -> None:
    """Puts the server's ``Services`` on ``app.ctx.services``: those already there (a test's),
    else built from the environment; every step is idempotent, as every channel calls this."""
    # Imported here: the action server builds Services too, without Rasa or the secret guard.
    from bot.secret_guard.log_mask import mask_held_parts

    services: Services | None = getattr(app.ctx, "services", None)
    if services is None:
        services = Services(Settings.from_env())
    await asyncio.to_thread(services.open)
    mask_held_parts(services.split_mnemonics)
    adapt_rasa()
    app.ctx.services = services


def adapt_rasa() -> None:
    """Changes Rasa's classes in this process as a server's start does; idempotent."""
    # Imported here, as in start_services: the action server has no Rasa to change.
    from bot import sequential_graph, turn_stages
    from bot.dialogue import action_validation, flat_applied, flat_copy, flat_rules
    from bot.tracking import fail_loudly

    fail_loudly()
    action_validation.install()
    flat_rules.install()
    flat_copy.install()
    flat_applied.install()
    sequential_graph.install()
    turn_stages.install()


def services_of(app: Sanic) -> Services:
    """The services ``start_services`` put on the server."""
    services: Services = app.ctx.services
    return services
