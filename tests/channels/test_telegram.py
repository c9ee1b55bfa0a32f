"""The Telegram channel against the fake Bot API (tests/support/fakes.py), on the served stack.
Updates have the shapes of https://core.telegram.org/bots/api#update.

A flood of updates meets the default rate limits on a Rasa server in process (the served stack
has none); what a restart must not forget is checked across one restart of the served stack.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.channels.binding import EVERYONE, PER_USER
from bot.channels.deliveries import DeliveryStore
from bot.channels.telegram.__main__ import set_webhook
from bot.channels.telegram.buttons import ButtonPayloads
from bot.channels.telegram.channel import TelegramSettings
from bot.wallet import demo_data
from scripts.local_stack import LocalStack
from tests.support.fakes import TELEGRAM_SECRET, TELEGRAM_TOKEN, FakePlatforms
from tests.support.hostile import LogWindow
from tests.support.http import AgentConsole
from tests.support.platform_users import (
    TelegramUser,
    fresh_id,
    issue_code,
    person,
    private_message,
    update,
)
from tests.support.stack import InProcessStack, ServedStack, empty_queue, running_stack

CONFIRMED_STATE = "25 个确认"
WRONG = "绑定码不正确"
TOO_MANY = "错误次数太多"
SLOW_DOWN = "您发得有点快"
UNSUPPORTED = "只能看懂文字"
STICKER = {
    "file_id": "CAACAgIAAxkBAAEBQ2Zl",
    "file_unique_id": "AgADsQADVp29Cg",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
    "emoji": "👍",
}


@pytest.fixture(scope="module")
def limited(
    tmp_path_factory: pytest.TempPathFactory, platforms: FakePlatforms
) -> Iterator[InProcessStack]:
    """A Rasa server in process with the default rate limits; the channel answers by itself."""
    with running_stack(
        tmp_path_factory.mktemp("telegram-limits"),
        in_process=True,
        actions=False,
        agent=None,
        settings=platforms.env(),
    ) as local:
        yield local


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


def binding_url(stack: LocalStack) -> str:
    return stack.env()["BINDING_DB_URL"]


def events_in_tracker(stack: LocalStack, sender_id: str) -> int:
    with sqlite3.connect(stack.workdir / "tracker.db") as db:
        return int(
            db.execute("SELECT count(*) FROM events WHERE sender_id = ?", (sender_id,)).fetchone()[
                0
            ]
        )


def wrong_code(code: str) -> str:
    """A well-formed code that is not ``code``."""
    return "ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ" else "YYYY-YYYY"


def clear_binding_failures(stack: LocalStack) -> None:
    """Forgets every wrong code, as the window passing would, for the tests that follow."""
    with sqlite3.connect(stack.workdir / "bindings.db") as db:
        db.execute("DELETE FROM channel_binding_failures")


def test_a_text_message_is_answered_in_the_private_chat(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(served.http, platforms)
    sent = user.send(update(message=private_message(user.user_id, text="你好")))
    assert sent and "您好，我是IM钱包智能客服" in sent[0]["text"]
    assert all(m["chat_id"] == user.user_id and "parse_mode" not in m for m in sent)
    assert platforms.wrong_token_calls == 0
    assert events_in_tracker(served, user.sender_id) > 0


def test_start_gets_the_welcome(served: ServedStack, platforms: FakePlatforms) -> None:
    user = TelegramUser(served.http, platforms)
    start = private_message(
        user.user_id, text="/start", entities=[{"offset": 0, "length": 6, "type": "bot_command"}]
    )
    sent = user.send(update(message=start))
    assert len(sent) == 1 and "欢迎关注IM钱包官方客服" in sent[0]["text"]


@pytest.mark.parametrize(
    "secret",
    [None, "", "forged-secret", TELEGRAM_SECRET + "x", TELEGRAM_SECRET.upper()],
)
def test_calls_without_the_secret_token_are_refused_without_effect(
    served: ServedStack, platforms: FakePlatforms, secret: str | None
) -> None:
    user = TelegramUser(served.http, platforms)
    body = update(message=private_message(user.user_id, text="你好"))
    assert user.post(raw(body), secret=secret).status == 403
    assert user.received() == []
    assert events_in_tracker(served, user.sender_id) == 0
    # Refused updates are not recorded: the genuine delivery is still processed.
    assert len(user.send(body)) == 1


def test_a_redelivered_update_is_processed_once(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(served.http, platforms)
    body = update(message=private_message(user.user_id, text="矿工费怎么算"))
    first = user.send(body)
    assert len(first) == 1 and "矿工费" in first[0]["text"]
    assert user.send(body) == []
    assert user.send(body) == []


def test_deliveries_and_wrong_codes_are_remembered_across_a_restart(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    """One restart of the served stack for both: a redelivered update is still processed once,
    and the wrong codes sent before it still count."""
    user = TelegramUser(served.http, platforms)
    body = update(message=private_message(user.user_id, text="人工客服几点上班"))
    assert len(user.send(body)) == 1
    guesser = TelegramUser(served.http, platforms)
    code = issue_code(binding_url(served))
    for _ in range(PER_USER.failures):
        assert any(WRONG in text for text in guesser.say(f"绑定 {wrong_code(code)}"))
    served.stop_rasa()
    served.start_rasa()
    assert user.send(body) == []
    assert len(user.say("人工客服几点上班")) == 1
    # The failures are in the store: the restarted server still refuses, even the right code.
    assert any(TOO_MANY in text for text in guesser.say(f"绑定 {code}"))
    assert CONFIRMED_STATE not in " ".join(guesser.say(f"{demo_data.TX_CONFIRMED} 没到账"))
    owner = TelegramUser(served.http, platforms)
    assert any("绑定成功" in text for text in owner.say(f"绑定 {code}"))  # the code was not spent


def test_edited_messages_groups_and_channels_are_ignored(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(served.http, platforms)
    edited = private_message(user.user_id, text="我的U没到账", edit_date=1_763_900_100)
    group = {
        **private_message(user.user_id, text="转人工"),
        "chat": {"id": -1001234567890, "title": "IM钱包交流群", "type": "supergroup"},
    }
    small_group = {**group, "chat": {"id": -4012345678, "title": "朋友", "type": "group"}}
    channel_post = {
        "message_id": 7,
        "sender_chat": {"id": -1009876543210, "title": "公告", "type": "channel"},
        "chat": {"id": -1009876543210, "title": "公告", "type": "channel"},
        "date": 1_763_900_000,
        "text": "公告",
    }
    for body in (
        update(edited_message=edited),
        update(message=group),
        update(message=small_group),
        update(channel_post=channel_post),
        update(my_chat_member={"chat": group["chat"], "from": person(user.user_id), "date": 1}),
    ):
        assert user.post(raw(body)).status == 200
    with platforms.lock:
        assert all(
            b.get("chat_id") not in (user.user_id, -1001234567890, -4012345678)
            for _, b in platforms.telegram_calls
        )
    assert events_in_tracker(served, user.sender_id) == 0


def test_stickers_photos_and_voice_get_a_polite_reply(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(served.http, platforms)
    photo = [
        {
            "file_id": "AgACAgUAAxkBAAIBY2",
            "file_unique_id": "AQADe7Ex",
            "width": 90,
            "height": 67,
            "file_size": 1254,
        },
        {
            "file_id": "AgACAgUAAxkBAAIBY3",
            "file_unique_id": "AQADe7Ey",
            "width": 800,
            "height": 600,
            "file_size": 60211,
        },
    ]
    voice = {
        "file_id": "AwACAgUAAxkBAAIBZG",
        "file_unique_id": "AgADpQ",
        "duration": 3,
        "mime_type": "audio/ogg",
    }
    for content in (
        {"sticker": STICKER},
        {"photo": photo, "caption": "这个截图"},
        {"voice": voice},
    ):
        sent = user.send(update(message=private_message(user.user_id, **content)))
        assert len(sent) == 1 and UNSUPPORTED in sent[0]["text"]


def test_a_flood_of_stickers_start_and_bind_messages_gets_one_polite_reply_then_silence(
    limited: InProcessStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(limited.http, platforms)
    sticker = update(message=private_message(user.user_id, sticker=STICKER))
    start = private_message(user.user_id, text="/start")
    bind = private_message(user.user_id, text="绑定 ZZZZ-ZZZZ")
    answers = [user.send({**sticker, "update_id": fresh_id()}) for _ in range(5)]
    answers += [user.send(update(message=start)) for _ in range(3)]
    answers += [user.send(update(message=bind)) for _ in range(2)]
    # RATE_LIMIT_BURST (10) replies, whatever the channel answers itself.
    assert [len(sent) for sent in answers] == [1] * 10
    assert all(UNSUPPORTED in sent[0]["text"] for sent in answers[:5])
    assert all("欢迎关注" in sent[0]["text"] for sent in answers[5:8])
    assert all(WRONG in sent[0]["text"] for sent in answers[8:])
    slowed = user.send({**sticker, "update_id": fresh_id()})
    assert len(slowed) == 1 and SLOW_DOWN in slowed[0]["text"]
    for body in (sticker, update(message=start), update(message=bind), update(message=start)):
        assert user.send({**body, "update_id": fresh_id()}) == []
    assert user.say("你好") == []  # text shares the sender's bucket in the intake
    assert events_in_tracker(limited, user.sender_id) == 0


def test_buttons_are_inline_keyboards_and_presses_are_processed(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(served.http, platforms)
    sent = user.send(update(message=private_message(user.user_id, text="怎么回事")))
    question = next(m for m in sent if "reply_markup" in m)
    keyboard = [button for row in question["reply_markup"]["inline_keyboard"] for button in row]
    assert {"text": "都不是", "callback_data": "/deny"} in keyboard
    answer = user.press("/network_fee")
    assert answer and "矿工费" in answer[0]["text"]


def test_unbound_users_get_general_help_and_bound_users_their_state(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(served.http, platforms)
    question = f"{demo_data.TX_CONFIRMED} 这笔怎么还没到"
    unbound = " ".join(user.say(question))
    assert CONFIRMED_STATE not in unbound and "绑定" in unbound

    code = issue_code(binding_url(served))
    assert any(WRONG in text for text in user.say(f"绑定 {wrong_code(code)}"))
    assert any(WRONG in text for text in user.say("绑定 123456"))  # an old 6-digit code
    # Typed as people type it: lower case, a space instead of the dash.
    assert any("绑定成功" in text for text in user.say(f"绑定 {code.lower().replace('-', ' ')}"))
    # The code and the binding command never reach Rasa.
    with sqlite3.connect(served.workdir / "tracker.db") as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ?", (user.sender_id,)
        ).fetchall()
    assert rows and not any(code[:4] in row[0] or "123456" in row[0] for row in rows)
    assert CONFIRMED_STATE in " ".join(user.say(question))

    other = TelegramUser(served.http, platforms)
    assert any(WRONG in text for text in other.say(f"绑定 {code}"))  # single use
    assert CONFIRMED_STATE not in " ".join(other.say(question))


def test_long_button_payloads_fit_telegram_and_still_work(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(served.http, platforms)
    user.bind(binding_url(served))
    sent = user.send(update(message=private_message(user.user_id, text="我的转账一直没到账")))
    choice = next(m for m in sent if "reply_markup" in m)
    keyboard = [button for row in choice["reply_markup"]["inline_keyboard"] for button in row]
    assert keyboard and all(len(b["callback_data"].encode()) <= 64 for b in keyboard)
    stored = [b["callback_data"] for b in keyboard if b["callback_data"].startswith("#")]
    assert stored, "transfer buttons carry a hash: longer than Telegram's 64 bytes"
    answer = user.press(stored[0])
    assert answer and not any("系统开了个小差" in m["text"] for m in answer)
    # Another user cannot use someone else's stored button.
    other = TelegramUser(served.http, platforms)
    assert other.press(stored[0]) == []


def test_guessing_codes_with_many_made_up_users_closes_binding_for_everyone(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    code = issue_code(binding_url(served))
    guessers = [
        TelegramUser(served.http, platforms) for _ in range(EVERYONE.failures // PER_USER.failures)
    ]

    def guess(user: TelegramUser) -> list[str]:
        return [text for _ in range(PER_USER.failures) for text in user.say("绑定 ZZZZ-ZZZZ")]

    owner = TelegramUser(served.http, platforms)
    clear_binding_failures(served)  # earlier tests' wrong codes
    log = LogWindow([served.workdir / "rasa.log"])
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = [text for texts in pool.map(guess, guessers) for text in texts]
        assert len(answers) == EVERYONE.failures and all(WRONG in text for text in answers)
        # Each of these users is under its own limit, but everyone together is over theirs.
        assert any(TOO_MANY in text for text in owner.say(f"绑定 {code}"))
        stranger = TelegramUser(served.http, platforms)
        assert any(TOO_MANY in text for text in stranger.say("绑定 ZZZZ-ZZZZ"))
        assert "binding refused for everyone" in log.text(served.workdir / "rasa.log")
    finally:
        clear_binding_failures(served)
    assert any("绑定成功" in text for text in owner.say(f"绑定 {code}"))  # the code was not spent


def test_an_agents_reply_reaches_the_telegram_user(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    empty_queue(served)  # the console's first page shows this user's ticket
    user = TelegramUser(served.http, platforms)
    assert any("已为您转接人工客服" in text for text in user.say("我要人工客服"))
    console = AgentConsole(served.http)
    ticket = console.ticket_of(user.sender_id)
    assert ticket["channel"] == "telegram"
    before = len(user.received())
    assert console.post(f"/tickets/{ticket['ticket_id']}/claim")[0] == 200
    assert (
        console.post(f"/tickets/{ticket['ticket_id']}/reply", {"text": "您好，我是小李"})[0] == 200
    )
    pushed = [m["text"] for m in user.received()[before:]]
    assert pushed == ["人工客服 小李 已接入，请问有什么可以帮您？", "您好，我是小李"]
    assert user.say("我的U提到交易所没到") == []  # the agent owns the conversation
    transcript = console.get(f"/tickets/{ticket['ticket_id']}")["transcript"]
    assert transcript[-1]["text"] == "我的U提到交易所没到"
    console.post(f"/tickets/{ticket['ticket_id']}/close", {"note": "telegram"})
    assert any("打个分" in m["text"] for m in user.received()[before:])


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"",
        b"[]",
        b'"update"',
        b'{"message": {"text": "hi"}}',
        b'{"update_id": "1", "message": {}}',
        b'{"update_id": true}',
    ],
)
def test_malformed_bodies_get_a_clear_400(
    served: ServedStack, platforms: FakePlatforms, body: bytes
) -> None:
    assert TelegramUser(served.http, platforms).post(body).status == 400


@pytest.mark.parametrize(
    "content",
    [
        {},
        {"message": "text"},
        {"message": None},
        {"message": {}},
        {"message": {"text": "你好", "chat": {"type": "private"}}},
        {"message": {"text": "你好", "from": {"id": "1"}, "chat": {"id": 1, "type": "private"}}},
        {"message": {"text": "你好", "from": {"id": 1.5}, "chat": {"id": 1, "type": "private"}}},
        {
            "message": {
                "text": 5,
                "from": person(9_000_000_001),
                "chat": {"id": 9_000_000_001, "type": "private"},
            }
        },
        {
            "message": {
                "text": "你好",
                "from": {**person(9_000_000_002), "is_bot": True},
                "chat": {"type": "private"},
            }
        },
        {"message": {"text": "你好", "from": person(9_000_000_003), "chat": "private"}},
        {"callback_query": {"id": 5, "from": person(9_000_000_004)}},
        {
            "callback_query": {
                "id": "q1",
                "from": person(9_000_000_005),
                "data": {"x": 1},
                "message": {},
            }
        },
        {
            "callback_query": {
                "id": "q2",
                "from": person(9_000_000_006),
                "data": "#unknown-key",
                "message": {"chat": {"id": 9_000_000_006, "type": "private"}},
            }
        },
        {"edited_message": "x"},
    ],
)
def test_updates_with_missing_or_wrong_fields_are_acknowledged(
    served: ServedStack, platforms: FakePlatforms, content: dict[str, Any]
) -> None:
    with platforms.lock:
        before = [c for c in platforms.telegram_calls if c[0] == "sendMessage"]
    assert TelegramUser(served.http, platforms).post(raw(update(**content))).status == 200
    with platforms.lock:
        assert [c for c in platforms.telegram_calls if c[0] == "sendMessage"] == before


def test_a_huge_body_is_refused_and_the_channel_keeps_working(
    served: ServedStack, platforms: FakePlatforms
) -> None:
    user = TelegramUser(served.http, platforms)
    huge = update(message=private_message(user.user_id, text="你" * 400_000))
    assert user.post(raw(huge)).status == 413
    assert user.received() == []
    assert len(user.say("你好")) == 1


def test_settings_come_from_credentials_or_the_environment() -> None:
    env = {"TELEGRAM_TOKEN": "t", "TELEGRAM_SECRET_TOKEN": "s", "TELEGRAM_API_URL": "http://x/"}
    assert TelegramSettings.from_credentials(None, env) == TelegramSettings("t", "s", "http://x")
    given = {"access_token": "a", "secret_token": "b", "api_url": None}
    assert TelegramSettings.from_credentials(given, {}) == TelegramSettings(
        "a", "b", "https://api.telegram.org"
    )


def test_update_ids_are_remembered_across_store_instances(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bindings.db'}"
    assert DeliveryStore.from_url(url).claim("telegram", "42")
    assert not DeliveryStore.from_url(url).claim("telegram", "42")
    store = ButtonPayloads.from_url(url)
    assert store.button_data("1", "/deny") == "/deny"
    long_payload = '/transfer_pending{"tx_hash":"0x' + "ab" * 32 + '"}'
    data = store.button_data("1", long_payload)
    assert len(data) <= 64 and store.button_data("1", long_payload) == data
    assert store.payload_for("1", data) == long_payload
    assert store.payload_for("2", data) is None
    assert store.payload_for("1", "#nothing") is None


def test_set_webhook_registers_the_secret_token(platforms: FakePlatforms) -> None:
    settings = TelegramSettings(TELEGRAM_TOKEN, TELEGRAM_SECRET, platforms.url)
    url = "https://bot.example.com/webhooks/telegram/webhook"
    assert asyncio.run(set_webhook(settings, url))
    with platforms.lock:
        method, params = platforms.telegram_calls[-1]
    assert method == "setWebhook"
    assert params == {
        "url": url,
        "secret_token": TELEGRAM_SECRET,
        "allowed_updates": ["message", "callback_query"],
    }
