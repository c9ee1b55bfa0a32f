"""Secrets users paste are hidden in every channel and leave no trace in any file; a client
cannot claim an account in any channel.

A served stack of its own serves REST, the widget, Telegram and WeChat (the fake platforms,
WeChat in safe mode) and the agent console, with every log line of both servers in its work
directory. Each sample secret goes through each channel from a user with a proven identity, the
forms that got past the guard once too (full-width, misspelt, 11 of 12 words, a key in groups);
one goes to an agent during a handoff; mnemonics split over two REST messages hide the first one
afterwards. The last test stops the servers and scans the raw bytes of every file.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mnemonic import Mnemonic

from bot.channels.binding import BindingStore
from bot.channels.widget import conversation_of
from bot.identity import IDENTITY_FIELD, sign_identity
from bot.wallet import demo_data
from scripts.local_stack import widget_token
from scripts.secret_samples import (
    SAMPLES,
    Hit,
    Sample,
    english_fragments,
    entropy,
    key_fragments,
    runs,
    scan,
    shown,
    sqlite_rows_with,
    traces_of,
    wide,
)
from tests.support.fakes import FakePlatforms
from tests.support.http import REST_PATH, AgentConsole, WidgetUser, texts
from tests.support.platform_users import (
    TelegramUser,
    WeChatUser,
    fresh_id,
    private_message,
    update,
)
from tests.support.stack import ALWAYS_OPEN, ServedStack, running_stack

IDENTITY_SECRET = "secrets-test-identity-secret"
CHANNELS = ("rest", "widget", "telegram", "wechat")
# The warning's words in both scripts: a user who wrote traditional Chinese reads it so.
WARNING = re.compile("已被隐藏|已被隱藏")
MARKERS_MNEMONIC = "[已隐藏的助记词]"
ALICE_CONFIRMED = "25 个确认"  # Alice's confirmed 500 USDT transfer, as the bot states it
ALICE_AMOUNT = "500 USDT"
NOT_FOUND = "没有找到这笔交易"
CONTROL = Sample(
    "own_transfer_hash", "control", f"{demo_data.TX_CONFIRMED} 没到账", (demo_data.TX_CONFIRMED,)
)
REPLY_SECONDS = 30


def typed_fragments(words: list[str], separator: str) -> tuple[str, ...]:
    """Any four words in a row, as they were typed."""
    return tuple(separator.join(run) for run in runs(words, 4))


def bypass_samples() -> list[Sample]:
    """The forms an attacker once got past the guard, one message each."""
    english = Mnemonic("english")
    ascii_words = english.to_mnemonic(entropy("full-width", 16))
    wide_words = [wide(word) for word in ascii_words.split()]
    misspelt = english.to_mnemonic(entropy("misspelt", 16)).split()
    misspelt[5] = misspelt[5][:-1] + ("q" if misspelt[5][-1] != "q" else "z")
    eleven = english.to_mnemonic(entropy("eleven", 16)).split()[:11]
    key = entropy("grouped-hex-key", 32).hex()
    groups = [key[i : i + 8] for i in range(0, 64, 8)]
    return [
        Sample(
            "full_width_mnemonic",
            "mnemonic",
            f"我的助记词是：{chr(0x3000).join(wide_words)}，帮我看看",
            # As typed, and as folded: no store may keep the folded text either.
            (*typed_fragments(wide_words, chr(0x3000)), *english_fragments(ascii_words)),
        ),
        Sample(
            "misspelt_mnemonic",
            "mnemonic",
            " ".join(misspelt),
            english_fragments(" ".join(misspelt)),
        ),
        Sample("eleven_of_twelve", "mnemonic", "\n".join(eleven), typed_fragments(eleven, "\n")),
        Sample(
            "grouped_hex_key",
            "private_key",
            f"私钥 0x{' '.join(groups)}",
            (*key_fragments(key), *(" ".join(pair) for pair in runs(groups, 2))),
        ),
    ]


BYPASSES = bypass_samples()
# Mnemonics split over two REST messages: the words of each message, and the texts.
SPLIT_MNEMONICS = {
    "split_english_6_6": (
        Mnemonic("english").to_mnemonic(entropy("split-english", 16)).split(),
        ["前6个：{}", "后6个：{}"],
        6,
    ),
    "split_chinese_8_4": (
        Mnemonic("chinese_simplified").to_mnemonic(entropy("split-chinese", 16)).split(),
        ["{}", "{}"],
        8,
    ),
}
SPLITS = [
    Sample(name, "mnemonic", "", typed_fragments(words, " "))
    for name, (words, _, _) in SPLIT_MNEMONICS.items()
]


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, platforms: FakePlatforms
) -> Iterator[ServedStack]:
    """Every log line of both servers in the work directory; the last test stops them."""
    with running_stack(
        tmp_path_factory.mktemp("secrets"),
        identity_secret=IDENTITY_SECRET,
        settings={
            "SUPPORT_HOURS": ALWAYS_OPEN,
            # One user per channel sends every sample: more than a person's usual burst.
            "RATE_LIMIT_BURST": "100",
            "RATE_LIMIT_PER_MINUTE": "1000",
            # Every log line reaches the file at once, whatever way a server stops.
            "PYTHONUNBUFFERED": "1",
            # Safe mode: outside development a plaintext WeChat channel binds nobody.
            **platforms.env(aes=True),
        },
        debug=True,
    ) as local:
        yield local


# --- the users of each channel ---------------------------------------------------------------


def stored_user_texts(stack: ServedStack, sender_id: str) -> list[str]:
    """The texts of the user messages in the tracker store, oldest first."""
    with sqlite3.connect(stack.workdir / "tracker.db") as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id",
            (sender_id,),
        ).fetchall()
    return [json.loads(row[0]).get("text") or "" for row in rows]


def widget_say(stack: ServedStack, account_id: str, payload: dict[str, Any]) -> list[str]:
    """Connects with ``account_id``'s token, emits ``payload``; the bot's texts until it is quiet."""

    async def scenario() -> list[str]:
        widget = WidgetUser(stack.base_url)
        assert await widget.open(widget_token(account_id), timeout=REPLY_SECONDS)
        try:
            await widget.client.emit("user_uttered", payload)
            return [await widget.text(REPLY_SECONDS), *await widget.quiet()]
        finally:
            await widget.close()

    return asyncio.run(scenario())


@dataclass
class Outcome:
    """What a user saw after one message, and the text stored for it."""

    replies: list[str]
    stored: str


@dataclass
class Users:
    """One proven Alice per channel; each sample is sent once and its outcome remembered."""

    stack: ServedStack
    platforms: FakePlatforms
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    _telegram: TelegramUser | None = None
    _wechat: WeChatUser | None = None

    @property
    def rest_sender(self) -> str:
        return "secrets-rest-alice"

    def rest_say(self, text: str, sender: str | None = None) -> list[str]:
        """REST is anonymous: its secrets are hidden without any look-up."""
        body = {"sender": sender or self.rest_sender, "message": text}
        answer = self.stack.http.post(REST_PATH, json=body)
        assert answer.status == 200, answer
        return texts(answer.json())

    @property
    def binding_url(self) -> str:
        return self.stack.env()["BINDING_DB_URL"]

    @property
    def telegram(self) -> TelegramUser:
        if self._telegram is None:
            self._telegram = TelegramUser(self.stack.http, self.platforms)
            self._telegram.bind(self.binding_url)
        return self._telegram

    @property
    def wechat(self) -> WeChatUser:
        if self._wechat is None:
            user = WeChatUser(
                self.stack.http, self.platforms, "oSecretsAlice0000000000001", aes=True
            )
            code = BindingStore.from_url(self.binding_url).issue_code(
                demo_data.ALICE, timedelta(minutes=10)
            )
            assert any("绑定成功" in text for text in user.says(f"绑定 {code}"))
            self._wechat = user
        return self._wechat

    def sender(self, channel: str) -> str:
        if channel == "rest":
            return self.rest_sender
        if channel == "widget":
            return conversation_of(demo_data.ALICE, IDENTITY_SECRET.encode())
        return self.telegram.sender_id if channel == "telegram" else self.wechat.sender_id

    def say(self, channel: str, text: str) -> list[str]:
        if channel == "rest":
            return self.rest_say(text)
        if channel == "widget":
            return widget_say(self.stack, demo_data.ALICE, {"message": text})
        if channel == "telegram":
            return self.telegram.say(text)
        return self.wechat.says(text)

    def send(self, channel: str, sample: Sample) -> Outcome:
        key = (channel, sample.name)
        if key not in self.outcomes:
            replies = self.say(channel, sample.message)
            stored = stored_user_texts(self.stack, self.sender(channel))
            self.outcomes[key] = Outcome(replies, stored[-1] if stored else "")
        return self.outcomes[key]


@pytest.fixture(scope="module")
def users(stack: ServedStack, platforms: FakePlatforms) -> Users:
    return Users(stack, platforms)


# --- every sample through every channel ------------------------------------------------------


@pytest.mark.parametrize("sample", [*SAMPLES, *BYPASSES], ids=lambda sample: sample.name)
@pytest.mark.parametrize("channel", CHANNELS)
def test_a_secret_is_hidden_and_the_user_warned(users: Users, channel: str, sample: Sample) -> None:
    outcome = users.send(channel, sample)
    # Booleans, so that a failure never prints a secret; shown() stars out any trace.
    replies = [shown(reply) for reply in outcome.replies]
    warned = any(WARNING.search(reply) for reply in outcome.replies)
    assert warned, replies
    echoed = any(sample.traced_in(reply) for reply in outcome.replies)
    assert not echoed, f"the bot echoed the {sample.kind}: {replies}"
    marked = sample.marker in outcome.stored
    assert marked, f"stored user text: {shown(outcome.stored)!r}"
    stored = sample.traced_in(outcome.stored)
    assert not stored, f"{sample.kind} stored in the tracker: {shown(outcome.stored)!r}"


@dataclass
class Handoff:
    """A conversation an agent owns, in which the user sent a mnemonic."""

    sample: Sample
    replies: list[str]
    ticket: dict[str, Any]
    queue: dict[str, Any]


@pytest.fixture(scope="module")
def handoff(stack: ServedStack, users: Users) -> Handoff:
    sender = "secrets-handoff-alice"
    assert any("转接人工客服" in text for text in users.rest_say("转人工", sender))
    console = AgentConsole(stack.http)
    ticket_id = console.ticket_of(sender)["ticket_id"]
    assert console.post(f"/tickets/{ticket_id}/claim")[0] == 200
    sample = SAMPLES[0]
    replies = users.rest_say(sample.message, sender)
    return Handoff(sample, replies, console.get(f"/tickets/{ticket_id}"), console.get("/queue"))


def test_during_a_handoff_the_agent_sees_only_the_marker(handoff: Handoff) -> None:
    warned = any(WARNING.search(reply) for reply in handoff.replies)
    assert warned, [shown(reply) for reply in handoff.replies]
    user_lines = [line["text"] for line in handoff.ticket["transcript"] if line["role"] == "user"]
    last = user_lines[-1]
    assert last == "[已隐藏的助记词]", shown(last)
    assert handoff.ticket["ticket"]["agent"] == "li"  # the agent still owns the conversation
    for view in (handoff.ticket, handoff.queue):
        for ensure_ascii in (True, False):
            traced = handoff.sample.traced_in(json.dumps(view, ensure_ascii=ensure_ascii))
            assert not traced, "the agent console shows the mnemonic"


@dataclass
class Split:
    """Two REST messages of one mnemonic: the replies to each, the stored texts after each."""

    replies: list[list[str]]
    stored: list[list[str]]


@pytest.fixture(scope="module")
def splits(users: Users) -> dict[str, Split]:
    outcomes = {}
    for name, (words, templates, first) in SPLIT_MNEMONICS.items():
        sender = f"secrets-{name.replace('_', '-')}"
        split = Split([], [])
        for template, part in zip(templates, (words[:first], words[first:]), strict=True):
            split.replies.append(users.rest_say(template.format(" ".join(part)), sender))
            split.stored.append(stored_user_texts(users.stack, sender))
        outcomes[name] = split
    return outcomes


@pytest.mark.parametrize("name", SPLIT_MNEMONICS)
def test_a_mnemonic_split_over_two_messages_is_hidden_in_both(
    splits: dict[str, Split], name: str
) -> None:
    split, sample = splits[name], next(s for s in SPLITS if s.name == name)
    words, templates, size = SPLIT_MNEMONICS[name]
    first, second = split.replies
    assert not any(WARNING.search(reply) for reply in first), "the first part alone is ordinary"
    ordinary = split.stored[0] == [templates[0].format(" ".join(words[:size]))]
    assert ordinary, "the first part is stored as sent until the second arrives"
    assert any(WARNING.search(reply) for reply in second), [shown(r, SPLITS) for r in second]
    assert split.stored[1] == [template.format(MARKERS_MNEMONIC) for template in templates]
    for replies in split.replies:
        echoed = any(sample.traced_in(reply) for reply in replies)
        assert not echoed


@pytest.fixture(scope="module")
def control(users: Users) -> dict[str, Outcome]:
    """Alice, proven in the widget, asks about her own transfer by its hash, with words and bare."""
    outcomes: dict[str, Outcome] = {}
    for name, text in (("with words", CONTROL.message), ("bare", demo_data.TX_CONFIRMED)):
        replies = users.say("widget", text)
        outcomes[name] = Outcome(
            replies, stored_user_texts(users.stack, users.sender("widget"))[-1]
        )
    return outcomes


def test_the_users_own_transaction_hash_is_kept_and_looked_up(control: dict[str, Outcome]) -> None:
    for outcome in control.values():
        assert demo_data.TX_CONFIRMED in outcome.stored
        assert not any(WARNING.search(reply) for reply in outcome.replies), outcome.replies
    assert ALICE_CONFIRMED in " ".join(control["with words"].replies)


def test_the_users_own_bare_transaction_hash_is_looked_up(control: dict[str, Outcome]) -> None:
    assert ALICE_CONFIRMED in " ".join(control["bare"].replies), control["bare"].replies


# --- identity claims -------------------------------------------------------------------------
# REST: tests/channels/test_rest.py::test_a_client_cannot_claim_the_shell_channel_or_an_account.
# The claims below are genuinely signed for the conversation they are sent in: only a channel
# that ignored everything its clients send about identity passes.

QUESTION = f"{demo_data.TX_CONFIRMED} 没到账"


def events_of(stack: ServedStack, sender_id: str) -> int:
    with sqlite3.connect(stack.workdir / "tracker.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM events WHERE sender_id = ?", (sender_id,)
        ).fetchone()
    return int(count)


def test_a_widget_client_cannot_claim_another_account(stack: ServedStack) -> None:
    alice = conversation_of(demo_data.ALICE, IDENTITY_SECRET.encode())
    bob = conversation_of(demo_data.BOB, IDENTITY_SECRET.encode())
    claim = sign_identity(IDENTITY_SECRET.encode(), demo_data.ALICE, alice)
    alice_events = events_of(stack, alice)
    replies = widget_say(
        stack,
        demo_data.BOB,
        {
            "message": QUESTION,
            "metadata": {IDENTITY_FIELD: claim, "account_id": demo_data.ALICE},
            "sender": alice,
            "session_id": alice,
            IDENTITY_FIELD: claim,
        },
    )
    joined = " ".join(replies)
    assert ALICE_CONFIRMED not in joined and ALICE_AMOUNT not in joined, replies
    assert NOT_FOUND in joined, replies  # Bob's own look-up
    assert events_of(stack, alice) == alice_events
    assert stored_user_texts(stack, bob)[-1] == QUESTION


def test_a_telegram_client_cannot_claim_an_account(
    stack: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(stack.http, platforms)
    claim = sign_identity(IDENTITY_SECRET.encode(), demo_data.ALICE, user.sender_id)
    message = {
        **private_message(user.user_id, text=QUESTION),
        "metadata": {IDENTITY_FIELD: claim},
        IDENTITY_FIELD: claim,
        "account_id": demo_data.ALICE,
    }
    sent = user.send(update(message=message, metadata={IDENTITY_FIELD: claim}))
    joined = " ".join(m["text"] for m in sent)
    assert ALICE_CONFIRMED not in joined and ALICE_AMOUNT not in joined, joined
    assert "绑定" in joined, joined


def test_a_wechat_client_cannot_claim_an_account(
    stack: ServedStack, platforms: FakePlatforms
) -> None:
    user = WeChatUser(stack.http, platforms, "oSecretsClaimer00000000001", aes=True)
    claim = json.dumps(sign_identity(IDENTITY_SECRET.encode(), demo_data.ALICE, user.sender_id))
    xml = user.xml(content=QUESTION, msg_id=fresh_id()).replace(
        "</xml>",
        f"<im_identity><![CDATA[{claim}]]></im_identity><AccountId>{demo_data.ALICE}</AccountId>"
        f"<metadata><im_identity><account_id>{demo_data.ALICE}</account_id></im_identity>"
        "</metadata></xml>",
    )
    before = len(platforms.texts(user.openid))
    reply = user.reply_of(user.deliver(xml))
    replies = [reply] if reply is not None else platforms.wait_for_texts(user.openid, before)
    joined = " ".join(replies)
    assert ALICE_CONFIRMED not in joined and ALICE_AMOUNT not in joined, joined
    assert "绑定" in joined, joined


# --- no trace in any file --------------------------------------------------------------------


def test_no_trace_of_any_secret_in_any_file(
    stack: ServedStack,
    users: Users,
    handoff: Handoff,
    control: dict[str, Outcome],
    splits: dict[str, Split],
) -> None:
    """Runs last: stops the servers, then reads every byte they wrote."""
    for channel in CHANNELS:
        for sample in [*SAMPLES, *BYPASSES]:
            users.send(channel, sample)  # already sent when the whole module runs
    stack.stop_all()
    files = sorted(p.name for p in stack.workdir.iterdir())
    for expected in ("tracker.db", "handoff.db", "bindings.db", "rasa.log", "actions.log"):
        assert expected in files, files

    hits = scan(stack.workdir, traces_of([*SAMPLES, *BYPASSES, *SPLITS, CONTROL]))
    control_files = {
        hit.path.name.removesuffix("-wal") for hit in hits if hit.trace.sample == CONTROL.name
    }
    # The scan reads the real bytes: the hash Alice sent is in the tracker store and in the
    # debug log, where every user message would be if it were not hidden first.
    assert {"tracker.db", "rasa.log"} <= control_files, control_files
    assert (stack.workdir / "actions.log").stat().st_size > 0

    leaks = [describe(hit, stack.workdir) for hit in hits if hit.trace.sample != CONTROL.name]
    assert not leaks, "secrets left traces:\n" + "\n".join(leaks)


def describe(hit: Hit, root: Path) -> str:
    line = hit.describe(root)
    if hit.path.suffix == ".db":
        rows = sqlite_rows_with(hit.path, hit.trace.needle)
        line += f"; live rows: {', '.join(rows) or 'none (a freed page or the journal)'}"
    return line
