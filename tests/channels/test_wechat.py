"""The WeChat Official Account channel of a running Rasa server and action server, with a local
HTTP server standing in for WeChat's API (access token, customer-service messages).

Three servers: plaintext mode and safe (AES) mode with WeChat's 5-second passive replies, both
in production (SUPPORT_ENV's default), and a plaintext one in development whose reply window is
too short for any Rasa turn, so replies go through the API.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.channels.binding import PER_USER, BindingStore
from bot.channels.deliveries import DeliveryStore
from bot.channels.wechat.channel import WeChatChannel, WeChatSettings, message_key
from bot.channels.wechat.crypto import MessageCrypto, sha1_signature
from bot.channels.wechat.replay import UsedSignatures
from bot.channels.wechat.xml import parse_xml
from bot.handoff.store import HandoffStore
from bot.wallet import demo_data
from scripts.local_stack import ROOT, LocalStack, start_together
from tests.channels.platforms import (
    ACCOUNT,
    AES_KEY,
    APP_ID,
    APP_SECRET,
    EVENT_XML,
    IMAGE_XML,
    TEXT_XML,
    VOICE_XML,
    FakeWeChatApi,
    domain_agent,
    http,
    serving,
    signed_query,
)
from tests.channels.platforms import WECHAT_TOKEN as TOKEN
from tests.channels.platforms import msg_ids as _msg_ids
from tests.channels.test_handoff_api import PASSWORD, Console
from tests.conftest import ALWAYS_OPEN

# --- the servers -----------------------------------------------------------------------------


@dataclass
class WeChatServer:
    """A LocalStack whose Rasa server also serves the WeChat channel, and its fake WeChat API."""

    stack: LocalStack
    api: FakeWeChatApi
    aes: bool

    @property
    def webhook(self) -> str:
        return f"{self.stack.base_url}/webhooks/wechat/webhook"

    @property
    def binding_url(self) -> str:
        return self.stack.env()["BINDING_DB_URL"]

    def user_events(self, sender_id: str) -> list[str]:
        """Texts of the user messages stored in the tracker of ``sender_id``."""
        database = self.stack.workdir / "tracker.db"
        if not database.exists():
            return []
        with sqlite3.connect(database) as connection:
            rows = connection.execute(
                "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (sender_id,)
            ).fetchall()
        return [json.loads(row[0]).get("text") for row in rows]

    def log(self) -> str:
        return (self.stack.workdir / "rasa.log").read_text(encoding="utf-8", errors="replace")

    def has_tracker(self, sender_id: str) -> bool:
        database = self.stack.workdir / "tracker.db"
        if not database.exists():
            return False
        with sqlite3.connect(database) as connection:
            (count,) = connection.execute(
                "SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender_id,)
            ).fetchone()
        return bool(count)


def start_rasa(stack: LocalStack, channel_settings: dict[str, str]) -> None:
    """Starts Rasa as LocalStack does, with the repo's channels plus the WeChat channel."""
    credentials = stack.workdir / "credentials.yml"
    channels = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    channels["bot.channels.wechat.WeChatChannel"] = channel_settings or None
    credentials.write_text(yaml.safe_dump(channels, allow_unicode=True), encoding="utf-8")
    stack.credentials = credentials
    stack.start_rasa()


