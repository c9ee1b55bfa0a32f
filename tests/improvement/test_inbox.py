"""The review inbox lists what the assistant missed, grouped, in order, with its context.

Conversations are saved through the project's tracker store, as the servers save them, into a
temporary SQLite file and into PostgreSQL; one test talks to the running assistant (the session's served stack:
REST channel, secret guard, trained model, action server) and reads what it recorded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    Event,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import Engine

from bot.database import create_engine
from bot.handoff.store import HandoffStore
from bot.improvement.inbox import InboxRow, grouping_key, load_inbox
from bot.tracking import SupportTrackerStore
from tests.support.http import RestUser
from tests.support.stack import ServedStack

DOMAIN = Domain.from_yaml('version: "3.1"\nintents: [greet]')
START = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
PRIVATE_KEY_MARKER = "[已隐藏的私钥]"
LISTEN = "action_listen"

Save = Callable[[str, Sequence[Event]], None]


def user(
    text: str,
    minute: float,
    intent: str = "greet",
    confidence: float = 0.95,
    channel: str = "rest",
    rating: str | None = None,
) -> UserUttered:
    entities = [{"entity": "rating", "value": rating}] if rating is not None else []
    return UserUttered(
        text,
        {"name": intent, "confidence": confidence},
        entities,
        input_channel=channel,
        timestamp=(START + timedelta(minutes=minute)).timestamp(),
    )


def bot(text: str, minute: float, response: str | None = None) -> BotUttered:
    metadata = {"utter_action": response} if response else {}
    at = (START + timedelta(minutes=minute)).timestamp()
    return BotUttered(text, metadata=metadata, timestamp=at)


def action(name: str, minute: float) -> ActionExecuted:
    return ActionExecuted(name, timestamp=(START + timedelta(minutes=minute)).timestamp())


def answered(text: str, minute: float, reply: str = "好的", **parse: Any) -> list[Event]:
    """A user message the bot answered with one text."""
    return [
        user(text, minute, **parse),
        action("utter_x", minute),
        bot(reply, minute),
        action(LISTEN, minute),
    ]


def fallback(text: str, minute: float, **options: Any) -> list[Event]:
    """A message that fell back and got the clarification buttons."""
    return [
        user(text, minute, intent="nlu_fallback", confidence=0.3, **options),
        action("action_help_center", minute),
        bot("您是想问下面哪个问题吗？", minute, response="utter_clarify"),
        action(LISTEN, minute),
    ]


def handed_off(text: str, minute: float, intent: str = "request_human") -> list[Event]:
    return [
        user(text, minute, intent=intent, confidence=1.0),
        action("action_handoff", minute),
        bot("已为您转接人工客服", minute),
        ConversationPaused(timestamp=(START + timedelta(minutes=minute)).timestamp()),
        action(LISTEN, minute),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty tracker store: SQLite by default, PostgreSQL as in production."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    url: str = request.getfixturevalue("postgres").url("tracker")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS events"))
    engine.dispose()
    return url


@pytest.fixture
def save(database: str, run: Any) -> Save:
    """Saves a conversation of the given events through the project's tracker store."""
    store = SupportTrackerStore(DOMAIN, host=database)

    def saver(conversation_id: str, events: Sequence[Event]) -> None:
        tracker = DialogueStateTracker.from_events(conversation_id, list(events))
        run(store.save(tracker))

    return saver


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    """An engine on the store, as the console opens one."""
    opened = create_engine(database)
    yield opened
    opened.dispose()


def by_text(rows: list[InboxRow]) -> dict[str, InboxRow]:
    return {row.text: row for row in rows}


def test_each_reason_lists_the_message_the_bot_missed(save: Save, engine: Engine) -> None:
    save(
        "unclear",
        [
            *fallback("这玩意咋整", 1),
            user("/deny", 2, intent="deny", confidence=1.0),
            action("action_handoff", 2),
            bot("已为您转接人工客服", 2),
            ConversationPaused(timestamp=(START + timedelta(minutes=2)).timestamp()),
        ],
    )
    save("unsure", answered("币怎么没了", 3, intent="greet", confidence=0.12))
    save(
        "rated low",
        [
            *answered("我的币被盗了怎么办", 4),
            *answered("你好", 5),
            user('/rate{"rating":"1"}', 6, intent="rate", confidence=1.0, rating="1"),
            *answered("谢谢", 7),
        ],
    )
    save("rated high", [*answered("怎么备份助记词", 8), user("5分", 9, intent="rate", rating="5")])
    save(
        "flagged",
        [*answered("转账多久到账", 10), *answered("手续费多少", 11), *answered("再见", 13)],
    )
    # A ticket opened, then what the user told the human; a handoff refused (no pause): no ticket.
    save(
        "human",
        [
            *handed_off("帮我转人工", 14),
            user("在吗在吗", 15, intent="nlu_fallback", confidence=0.3),
        ],
    )
    save(
        "busy",
        [
            user("我要人工", 16, intent="request_human", confidence=1.0),
            action("action_handoff", 16),
            bot("现在排队的人太多", 16),
        ],
    )
    save("fine", answered("支持哪些币", 17, intent="supported_coins", confidence=0.99))

    flags = [("flagged", START + timedelta(minutes=12)), ("nowhere", START)]
    rows, total = load_inbox(engine, flags=flags)

    reasons = {row.text: row.reasons for row in rows}
    assert reasons == {
        "这玩意咋整": ("clarification", "fallback", "handoff", "none_of_these"),
        "币怎么没了": ("fallback",),
        "我的币被盗了怎么办": ("low_rating",),
        "你好": ("low_rating",),
        "手续费多少": ("flagged",),
        "帮我转人工": ("handoff",),
    }
    assert total == len(rows)
    unsure = by_text(rows)["币怎么没了"]
    assert (unsure.intent, unsure.confidence, unsure.channel) == ("greet", 0.12, "rest")
    assert unsure.conversation_id == "unsure"


