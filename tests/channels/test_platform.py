"""The platform base (bot/channels/platform.py) and the delivery table every platform shares,
with channels served in-process: conversation ids, the settings rule, each delivery once across
servers and platforms, and a webhook that always answers."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.deliveries import DeliveryStore
from bot.channels.platform import (
    WELCOME,
    PlatformApi,
    PlatformChannel,
    PlatformSettings,
    PlatformUser,
    SettingsSource,
    conversation_id,
    platform_user,
)
from bot.channels.telegram.channel import TelegramChannel, TelegramSettings
from bot.channels.wechat.channel import WeChatChannel, WeChatSettings, message_key
from bot.channels.wechat.replay import UsedSignatures
from bot.settings import ConfigError
from tests.support.channel_server import domain_agent, serving
from tests.support.fakes import (
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    WECHAT_APP_ID,
    WECHAT_APP_SECRET,
    WECHAT_TOKEN,
    FakePlatforms,
)
from tests.support.http import Http
from tests.support.platform_users import IMAGE_XML, TELEGRAM_WEBHOOK, WeChatUser, fresh_id


@pytest.fixture(scope="module")
def agent() -> Agent:
    return domain_agent()


# --- conversation ids and settings -----------------------------------------------------------


def test_conversation_ids_name_the_platform_and_its_user() -> None:
    assert conversation_id("telegram", "42") == "telegram:42"
    assert platform_user("telegram:42") == PlatformUser("telegram", "42")
    assert platform_user("wechat:oAbc:def") == PlatformUser("wechat", "oAbc:def")
    assert platform_user(conversation_id("wechat", "oX")) == PlatformUser("wechat", "oX")
    # REST senders cannot contain the separator: no REST id is a platform's conversation.
    assert platform_user("alice-7f3a") is None


def test_settings_come_from_credentials_else_the_environment() -> None:
    env = {"X_TOKEN": " from-env ", "X_URL": "https://x.example/", "X_SECONDS": "2.5"}
    source = SettingsSource.of({"token": "", "other": " given "}, env)
    assert source.text("token", "X_TOKEN") == "from-env"  # an empty key reads the variable
    assert source.text("other", "X_OTHER") == "given"
    assert source.text("missing", "X_MISSING") is None
    assert source.url("url", "X_URL", "https://default") == "https://x.example"
    assert source.url("none", "X_NONE", "https://default/") == "https://default"
    assert source.number("seconds", "X_SECONDS", 1.0, 0, 5) == 2.5
    assert source.number("none", "X_NONE", 1.0, 0, 5) == 1.0


@pytest.mark.parametrize("value", ["soon", "0", "5", "-1", "nan"])
def test_a_malformed_setting_is_an_operator_error_naming_its_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="WECHAT_REPLY_SECONDS"):
        WeChatSettings.from_credentials({"reply_seconds": value}, {})


def test_missing_settings_are_logged_with_what_they_stop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    TelegramChannel(TelegramSettings.from_credentials(None, {}))
    WeChatChannel(WeChatSettings.from_credentials(None, {}))
    assert "TELEGRAM_TOKEN is not set: the Telegram channel cannot send" in caplog.text
    assert "TELEGRAM_SECRET_TOKEN is not set: the Telegram webhook refuses all calls" in caplog.text
    assert "WECHAT_TOKEN is not set: the WeChat webhook answers 503" in caplog.text
    assert "WECHAT_APP_ID and WECHAT_APP_SECRET is not set" in caplog.text


# --- each delivery once ----------------------------------------------------------------------


def test_the_delivery_table_keeps_each_platforms_keys_for_two_days(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bindings.db'}"
    store = DeliveryStore.from_url(url)
    assert store.claim("telegram", "42")
    assert store.claim("wechat", "42")  # each platform its own keys
    assert not DeliveryStore.from_url(url).claim("telegram", "42")  # another server, a restart
    with sqlite3.connect(tmp_path / "bindings.db") as db:
        old = datetime.now(timezone.utc) - timedelta(days=2, minutes=1)
        db.execute(
            "UPDATE channel_deliveries SET received_at = ? WHERE platform = 'telegram'",
            (old.replace(tzinfo=None).isoformat(sep=" "),),
        )
    assert DeliveryStore.from_url(url).claim("telegram", "43")  # prunes what is two days old
    assert DeliveryStore.from_url(url).claim("telegram", "42")
    assert not DeliveryStore.from_url(url).claim("wechat", "42")


def test_both_platforms_process_a_redelivery_once_through_one_table(
    tmp_path: Path, agent: Agent, platforms: FakePlatforms
) -> None:
    url = f"sqlite:///{tmp_path / 'bindings.db'}"

    def server() -> tuple[TelegramChannel, WeChatChannel]:
        """The channels of one server; every server has its own stores on the one database."""
        telegram = TelegramSettings(TELEGRAM_TOKEN, TELEGRAM_SECRET, platforms.url)
        wechat = WeChatSettings(
            WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET, api_url="http://127.0.0.1:9"
        )
        return (
            TelegramChannel(telegram, deliveries=DeliveryStore.from_url(url)),
            WeChatChannel(
                wechat,
                deliveries=DeliveryStore.from_url(url),
                signatures=UsedSignatures.from_url(url),
            ),
        )

    chat_id = 9_200_000_001
    sticker = {
        "update_id": 800_000_001,
        "message": {
            "message_id": 1,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Alice"},
            "chat": {"id": chat_id, "type": "private"},
            "date": 1_763_900_000,
            "sticker": {"file_id": "CAACAgIAAxkBAAEBQ2Zl", "emoji": "👍"},
        },
    }
    msg_id = fresh_id()
    secret = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}

    with serving(*server(), agent=agent) as first, serving(*server(), agent=agent) as second:
        for base in (first, second, first):
            answer = Http.to(base).post(TELEGRAM_WEBHOOK, json=sticker, headers=secret)
            assert (answer.status, answer.json()) == (200, {"ok": True})
        replies = platforms.calls_for(chat_id)
        assert len(replies) == 1 and "文字" in replies[0]["text"]

        on_first = WeChatUser(Http.to(first), platforms, "oPlatformsOnce01")
        image_xml = on_first.xml(IMAGE_XML, msg_id=msg_id).encode()
        answer = on_first.post(image_xml)
        assert answer.status == 200 and "文字" in answer.text
        # WeChat redelivers to another server, with a new signature: processed there before.
        answer = WeChatUser(Http.to(second), platforms, "oPlatformsOnce01").post(image_xml)
        assert (answer.status, answer.text) == (200, "success")

    with sqlite3.connect(tmp_path / "bindings.db") as db:
        rows = set(db.execute("SELECT platform, key FROM channel_deliveries"))
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    wechat_key = message_key({"MsgId": str(msg_id)})
    assert rows == {("telegram", "800000001"), ("wechat", wechat_key)}
    assert not tables & {"telegram_updates", "wechat_received_messages"}


# --- a third platform: one class --------------------------------------------------------------


class EchoSettings(PlatformSettings):
    def missing(self) -> dict[str, str]:
        return {"ECHO_TOKEN": "the echo platform cannot send"}


class EchoChannel(PlatformChannel):
    """A platform written as a new one would be: it welcomes each delivery once; a delivery
    marked "explode" fails outside the delivery, as a bug in a platform's parsing would."""

    platform = "echo"
    display_name = "Echo"

    def __init__(self, deliveries: DeliveryStore) -> None:
        super().__init__(EchoSettings(), PlatformApi(5.0), deliveries)
        self.output = CollectingOutputChannel()

    def acknowledgement(self) -> HTTPResponse:
        return response.json({"received": True})

    async def receive(self, request: Request) -> HTTPResponse:
        body = request.json
        if body.get("explode"):
            raise RuntimeError("a bug in the platform's code")
        user = str(body["user"])
        await self.process_once(
            str(body["id"]),
            self.conversation(user),
            lambda: self.reply(request.app, self.output, self.conversation(user), WELCOME),
            None,
        )
        return response.json({"handled": True})


def test_a_platform_webhook_always_answers_and_processes_each_delivery_once(
    tmp_path: Path, agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    echo = EchoChannel(DeliveryStore.from_url(f"sqlite:///{tmp_path / 'bindings.db'}"))
    assert "ECHO_TOKEN is not set: the echo platform cannot send" in caplog.text
    with serving(echo, agent=agent) as base:
        http, webhook = Http.to(base), "/webhooks/echo/webhook"
        health = http.get("/webhooks/echo/")
        assert (health.status, health.json()) == (200, {"status": "ok"})
        for _ in range(2):
            answer = http.post(webhook, json={"id": 1, "user": "u1"})
            assert (answer.status, answer.json()) == (200, {"handled": True})
        assert [m["recipient_id"] for m in echo.output.messages] == ["echo:u1"]
        assert "欢迎关注" in echo.output.messages[0]["text"]
        answer = http.post(webhook, json={"id": 2, "explode": True})
        assert (answer.status, answer.json()) == (200, {"received": True})
    failures = [r for r in caplog.records if r.getMessage() == "echo webhook call failed"]
    assert failures and failures[0].exc_info is not None