def launch(
    workdir: Path,
    aes: bool,
    reply_seconds: str | None = None,
    by_env: bool = True,
    mode: str = "production",
) -> WeChatServer:
    api = FakeWeChatApi()
    api.start()
    settings = {
        "token": TOKEN,
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "api_url": api.url,
        **({"aes_key": AES_KEY} if aes else {}),
        **({"reply_seconds": reply_seconds} if reply_seconds else {}),
    }
    env = {
        "SUPPORT_HOURS": ALWAYS_OPEN,
        "BINDING_DB_URL": f"sqlite:///{workdir / 'bindings.db'}",
        "SUPPORT_ENV": mode,
    }
    if by_env:  # an empty credentials entry: the channel reads WECHAT_* from the environment
        env.update({f"WECHAT_{key.upper()}": value for key, value in settings.items()})
        env["WECHAT_API_URL"] = api.url
    stack = LocalStack(workdir, settings=env)
    stack.seed()
    HandoffStore.from_url(stack.handoff_url).agents.add("li", "小李", PASSWORD)
    try:
        stack.start_actions()
        start_rasa(stack, {} if by_env else settings)
    except Exception:
        stack.stop_all()
        api.stop()
        raise
    return WeChatServer(stack, api, aes)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, WeChatServer]]:
    """Started side by side: each Rasa server takes a while to load the model."""
    plans = {
        "plain": {"aes": False},
        "safe": {"aes": True, "by_env": False},
        "slow": {"aes": False, "reply_seconds": "0.001", "mode": "development"},
    }
    started = start_together(
        {
            name: partial(launch, tmp_path_factory.mktemp(f"wechat-{name}"), **plan)  # type: ignore[arg-type]
            for name, plan in plans.items()
        },
        stop=stop_server,
    )
    try:
        yield started
    finally:
        for server in started.values():
            stop_server(server)


def stop_server(server: WeChatServer) -> None:
    server.stack.stop_all()
    server.api.stop()


@pytest.fixture(scope="module")
def plain(servers: dict[str, WeChatServer]) -> WeChatServer:
    return servers["plain"]


@pytest.fixture(scope="module")
def safe(servers: dict[str, WeChatServer]) -> WeChatServer:
    return servers["safe"]


@pytest.fixture(scope="module")
def slow(servers: dict[str, WeChatServer]) -> WeChatServer:
    return servers["slow"]


# --- WeChat's side of the conversation -------------------------------------------------------


@dataclass
class Webhook:
    """The WeChat webhook of a channel served in-process, and whether it is in safe mode."""

    webhook: str
    aes: bool


class WeChatUser:
    """A follower of the Official Account, as WeChat's servers deliver their messages."""

    def __init__(self, server: WeChatServer | Webhook, openid: str) -> None:
        self.server, self.openid = server, openid
        self.crypto = MessageCrypto(TOKEN, AES_KEY, APP_ID)

    @property
    def sender_id(self) -> str:
        return f"wechat:{self.openid}"

    def xml(self, template: str, **values: Any) -> str:
        return template.format(
            account=ACCOUNT, openid=self.openid, created=int(time.time()), **values
        )

    def deliver(self, xml: str, query: dict[str, str] | None = None) -> tuple[int, str]:
        """POSTs the message as WeChat does in the server's mode; the raw HTTP answer."""
        if self.server.aes:
            encrypted = self.crypto.encrypt(xml)
            body = (
                f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
            )
            return http(
                self.server.webhook,
                signed_query(encrypted=encrypted) if query is None else query,
                body.encode(),
            )
        return http(self.server.webhook, signed_query() if query is None else query, xml.encode())

    def reply_of(self, status: int, answer: str) -> str | None:
        """The text of a passive reply; None for "success"."""
        assert status == 200, answer
        if answer in ("success", ""):
            return None
        fields = parse_xml(answer.encode())
        if self.server.aes:
            expected = sha1_signature(
                TOKEN, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]
            )
            assert fields["MsgSignature"] == expected
            fields = parse_xml(self.crypto.decrypt(fields["Encrypt"]).encode())
        assert fields["ToUserName"] == self.openid and fields["FromUserName"] == ACCOUNT
        assert fields["MsgType"] == "text"
        return fields["Content"]

    def say(self, content: str, msg_id: int | None = None) -> str | None:
        xml = self.xml(TEXT_XML, content=content, msg_id=msg_id or next(_msg_ids))
        return self.reply_of(*self.deliver(xml))

    def event(self, event: str) -> str | None:
        return self.reply_of(*self.deliver(self.xml(EVENT_XML, event=event)))