def test_near_duplicates_are_one_row_with_their_count(save: Save, engine: Engine) -> None:
    texts = [
        "轉賬沒到賬怎麼辦",  # traditional
        "转账没到账怎么办？？？",
        "转账 没到账, 怎么办",
        "转账没到账怎么办啊",  # one character more: bigram similarity 7/8
        "ＵＳＤＴ转账没到账怎么办",
        "usdt转账没到账怎么办",
        "怎么改登录密码",
    ]
    save("dups", [event for i, text in enumerate(texts) for event in fallback(text, i)])

    rows, total = load_inbox(engine)

    assert grouping_key("轉賬 沒到賬！") == grouping_key("转账没到账") == "转账没到账"
    assert grouping_key("ＵＳＤＴ转账") == "usdt转账"
    assert total == 3
    counts = {row.key: row.count for row in rows}
    assert counts == {"转账没到账怎么办": 4, "usdt转账没到账怎么办": 2, "怎么改登录密码": 1}
    first = next(row for row in rows if row.key == "转账没到账怎么办")
    assert first.text == "转账没到账怎么办啊"
    assert first.examples == (
        "转账没到账怎么办啊",
        "转账 没到账, 怎么办",
        "转账没到账怎么办？？？",
        "轉賬沒到賬怎麼辦",
    )
    assert first.newest_at == START + timedelta(minutes=3)
    # Newest first.
    assert [row.key for row in rows] == [
        "怎么改登录密码",
        "usdt转账没到账怎么办",
        "转账没到账怎么办",
    ]


def test_examples_are_at_most_five_distinct_texts(save: Save, engine: Engine) -> None:
    texts = [
        "提币一直失败",
        "提币一直失败！",
        "提币一直失败！",
        "提币 一直失败",
        "提币一直失败。",
        "提币一直失败啦",
        "提幣一直失敗",
    ]
    save("many", [event for i, text in enumerate(texts) for event in fallback(text, i)])

    (row,), total = load_inbox(engine)

    assert total == 1 and row.count == 7
    assert row.examples == (
        "提幣一直失敗",
        "提币一直失败啦",
        "提币一直失败。",
        "提币 一直失败",
        "提币一直失败！",
    )


def test_hidden_keys_and_their_near_duplicates_are_left_out(save: Save, engine: Engine) -> None:
    texts = ["转账没到账怎么办", "转账没到账怎么办呀", "怎么改登录密码", "忘记密码了"]
    save("hide", [event for i, text in enumerate(texts) for event in fallback(text, i)])

    rows, total = load_inbox(engine, hidden_keys={"转账没到账怎么办", "忘记密码了"})

    assert [row.text for row in rows] == ["怎么改登录密码"] and total == 1


def test_order_is_newest_first_then_most_frequent(save: Save, engine: Engine) -> None:
    save("a", [*fallback("一个问题", 5), *fallback("二个问题吗", 1)])
    save("b", [*fallback("二个问题吗", 5), *fallback("三个问题呢", 9)])

    rows, _ = load_inbox(engine)

    assert [(row.text, row.count) for row in rows] == [
        ("三个问题呢", 1),
        ("二个问题吗", 2),
        ("一个问题", 1),
    ]


def test_context_shows_two_turns_before_and_after(save: Save, engine: Engine) -> None:
    save(
        "talk",
        [
            *answered("你好", 1, reply="您好，请问有什么可以帮您？"),
            *fallback("那个东西不见了", 2),
            user("/supported_coins", 3, intent="supported_coins", confidence=1.0),
            bot("IM钱包支持这些链和资产", 3),
            *answered("谢谢", 4, reply="不客气"),
        ],
    )

    (row,), _ = load_inbox(engine)

    assert row.text == "那个东西不见了"
    assert [(turn.speaker, turn.text) for turn in row.context] == [
        ("user", "你好"),
        ("bot", "您好，请问有什么可以帮您？"),
        ("bot", "您是想问下面哪个问题吗？"),
        ("user", "/supported_coins"),
    ]


