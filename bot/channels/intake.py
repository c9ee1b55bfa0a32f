"""The door every user message passes before Rasa sees it, in every channel.

In order: the text is cleaned, an empty or over-long message and a sender writing too fast get a
polite reply and are not processed (``bot.channels.limits``), and secrets (mnemonics, private
keys, keystore files, passwords, verification codes) are replaced by markers such as
``[已隐藏的助记词]``. Only then does the message reach Rasa, so no secret reaches the tracker
store, the logs, the event broker, handoff transcripts or the agent console. The marker makes the
NLU recognise ``share_secret``, and the assistant warns the user at once. A 64-hex string (or a
Solana base58 one) whose words decide nothing may be a transaction hash or a private key: it is
kept only when the user's own wallet has a transfer with that hash. A mnemonic split over
consecutive messages (``bot.secret_guard.split``, held in this process's memory only) is hidden
when its last part arrives: that part before Rasa sees it, the earlier parts in the stored
conversation, under the conversation's lock before the turn runs.

The turn then runs under the conversation's lock (in Redis with several servers), the reply
guard included. A client that resends a message with the same ``message_id`` (its server died,
the answer was lost) gets the stored replies of the first delivery instead of a second turn. A
turn that fails (the tracker store or the lock store is down) is logged, counted and answered
with an apology, never with an empty conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from bot.channels.button_choice import button_choice
from bot.channels.limits import ADDRESS_TURNS, CLIENT_FIELD, clean
from bot.channels.metrics import INTAKE, REGISTRY, SECRET_GUARD, observe_turn
from bot.channels.responses import say
from bot.channels.turn_end import finish_turn, hand_back, resume_orphaned
from bot.handoff.live import live_recorder
from bot.identity import proven_owner, verified_account
from bot.secret_guard import Finding, SecretKind, find_secrets, redact
from bot.secret_guard.cues import load_cues
from bot.secret_guard.split import Completion
from bot.services import Services, services_of
from bot.tracking import begin_turn, hide_stored_text, peek_tracker, turn_tracker
from bot.wallet.errors import WalletError

logger = logging.getLogger(__name__)

EMPTY = "utter_empty_message"
TOO_LONG = "utter_message_too_long"
SLOW_DOWN = "utter_slow_down"
SECRET_WARNING = "utter_secret_shared"
TRY_AGAIN = "utter_try_again_later"
LOOKUP_SECONDS = 2.0
# Rasa checks a busy conversation lock once a second; a waiting message need not wait that long.
LOCK_POLL_SECONDS = 0.05


async def take_turn(
    app: Sanic, message: UserMessage, resendable: bool = False, address: str | None = None
) -> None:
    """Admits ``message``, has Rasa process it and makes sure the turn was answered.

    ``resendable``: the client chose ``message.message_id`` and resends it when unsure.
    ``address``: the client's address, limited too where the channel knows it.
    """
    agent: Agent = app.ctx.agent
    services = services_of(app)
    sender_id, output, channel = message.sender_id, message.output_channel, message.input_channel
    with REGISTRY.timed(INTAKE):
        text = clean(message.text or "")
        refusal = await refused(services, text, sender_id, address)
    if refusal is not None:
        name, values = refusal
        if name:
            await say(agent, output, sender_id, name, channel or "", **values)
        return
    with REGISTRY.timed(SECRET_GUARD):
        findings = await confirmed_secrets(services, text, message.metadata, sender_id)
        if findings:
            text = redact(text, findings)
        message_id = message.message_id or uuid.uuid4().hex
        split = services.split_mnemonics.see(sender_id, message_id, text)
        if split is not None:
            findings = [*findings, split.finding]
            text = redact(text, [split.finding])
    if findings:
        logger.warning(
            "hid %s in conversation %s%s",
            ", ".join(f.kind.value for f in findings),
            sender_id,
            f" (split over {len(split.earlier) + 1} messages)" if split else "",
        )
    admitted = UserMessage(
        text,
        output,
        sender_id,
        input_channel=channel,
        message_id=message_id,
        metadata=with_client(services, message.metadata, address),
    )
    try:
        store = services.handoff
        # The lock Rasa's agent.handle_message takes, held for the reply guard too.
        async with agent.lock_store.lock(sender_id, wait_time_in_seconds=LOCK_POLL_SECONDS):
            if resendable and await replayed(agent, admitted):
                return
            if split is not None:
                await hide_earlier_parts(agent, sender_id, split)
            # "2" right after the bot's buttons means the second button, in every channel.
            admitted.text = await button_choice(agent, sender_id, admitted.text or "")
            await resume_orphaned(agent, store.tickets, sender_id)
            begin_turn(agent, sender_id)
            await observe_turn(agent.processor.handle_message, admitted, agent, REGISTRY, store)
            owner = proven_owner(message.metadata, sender_id, services.identity)
            left_queue = await finish_turn(
                agent,
                store.tickets,
                services.settings.hours,
                sender_id,
                output,
                owner,
                live_recorder(app),
            )
            if findings:
                await warn_during_handoff(agent, sender_id, output)
        if left_queue:
            await hand_back(agent, app.ctx.input_channels, store.outbox, sender_id)
    except Exception as error:
        reason = failure_reason(error)
        logger.exception("turn failed in conversation %s (%s)", sender_id, reason)
        REGISTRY.record_failure(reason)
        await say(agent, output, sender_id, TRY_AGAIN, channel or "")


def with_client(
    services: Services, metadata: dict[str, Any] | None, address: str | None
) -> dict[str, Any] | None:
    """``metadata`` with a keyed hash of a limited client's address, for the actions' limits.

    Actions limit handoffs and complaints per client (``CLIENT_FIELD``); the address itself is
    never stored in the conversation.
    """
    if not address or services.settings.addresses.is_exempt(address):
        return metadata
    secret = services.identity.secret or b"im-client"
    client = hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()[:24]
    return {**(metadata or {}), CLIENT_FIELD: client}


async def refused(
    services: Services, text: str, sender_id: str, address: str | None
) -> tuple[str, dict[str, Any]] | None:
    """The polite reply for a message not to process ("" for none); None to process it.

    Every message counts against the rates, also one refused as empty or too long: a flood of
    those gets one polite reply too, then silence.
    """
    limits = services.limits
    admission = await limits.sender_admitted(sender_id)
    if admission.admitted:
        admission = await limits.address_admitted("turn-address", address, ADDRESS_TURNS)
    if not admission.admitted:
        logger.warning("rate limit reached in conversation %s", sender_id)
        return (SLOW_DOWN if admission.first_refusal else ""), {}
    max_chars = services.settings.intake.max_chars
    if not text:
        return EMPTY, {}
    if len(text) > max_chars:
        return TOO_LONG, {"max_chars": max_chars}
    return None


def failure_reason(error: Exception) -> str:
    """The label of a failed turn in im_failed_turns_total."""
    module = type(error).__module__
    if module.startswith("sqlalchemy"):
        return "tracker_store"
    if module.startswith("redis") or type(error).__name__ == "LockError":
        return "lock_store"
    return "error"


async def confirmed_secrets(
    services: Services, text: str, metadata: Mapping[str, Any] | None, sender_id: str
) -> list[Finding]:
    """The secrets in ``text``; an undecided hash-like string unless it is the user's transfer."""
    findings = find_secrets(text)
    if not any(finding.uncertain for finding in findings):
        return findings
    account_id = verified_account(metadata, sender_id, services.identity)
    kept = []
    for finding in findings:
        if finding.uncertain and account_id is not None:
            candidate = finding.candidate(text)
            if await is_own_transfer(services, account_id, candidate, sender_id):
                continue
        kept.append(finding)
    return kept