def no_side_effect(server: WeChatServer, user: WeChatUser, calls_before: int) -> None:
    assert not server.has_tracker(user.sender_id)
    assert len(server.api.snapshot()) == calls_before


# --- URL verification ------------------------------------------------------------------------


def test_url_verification_echoes_only_for_a_valid_signature(plain: WeChatServer) -> None:
    assert http(plain.webhook, {**signed_query(), "echostr": "5183795486548"}) == (
        200,
        "5183795486548",
    )
    forged = {**signed_query(), "signature": "0" * 40, "echostr": "5183795486548"}
    assert http(plain.webhook, forged)[0] == 403
    stale = {**signed_query(timestamp=int(time.time()) - 3600), "echostr": "1"}
    assert http(plain.webhook, stale)[0] == 403
    assert http(plain.webhook, {"echostr": "1"})[0] == 403


# --- plaintext mode: passive replies ---------------------------------------------------------


def test_text_gets_a_passive_reply(plain: WeChatServer) -> None:
    user = WeChatUser(plain, "oPlainUser0000000000000001")
    reply = user.say("矿工费怎么算")
    assert reply is not None and "矿工费" in reply
    assert plain.user_events(user.sender_id) == ["矿工费怎么算"]
    assert plain.api.sent(user.openid) == []  # answered in the HTTP response, no push


def test_forged_or_stale_requests_are_refused_without_side_effects(plain: WeChatServer) -> None:
    user = WeChatUser(plain, "oPlainForger00000000000001")
    before = len(plain.api.snapshot())
    xml = user.xml(TEXT_XML, content="转人工", msg_id=next(_msg_ids))
    forged = {**signed_query(), "signature": hashlib.sha1(b"guess").hexdigest()}
    assert user.deliver(xml, forged)[0] == 403
    assert user.deliver(xml, {**signed_query(), "signature": "签名"})[0] == 403
    old = int(time.time()) - 600
    assert user.deliver(xml, signed_query(timestamp=old))[0] == 403  # a replayed request
    assert user.deliver(xml, signed_query(timestamp=int(time.time()) + 600))[0] == 403
    assert user.deliver(xml, {})[0] == 403
    time.sleep(1)
    no_side_effect(plain, user, before)


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"<xml><FromUserName>x</FromUserName>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName></xml>',
        b"<xml><ToUserName>gh</ToUserName></xml>",
        b"<html><MsgType>text</MsgType></html>",
    ],
)
def test_malformed_bodies_get_a_clear_400(plain: WeChatServer, body: bytes) -> None:
    assert http(plain.webhook, signed_query(), body)[0] == 400


def test_oversized_bodies_are_refused(plain: WeChatServer) -> None:
    assert http(plain.webhook, signed_query(), b"<xml>" + b" " * 70_000 + b"</xml>")[0] == 413


def test_subscribe_gets_the_welcome(plain: WeChatServer) -> None:
    user = WeChatUser(plain, "oPlainFollower000000000001")
    welcome = user.event("subscribe")
    assert welcome is not None and "欢迎关注IM钱包" in welcome
    assert user.event("unsubscribe") is None


def test_images_and_voice_get_a_polite_reply(plain: WeChatServer) -> None:
    user = WeChatUser(plain, "oPlainMedia000000000000001")
    for template in (IMAGE_XML, VOICE_XML):
        reply = user.reply_of(*user.deliver(user.xml(template, msg_id=next(_msg_ids))))
        assert reply is not None and "文字" in reply
    assert plain.user_events(user.sender_id) == []