def test_secret_markers_stay_as_stored(save: Save, engine: Engine) -> None:
    stored = f"我的私钥是{PRIVATE_KEY_MARKER}，币怎么转出来"
    save("secret", fallback(stored, 1))

    (row,), _ = load_inbox(engine)

    assert row.text == stored and row.examples == (stored,)


def test_pages_and_total(save: Save, engine: Engine) -> None:
    texts = [f"问题{chr(0x4E00 + i * 7)}{chr(0x4F00 + i * 11)}" for i in range(7)]
    save("paged", [event for i, text in enumerate(texts) for event in fallback(text, i)])

    first, total = load_inbox(engine, limit=3)
    last, again = load_inbox(engine, limit=3, offset=6)
    beyond, _ = load_inbox(engine, limit=3, offset=7)

    assert total == again == 7
    assert [row.text for row in first] == texts[::-1][:3]
    assert [row.text for row in last] == [texts[0]]
    assert beyond == []


def test_since_leaves_older_messages_out(save: Save, engine: Engine) -> None:
    save(
        "old and new",
        [*fallback("老问题在这", 1), *answered("你好", 30), *fallback("新问题在这", 60)],
    )

    rows, total = load_inbox(engine, since=START + timedelta(minutes=30))

    assert [row.text for row in rows] == ["新问题在这"] and total == 1
    assert [turn.text for turn in rows[0].context][:2] == ["你好", "好的"]


def test_an_empty_store_has_an_empty_inbox(engine: Engine) -> None:
    assert load_inbox(engine) == ([], 0)


def test_ten_thousand_messages_are_grouped_quickly(save: Save, engine: Engine) -> None:
    rng = random.Random(16)
    words = [chr(0x4E00 + i) for i in range(3000)]
    phrases = ["".join(rng.choices(words, k=8)) for _ in range(2000)]
    for conversation in range(20):
        events: list[Event] = []
        for i in range(500):
            text = phrases[(conversation * 500 + i) % len(phrases)]
            events.append(
                user(
                    text + "？" * (i % 2),
                    conversation + i / 1000,
                    intent="nlu_fallback",
                    confidence=0.3,
                )
            )
        save(f"load-{conversation}", events)

    started = time.perf_counter()
    rows, total = load_inbox(engine, limit=50)
    took = time.perf_counter() - started

    assert total == 2000 and sum(1 for row in rows if row.count == 5) == 50
    assert took < 20, f"{took:.1f} s for 10,000 messages"


def test_what_the_running_assistant_records_is_listed(served: ServedStack) -> None:
    """Through the REST channel: a fallback, 都不是, a request for a human, a low rating, and a
    private key the guard hides in a message an agent flags."""
    unclear, human, rater, secret = (RestUser(served.http) for _ in range(4))
    # Other tests' messages share the stack's store: only what is said from now on counts.
    started = datetime.now(timezone.utc)
    unclear_text = "怎么回事"
    unclear.say(unclear_text)
    unclear.say("/deny")
    human.say("帮我转人工")
    rater.say("支持哪些币")
    rater.say('/rate{"rating":"2"}')
    key = random.Random(16).randbytes(32).hex()
    secret.say(f"我的私钥是{key}")
    flagged_at = datetime.now(timezone.utc)
    tickets = HandoffStore.from_url(served.handoff_url).tickets
    for conversation in (unclear, human):
        tickets.cancel(conversation.sender)

    engine = create_engine(served.env()["TRACKER_DB_URL"])
    try:
        rows, _ = load_inbox(
            engine, flags=[(secret.sender, flagged_at)], since=started, limit=10_000
        )
    finally:
        engine.dispose()
    mine = {
        row.conversation_id: row
        for row in rows
        if row.conversation_id in {c.sender for c in (unclear, human, rater, secret)}
    }

    assert mine[unclear.sender].text == unclear_text
    assert mine[unclear.sender].reasons == ("clarification", "fallback", "handoff", "none_of_these")
    assert mine[unclear.sender].intent == "nlu_fallback"
    assert mine[unclear.sender].channel == "rest"
    context = [(turn.speaker, turn.text) for turn in mine[unclear.sender].context]
    assert context[0][0] == "bot" and "您是想问" in context[0][1]
    assert context[1] == ("user", "/deny")
    assert mine[human.sender].text == "帮我转人工"
    assert mine[human.sender].reasons == ("handoff",)
    assert mine[rater.sender].text == "支持哪些币"
    assert mine[rater.sender].reasons == ("low_rating",)
    flagged = mine[secret.sender]
    assert flagged.reasons == ("flagged",)
    assert flagged.text == f"我的私钥是{PRIVATE_KEY_MARKER}"
    shown = " ".join([flagged.text, *flagged.examples, *(t.text for t in flagged.context)])
    assert key not in shown and key[:16] not in shown
    assert len(mine) == 4