async def is_own_transfer(
    services: Services, account_id: str, tx_hash: str, sender_id: str
) -> bool:
    """Whether the account has a transfer with this hash; False when the wallet cannot say."""
    try:
        wallet = services.wallet
        await asyncio.wait_for(
            asyncio.to_thread(wallet.transaction, account_id, tx_hash), LOOKUP_SECONDS
        )
    except (WalletError, asyncio.TimeoutError) as error:
        logger.info("hash-like string in %s kept hidden: %s", sender_id, type(error).__name__)
        return False
    return True


async def replayed(agent: Agent, message: UserMessage) -> bool:
    """Sends the replies a resent message got the first time; False if it is new."""
    tracker = await peek_tracker(agent, message.sender_id)
    replies = earlier_replies(tracker, message.message_id) if tracker is not None else None
    if replies is None:
        return False
    logger.info("message resent in conversation %s: replayed its replies", message.sender_id)
    for reply in replies:
        await message.output_channel.send_response(message.sender_id, reply)
    return True


def earlier_replies(tracker: DialogueStateTracker, message_id: str) -> list[dict[str, Any]] | None:
    """The bot's messages after the user message ``message_id``; None if there is none."""
    events = list(tracker.events)
    for index, event in enumerate(events):
        if isinstance(event, UserUttered) and event.message_id == message_id:
            replies = []
            for later in events[index + 1 :]:
                if isinstance(later, UserUttered):
                    break
                if isinstance(later, BotUttered):
                    replies.append(
                        {"text": later.text, **{k: v for k, v in later.data.items() if v}}
                    )
            return replies
    return None


async def hide_earlier_parts(agent: Agent, sender_id: str, split: Completion) -> None:
    """Replaces the earlier parts of a split mnemonic by the marker where they were stored."""
    marker = load_cues().markers[SecretKind.MNEMONIC]
    for part in split.earlier:
        await hide_stored_text(agent, sender_id, part.message_id, part.text, marker)


async def warn_during_handoff(agent: Agent, sender_id: str, output: OutputChannel) -> None:
    """A human owns the conversation and the bot is silent, but a secret still gets the warning."""
    tracker = await turn_tracker(agent, sender_id)
    if tracker is not None and tracker.is_paused():
        await agent.execute_action(sender_id, SECRET_WARNING, output, policy=None, confidence=None)