def test_images_voice_and_subscribe_floods_get_one_polite_reply_then_silence(
    plain: WeChatServer,
) -> None:
    user = WeChatUser(plain, "oPlainFlood000000000000001")

    def subscribe(seconds_later: int) -> str | None:
        # Events are told apart by their time (WeChat's advice): one per second at most.
        xml = EVENT_XML.format(
            account=ACCOUNT,
            openid=user.openid,
            created=int(time.time()) + seconds_later,
            event="subscribe",
        )
        return user.reply_of(*user.deliver(xml))

    replies = [
        user.reply_of(*user.deliver(user.xml(IMAGE_XML, msg_id=next(_msg_ids)))) for _ in range(9)
    ]
    welcome = subscribe(0)
    # RATE_LIMIT_BURST (10) replies, whatever the channel answers itself.
    assert all(reply is not None and "文字" in reply for reply in replies)
    assert welcome is not None and "欢迎关注" in welcome
    slowed = user.reply_of(*user.deliver(user.xml(VOICE_XML, msg_id=next(_msg_ids))))
    assert slowed is not None and "您发得有点快" in slowed
    assert subscribe(1) is None  # "success": silence
    assert user.reply_of(*user.deliver(user.xml(IMAGE_XML, msg_id=next(_msg_ids)))) is None
    assert user.say("绑定 ZZZZ-ZZZZ") is None
    assert user.say("你好") is None  # text shares the sender's bucket in the intake
    assert plain.user_events(user.sender_id) == []
    assert plain.api.sent(user.openid) == []


def test_a_replayed_signature_is_refused_without_side_effects(plain: WeChatServer) -> None:
    user = WeChatUser(plain, "oPlainReplay00000000000001")
    victim = WeChatUser(plain, "oPlainVictim00000000000001")
    query = signed_query()
    xml = user.xml(TEXT_XML, content="矿工费怎么算", msg_id=next(_msg_ids))
    first = user.reply_of(*user.deliver(xml, query))
    assert first is not None and "矿工费" in first
    before = len(plain.api.snapshot())
    # Whoever saw the callback URL writes anything as anyone within the 300 s window: refused.
    for forged in (
        victim.xml(TEXT_XML, content="我要人工客服", msg_id=next(_msg_ids)),
        user.xml(TEXT_XML, content="我要人工客服", msg_id=next(_msg_ids)),
        victim.xml(EVENT_XML, event="subscribe"),
    ):
        assert user.deliver(forged, query)[0] == 403
    time.sleep(1)
    no_side_effect(plain, victim, before)
    assert plain.user_events(user.sender_id) == ["矿工费怎么算"]
    # The same request again is WeChat redelivering it: the same answer, not a second turn.
    assert user.reply_of(*user.deliver(xml, query)) == first
    assert plain.user_events(user.sender_id) == ["矿工费怎么算"]


def test_a_redelivered_message_is_processed_once(plain: WeChatServer) -> None:
    user = WeChatUser(plain, "oPlainRetry000000000000001")
    xml = user.xml(TEXT_XML, content="手续费为什么这么贵", msg_id=next(_msg_ids))
    # WeChat redelivers while the first delivery is still being answered, and after it.
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: user.reply_of(*user.deliver(xml)), range(3)))
    answers.append(user.reply_of(*user.deliver(xml)))
    assert answers[0] is not None and "矿工费" in answers[0]
    assert set(answers) == {answers[0]}  # whichever delivery WeChat takes, the same reply
    assert plain.user_events(user.sender_id) == ["手续费为什么这么贵"]


def test_redelivery_after_a_restart_is_still_recognised(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bindings.db'}"
    first = {"MsgId": "6054768590064713728", "FromUserName": "oUser"}
    assert DeliveryStore.from_url(url).claim("wechat", message_key(first))
    restarted = DeliveryStore.from_url(url)
    assert not restarted.claim("wechat", message_key(first))
    assert restarted.claim("wechat", message_key({**first, "MsgId": "6054768590064713729"}))


def test_plaintext_mode_binds_and_identifies_nobody_outside_development(
    plain: WeChatServer,
) -> None:
    assert "WeChat runs in plaintext mode" in plain.log()
    store = BindingStore.from_url(plain.binding_url)
    code = store.issue_code(demo_data.ALICE, timedelta(minutes=10))
    alice = WeChatUser(plain, "oPlainAlice000000000000001")
    refusal = alice.say(f"绑定 {code}")
    assert refusal is not None and "不能绑定" in refusal
    assert store.account_for("wechat", alice.openid) is None
    assert f"绑定 {code}" not in plain.user_events(alice.sender_id)
    # A user bound earlier (before the deployment left development) gets general help only.
    earlier = WeChatUser(plain, "oPlainBoundEarlier00000001")
    assert store.redeem(code, "wechat", earlier.openid) == demo_data.ALICE  # the code was unspent
    answer = earlier.say(f"{demo_data.TX_CONFIRMED} 没到账")
    assert answer is not None and "25 个确认" not in answer


def test_unbound_users_get_general_help_and_bound_users_their_account(
    safe: WeChatServer,
) -> None:
    assert "WeChat runs in plaintext mode" not in safe.log()
    question = f"{demo_data.TX_CONFIRMED} 没到账"
    stranger = WeChatUser(safe, "oSafeStranger0000000000001")
    general = stranger.say(question)
    assert general is not None and "25 个确认" not in general and "绑定" in general

    alice = WeChatUser(safe, "oSafeAlice0000000000000001")
    store = BindingStore.from_url(safe.binding_url)
    assert "不正确" in (alice.say("绑定 ZZZZ-ZZZZ") or "")
    assert "25 个确认" not in (alice.say(question) or "")
    code = store.issue_code(demo_data.ALICE, timedelta(minutes=10))
    assert "绑定成功" in (alice.say(f"绑定 {code.lower()}") or "")
    assert "25 个确认" in (alice.say(question) or "")
    # The code was single-use; binding commands never reach the bot.
    assert "不正确" in (stranger.say(f"绑定 {code}") or "")
    assert "25 个确认" not in (stranger.say(question) or "")
    assert not any("绑定" in text for text in safe.user_events(alice.sender_id))
    assert store.account_for("wechat", alice.openid) == demo_data.ALICE


def test_wrong_codes_are_limited_to_five_per_user_in_fifteen_minutes(tmp_path: Path) -> None:
    """As on Telegram (the binding store's PER_USER): the sixth wrong code within 15 minutes is
    refused, still at 14 minutes, and a code is tried again once the failures are 16 minutes old."""
    url = f"sqlite:///{tmp_path / 'bindings.db'}"
    settings = WeChatSettings(TOKEN, APP_ID, APP_SECRET, AES_KEY, api_url="http://127.0.0.1:9")
    channel = WeChatChannel(
        settings,
        deliveries=DeliveryStore.from_url(url),
        signatures=UsedSignatures.from_url(url),
        bindings=BindingStore.from_url(url),
    )

    def age_failures(minutes: int) -> None:
        old = datetime.now(timezone.utc) - timedelta(minutes=minutes)
        with sqlite3.connect(tmp_path / "bindings.db") as db:
            db.execute(
                "UPDATE channel_binding_failures SET failed_at = ? WHERE platform = 'wechat'",
                (old.replace(tzinfo=None).isoformat(sep=" "),),
            )

    with serving(channel, agent=domain_agent()) as base:
        guesser = WeChatUser(Webhook(f"{base}/webhooks/wechat/webhook", aes=True), "oGuesser01")
        answers = [guesser.say("绑定 ZZZZ-ZZZZ") or "" for _ in range(PER_USER.failures + 1)]
        assert all("不正确" in answer for answer in answers[:5]), answers
        assert "错误次数太多" in answers[5]
        age_failures(14)  # within 15 minutes (a 10-minute window would let this code be tried)
        assert "错误次数太多" in (guesser.say("绑定 ZZZZ-ZZZZ") or "")
        age_failures(16)
        assert "不正确" in (guesser.say("绑定 ZZZZ-ZZZZ") or "")


def test_plaintext_mode_binds_in_development(slow: WeChatServer) -> None:
    assert "WeChat runs in plaintext mode" not in slow.log()
    alice = WeChatUser(slow, "oSlowAlice0000000000000001")
    code = BindingStore.from_url(slow.binding_url).issue_code(
        demo_data.ALICE, timedelta(minutes=10)
    )
    assert alice.say(f"绑定 {code}") is None
    slow.api.wait_for_text(alice.openid, "绑定成功")
    assert alice.say(f"{demo_data.TX_CONFIRMED} 没到账") is None
    slow.api.wait_for_text(alice.openid, "25 个确认")


def test_numbered_buttons_are_answered_by_number(plain: WeChatServer) -> None:
    user = WeChatUser(plain, "oPlainButtons0000000000001")
    question = user.say("怎么回事")
    assert question is not None and "您是想问" in question and "\n1. " in question
    user.say("1")
    events = plain.user_events(user.sender_id)
    assert events[-1].startswith("/")  # the first button's payload, not the digit


# --- safe mode -------------------------------------------------------------------------------


def test_crypto_matches_wechat_sample() -> None:
    """The sample of WeChat's own encryption demo (WXBizMsgCrypt)."""
    crypto = MessageCrypto("spamtest", AES_KEY, "wx2c2769f8efd9abc2")
    encrypted = (
        "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQ"
        "HFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tE"
        "DYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZ"
        "bGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+"
        "q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
    )
    assert crypto.signature("1409735669", "1320562132", encrypted) == (
        "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
    )
    fields = parse_xml(crypto.decrypt(encrypted).encode())
    assert fields["Content"] == "abcdteT" and fields["MsgId"] == "6054768590064713728"
    other = MessageCrypto("pamtest", AES_KEY, "wxb11529c136998cb6")
    assert other.encrypt("我是中文abcd123", b"aaaabbbbccccdddd") == (
        "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
    )


def test_encrypted_text_gets_an_encrypted_passive_reply(safe: WeChatServer) -> None:
    user = WeChatUser(safe, "oSafeUser00000000000000001")
    reply = user.say("矿工费怎么算")
    assert reply is not None and "矿工费" in reply
    welcome = user.event("subscribe")
    assert welcome is not None and "欢迎关注" in welcome
    assert safe.user_events(user.sender_id) == ["矿工费怎么算"]


def test_safe_mode_refuses_plaintext_forgeries_and_foreign_payloads(safe: WeChatServer) -> None:
    user = WeChatUser(safe, "oSafeForger000000000000001")
    before = len(safe.api.snapshot())
    xml = user.xml(TEXT_XML, content="转人工", msg_id=next(_msg_ids))
    # The plaintext signature does not cover the body: refused in safe mode.
    assert http(safe.webhook, signed_query(), xml.encode())[0] == 403
    encrypted = user.crypto.encrypt(xml)
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    tampered = {**signed_query(encrypted=encrypted), "msg_signature": "0" * 40}
    assert http(safe.webhook, tampered, body.encode())[0] == 403
    stale = signed_query(timestamp=int(time.time()) - 900, encrypted=encrypted)
    assert http(safe.webhook, stale, body.encode())[0] == 403
    foreign = MessageCrypto(TOKEN, AES_KEY, "wx0000000000000000").encrypt(xml)
    foreign_body = f"<xml><Encrypt><![CDATA[{foreign}]]></Encrypt></xml>"
    assert http(safe.webhook, signed_query(encrypted=foreign), foreign_body.encode())[0] == 400
    time.sleep(1)
    no_side_effect(safe, user, before)


# --- slow turns: "success", then the customer-service API ------------------------------------


def test_a_slow_turn_answers_success_then_pushes_the_reply(slow: WeChatServer) -> None:
    user = WeChatUser(slow, "oSlowUser00000000000000001")
    assert user.say("矿工费怎么算") is None  # "success" within the reply window
    texts = slow.api.wait_for_text(user.openid, "矿工费")
    assert len(texts) == 1  # the turn's messages in one customer-service message
    call = slow.api.sent(user.openid)[0]
    assert call.body["msgtype"] == "text"
    assert call.query["access_token"].startswith("access-token-")


def test_the_access_token_is_fetched_once_and_refreshed_when_refused(slow: WeChatServer) -> None:
    user = WeChatUser(slow, "oSlowToken0000000000000001")
    for question in ("矿工费怎么算", "支持哪些币"):
        user.say(question)
        time.sleep(0.2)
    slow.api.wait_for_text(user.openid, "矿工费")
    deadline = time.monotonic() + 30
    while len(slow.api.texts(user.openid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    tokens = slow.api.token_calls()
    assert len(tokens) == 1, "one token for every push"
    assert {c.query["access_token"] for c in slow.api.sent(user.openid)} == {"access-token-1"}

    slow.api.revoke_tokens()
    user.say("人工客服几点上班")
    slow.api.wait_for_text(user.openid, "人工")
    assert len(slow.api.token_calls()) == 2
    assert slow.api.sent(user.openid)[-1].query["access_token"] == "access-token-2"


def test_agent_replies_during_a_handoff_go_through_the_api(slow: WeChatServer) -> None:
    user = WeChatUser(slow, "oSlowHandoff00000000000001")
    assert user.say("我要人工客服") is None
    slow.api.wait_for_text(user.openid, "人工客服")
    console = Console(slow.stack)
    ticket = console.ticket_of(user.sender_id)
    assert ticket["channel"] == "wechat"
    console.post(f"/tickets/{ticket['ticket_id']}/claim")
    slow.api.wait_for_text(user.openid, "小李 已接入")
    status, _ = console.post(
        f"/tickets/{ticket['ticket_id']}/reply", {"text": "您好，我是小李，请问遇到什么问题？"}
    )
    assert status == 200
    slow.api.wait_for_text(user.openid, "您好，我是小李，请问遇到什么问题？")
    pushed = len(slow.api.texts(user.openid))
    assert user.say("我的U提到交易所没到") is None  # the agent owns the conversation
    time.sleep(2)
    assert len(slow.api.texts(user.openid)) == pushed  # the bot stays silent
    console.post(f"/tickets/{ticket['ticket_id']}/close", {"note": "done"})
    rating = next(t for t in slow.api.wait_for_text(user.openid, "打个分") if "打个分" in t)
    # Titles that are numbers themselves are not numbered: "5" means "5分", not the 5th line.
    assert "· 5分 非常满意" in rating and "1. " not in rating
    user.say("5")
    slow.api.wait_for_text(user.openid, "感谢您的评价")
    closed = HandoffStore.from_url(slow.stack.handoff_url).tickets.last_closed_for(user.sender_id)
    assert closed is not None and closed.rating == 5


def test_after_a_restart_redeliveries_and_replays_are_still_recognised(
    slow: WeChatServer,
) -> None:
    user = WeChatUser(slow, "oSlowRestart00000000000001")
    victim = WeChatUser(slow, "oSlowVictim000000000000001")
    xml = user.xml(TEXT_XML, content="矿工费怎么算", msg_id=next(_msg_ids))
    query = signed_query()
    assert user.reply_of(*user.deliver(xml, query)) is None
    slow.api.wait_for_text(user.openid, "矿工费")
    slow.stack.stop_rasa()
    start_rasa(slow.stack, {})
    before = len(slow.api.snapshot())
    forged = victim.xml(TEXT_XML, content="我要人工客服", msg_id=next(_msg_ids))
    assert victim.deliver(forged, query)[0] == 403  # the signature was used before the restart
    assert user.reply_of(*user.deliver(xml, query)) is None  # WeChat's redelivery
    assert user.reply_of(*user.deliver(xml)) is None  # redelivered with a new signature
    time.sleep(2)
    no_side_effect(slow, victim, before)
    assert len(slow.api.texts(user.openid)) == 1
    assert slow.user_events(user.sender_id) == ["矿工费怎么算"]
