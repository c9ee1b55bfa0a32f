"""The WeChat Official Account channel against the fake WeChat API (tests/support/fakes.py):
access token, customer-service messages.

Three servers: the served stack in plaintext mode with WeChat's 5-second passive replies, in
production (SUPPORT_ENV's default); a Rasa server in process in safe (AES) mode, configured in its
credentials.yml, with the default rate limits; and a served stack in development whose reply
window is too short for any Rasa turn, so replies go through the API, a fake of its own that
counts the access tokens it issues.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from bot.channels.binding import PER_USER, BindingStore
from bot.channels.deliveries import DeliveryStore
from bot.channels.wechat.channel import WeChatChannel, WeChatSettings, message_key
from bot.channels.wechat.crypto import MessageCrypto
from bot.channels.wechat.replay import UsedSignatures
from bot.channels.wechat.xml import parse_xml
from bot.handoff.store import HandoffStore
from bot.wallet import demo_data
from scripts.local_stack import ROOT
from tests.support.channel_server import domain_agent, serving
from tests.support.fakes import (
    WECHAT_ACCOUNT,
    WECHAT_AES_KEY,
    WECHAT_APP_ID,
    WECHAT_APP_SECRET,
    WECHAT_TOKEN,
    FakePlatforms,
)
from tests.support.http import AgentConsole, Answer, Http
from tests.support.platform_users import (
    EVENT_XML,
    IMAGE_XML,
    TEXT_XML,
    VOICE_XML,
    WECHAT_WEBHOOK,
    WeChatUser,
    fresh_id,
    signed_query,
)
from tests.support.stack import ALWAYS_OPEN, ServedStack, Stack, running_stack

# --- the servers -----------------------------------------------------------------------------


@dataclass
class Server:
    """A stack whose Rasa server serves the WeChat channel, the fake WeChat API it calls, and
    whether it is in safe mode."""

    stack: Stack
    api: FakePlatforms
    aes: bool = False

    def user(self, openid: str) -> WeChatUser:
        return WeChatUser(self.stack.http, self.api, openid, self.aes)

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


def credentials_with_wechat(workdir: Path, settings: dict[str, str]) -> Path:
    """The repository's credentials.yml with ``settings`` in the WeChat channel's entry."""
    channels = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    channels["bot.channels.wechat.WeChatChannel"] = settings
    path = workdir / "credentials.yml"
    path.write_text(yaml.safe_dump(channels, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def plain(served: ServedStack, platforms: FakePlatforms) -> Server:
    return Server(served, platforms)


@pytest.fixture(scope="module")
def safe(tmp_path_factory: pytest.TempPathFactory, platforms: FakePlatforms) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("wechat-safe")
    settings = {
        "token": WECHAT_TOKEN,
        "app_id": WECHAT_APP_ID,
        "app_secret": WECHAT_APP_SECRET,
        "api_url": platforms.url,
        "aes_key": WECHAT_AES_KEY,
    }
    with running_stack(
        workdir,
        in_process=True,
        settings={"SUPPORT_HOURS": ALWAYS_OPEN},
        credentials=credentials_with_wechat(workdir, settings),
    ) as local:
        yield Server(local, platforms, aes=True)


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = {"SUPPORT_HOURS": ALWAYS_OPEN, "SUPPORT_ENV": "development"}
    with (
        FakePlatforms.running() as api,
        running_stack(
            tmp_path_factory.mktemp("wechat-slow"),
            settings={**settings, **api.env(), "WECHAT_REPLY_SECONDS": "0.001"},
        ) as local,
    ):
        yield Server(local, api)


# --- WeChat's side of the conversation -------------------------------------------------------


def verify(server: Server, query: dict[str, str]) -> Answer:
    """The URL verification WeChat makes when the webhook is configured (a GET)."""
    return server.stack.http.get(f"{WECHAT_WEBHOOK}?{urllib.parse.urlencode(query)}")


def event(user: WeChatUser, name: str) -> str | None:
    """The passive reply to an event; None for "success"."""
    return user.reply_of(user.deliver(user.xml(EVENT_XML, event=name)))


def no_side_effect(server: Server, user: WeChatUser, calls_before: int) -> None:
    assert not server.has_tracker(user.sender_id)
    assert len(server.api.snapshot()) == calls_before


# --- URL verification ------------------------------------------------------------------------


def test_url_verification_echoes_only_for_a_valid_signature(plain: Server) -> None:
    echoed = verify(plain, {**signed_query(), "echostr": "5183795486548"})
    assert (echoed.status, echoed.text) == (200, "5183795486548")
    forged = {**signed_query(), "signature": "0" * 40, "echostr": "5183795486548"}
    assert verify(plain, forged).status == 403
    stale = {**signed_query(timestamp=int(time.time()) - 3600), "echostr": "1"}
    assert verify(plain, stale).status == 403
    assert verify(plain, {"echostr": "1"}).status == 403


# --- plaintext mode: passive replies ---------------------------------------------------------


def test_text_gets_a_passive_reply(plain: Server) -> None:
    user = plain.user("oPlainUser0000000000000001")
    reply = user.say("矿工费怎么算")
    assert reply is not None and "矿工费" in reply
    assert plain.user_events(user.sender_id) == ["矿工费怎么算"]
    assert plain.api.sent(user.openid) == []  # answered in the HTTP response, no push


def test_forged_or_stale_requests_are_refused_without_side_effects(plain: Server) -> None:
    user = plain.user("oPlainForger00000000000001")
    before = len(plain.api.snapshot())
    xml = user.xml(TEXT_XML, content="转人工", msg_id=fresh_id())
    forged = {**signed_query(), "signature": hashlib.sha1(b"guess").hexdigest()}
    assert user.post(xml.encode(), forged).status == 403
    assert user.post(xml.encode(), {**signed_query(), "signature": "签名"}).status == 403
    old = int(time.time()) - 600
    assert user.post(xml.encode(), signed_query(timestamp=old)).status == 403  # a replayed request
    assert user.post(xml.encode(), signed_query(timestamp=int(time.time()) + 600)).status == 403
    assert user.post(xml.encode(), {}).status == 403
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
def test_malformed_bodies_get_a_clear_400(plain: Server, body: bytes) -> None:
    assert plain.user("oPlainMalformed00000000001").post(body).status == 400


def test_oversized_bodies_are_refused(plain: Server) -> None:
    huge = b"<xml>" + b" " * 70_000 + b"</xml>"
    assert plain.user("oPlainOversized00000000001").post(huge).status == 413


def test_subscribe_gets_the_welcome(plain: Server) -> None:
    user = plain.user("oPlainFollower000000000001")
    welcome = event(user, "subscribe")
    assert welcome is not None and "欢迎关注IM钱包" in welcome
    assert event(user, "unsubscribe") is None


def test_images_and_voice_get_a_polite_reply(plain: Server) -> None:
    user = plain.user("oPlainMedia000000000000001")
    for template in (IMAGE_XML, VOICE_XML):
        reply = user.reply_of(user.deliver(user.xml(template, msg_id=fresh_id())))
        assert reply is not None and "文字" in reply
    assert plain.user_events(user.sender_id) == []


def test_a_replayed_signature_is_refused_without_side_effects(plain: Server) -> None:
    user = plain.user("oPlainReplay00000000000001")
    victim = plain.user("oPlainVictim00000000000001")
    query = signed_query()
    xml = user.xml(TEXT_XML, content="矿工费怎么算", msg_id=fresh_id())
    first = user.reply_of(user.post(xml.encode(), query))
    assert first is not None and "矿工费" in first
    before = len(plain.api.snapshot())
    # Whoever saw the callback URL writes anything as anyone within the 300 s window: refused.
    for forged in (
        victim.xml(TEXT_XML, content="我要人工客服", msg_id=fresh_id()),
        user.xml(TEXT_XML, content="我要人工客服", msg_id=fresh_id()),
        victim.xml(EVENT_XML, event="subscribe"),
    ):
        assert user.post(forged.encode(), query).status == 403
    time.sleep(1)
    no_side_effect(plain, victim, before)
    assert plain.user_events(user.sender_id) == ["矿工费怎么算"]
    # The same request again is WeChat redelivering it: the same answer, not a second turn.
    assert user.reply_of(user.post(xml.encode(), query)) == first
    assert plain.user_events(user.sender_id) == ["矿工费怎么算"]


def test_a_redelivered_message_is_processed_once(plain: Server) -> None:
    user = plain.user("oPlainRetry000000000000001")
    xml = user.xml(TEXT_XML, content="手续费为什么这么贵", msg_id=fresh_id())
    # WeChat redelivers while the first delivery is still being answered, and after it.
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: user.reply_of(user.deliver(xml)), range(3)))
    answers.append(user.reply_of(user.deliver(xml)))
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
    plain: Server,
) -> None:
    assert "WeChat runs in plaintext mode" in plain.log()
    store = BindingStore.from_url(plain.binding_url)
    code = store.issue_code(demo_data.ALICE, timedelta(minutes=10))
    alice = plain.user("oPlainAlice000000000000001")
    refusal = alice.say(f"绑定 {code}")
    assert refusal is not None and "不能绑定" in refusal
    assert store.account_for("wechat", alice.openid) is None
    assert f"绑定 {code}" not in plain.user_events(alice.sender_id)
    # A user bound earlier (before the deployment left development) gets general help only.
    earlier = plain.user("oPlainBoundEarlier00000001")
    assert store.redeem(code, "wechat", earlier.openid) == demo_data.ALICE  # the code was unspent
    answer = earlier.say(f"{demo_data.TX_CONFIRMED} 没到账")
    assert answer is not None and "25 个确认" not in answer


def test_unbound_users_get_general_help_and_bound_users_their_account(
    safe: Server,
) -> None:
    assert "WeChat runs in plaintext mode" not in safe.log()
    question = f"{demo_data.TX_CONFIRMED} 没到账"
    stranger = safe.user("oSafeStranger0000000000001")
    general = stranger.say(question)
    assert general is not None and "25 个确认" not in general and "绑定" in general

    alice = safe.user("oSafeAlice0000000000000001")
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


def test_wrong_codes_are_limited_to_five_per_user_in_fifteen_minutes(
    tmp_path: Path, platforms: FakePlatforms
) -> None:
    """As on Telegram (the binding store's PER_USER): the sixth wrong code within 15 minutes is
    refused, still at 14 minutes, and a code is tried again once the failures are 16 minutes old."""
    url = f"sqlite:///{tmp_path / 'bindings.db'}"
    settings = WeChatSettings(
        WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_AES_KEY, api_url="http://127.0.0.1:9"
    )
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
        guesser = WeChatUser(Http.to(base), platforms, "oGuesser01", aes=True)
        answers = [guesser.say("绑定 ZZZZ-ZZZZ") or "" for _ in range(PER_USER.failures + 1)]
        assert all("不正确" in answer for answer in answers[:5]), answers
        assert "错误次数太多" in answers[5]
        age_failures(14)  # within 15 minutes (a 10-minute window would let this code be tried)
        assert "错误次数太多" in (guesser.say("绑定 ZZZZ-ZZZZ") or "")
        age_failures(16)
        assert "不正确" in (guesser.say("绑定 ZZZZ-ZZZZ") or "")


def test_plaintext_mode_binds_in_development(slow: Server) -> None:
    assert "WeChat runs in plaintext mode" not in slow.log()
    alice = slow.user("oSlowAlice0000000000000001")
    code = BindingStore.from_url(slow.binding_url).issue_code(
        demo_data.ALICE, timedelta(minutes=10)
    )
    assert alice.say(f"绑定 {code}") is None
    slow.api.wait_for_text(alice.openid, "绑定成功")
    assert alice.say(f"{demo_data.TX_CONFIRMED} 没到账") is None
    slow.api.wait_for_text(alice.openid, "25 个确认")


def test_numbered_buttons_are_answered_by_number(plain: Server) -> None:
    user = plain.user("oPlainButtons0000000000001")
    question = user.say("怎么回事")
    assert question is not None and "您是想问" in question and "\n1. " in question
    user.say("1")
    events = plain.user_events(user.sender_id)
    assert events[-1].startswith("/")  # the first button's payload, not the digit


# --- safe mode -------------------------------------------------------------------------------


def test_crypto_matches_wechat_sample() -> None:
    """The sample of WeChat's own encryption demo (WXBizMsgCrypt)."""
    crypto = MessageCrypto("spamtest", WECHAT_AES_KEY, "wx2c2769f8efd9abc2")
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
    other = MessageCrypto("pamtest", WECHAT_AES_KEY, "wxb11529c136998cb6")
    assert other.encrypt("我是中文abcd123", b"aaaabbbbccccdddd") == (
        "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
    )


def test_encrypted_text_gets_an_encrypted_passive_reply(safe: Server) -> None:
    user = safe.user("oSafeUser00000000000000001")
    reply = user.say("矿工费怎么算")
    assert reply is not None and "矿工费" in reply
    welcome = event(user, "subscribe")
    assert welcome is not None and "欢迎关注" in welcome
    assert safe.user_events(user.sender_id) == ["矿工费怎么算"]


def test_safe_mode_refuses_plaintext_forgeries_and_foreign_payloads(safe: Server) -> None:
    user = safe.user("oSafeForger000000000000001")
    before = len(safe.api.snapshot())
    xml = user.xml(TEXT_XML, content="转人工", msg_id=fresh_id())
    # The plaintext signature does not cover the body: refused in safe mode.
    assert user.post(xml.encode()).status == 403
    encrypted = user.crypto.encrypt(xml)
    body = (
        f"<xml><ToUserName><![CDATA[{WECHAT_ACCOUNT}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    tampered = {**signed_query(encrypted=encrypted), "msg_signature": "0" * 40}
    assert user.post(body.encode(), tampered).status == 403
    stale = signed_query(timestamp=int(time.time()) - 900, encrypted=encrypted)
    assert user.post(body.encode(), stale).status == 403
    foreign = MessageCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, "wx0000000000000000").encrypt(xml)
    foreign_body = f"<xml><Encrypt><![CDATA[{foreign}]]></Encrypt></xml>"
    assert user.post(foreign_body.encode(), signed_query(encrypted=foreign)).status == 400
    time.sleep(1)
    no_side_effect(safe, user, before)


def test_images_voice_and_subscribe_floods_get_one_polite_reply_then_silence(
    safe: Server,
) -> None:
    # On the server with the default rate limits (the served stack has none).
    user = safe.user("oSafeFlood0000000000000001")

    def subscribe(seconds_later: int) -> str | None:
        # Events are told apart by their time (WeChat's advice): one per second at most.
        xml = EVENT_XML.format(
            account=WECHAT_ACCOUNT,
            openid=user.openid,
            created=int(time.time()) + seconds_later,
            event="subscribe",
        )
        return user.reply_of(user.deliver(xml))

    replies = [
        user.reply_of(user.deliver(user.xml(IMAGE_XML, msg_id=fresh_id()))) for _ in range(9)
    ]
    welcome = subscribe(0)
    # RATE_LIMIT_BURST (10) replies, whatever the channel answers itself.
    assert all(reply is not None and "文字" in reply for reply in replies)
    assert welcome is not None and "欢迎关注" in welcome
    slowed = user.reply_of(user.deliver(user.xml(VOICE_XML, msg_id=fresh_id())))
    assert slowed is not None and "您发得有点快" in slowed
    assert subscribe(1) is None  # "success": silence
    assert user.reply_of(user.deliver(user.xml(IMAGE_XML, msg_id=fresh_id()))) is None
    assert user.say("绑定 ZZZZ-ZZZZ") is None
    assert user.say("你好") is None  # text shares the sender's bucket in the intake
    assert safe.user_events(user.sender_id) == []
    assert safe.api.sent(user.openid) == []


# --- slow turns: "success", then the customer-service API ------------------------------------


def test_a_slow_turn_answers_success_then_pushes_the_reply(slow: Server) -> None:
    user = slow.user("oSlowUser00000000000000001")
    assert user.say("矿工费怎么算") is None  # "success" within the reply window
    texts = slow.api.wait_for_text(user.openid, "矿工费")
    assert len(texts) == 1  # the turn's messages in one customer-service message
    call = slow.api.sent(user.openid)[0]
    assert call.body["msgtype"] == "text"
    assert call.query["access_token"].startswith("access-token-")


def test_the_access_token_is_fetched_once_and_refreshed_when_refused(slow: Server) -> None:
    user = slow.user("oSlowToken0000000000000001")
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


def test_agent_replies_during_a_handoff_go_through_the_api(slow: Server) -> None:
    user = slow.user("oSlowHandoff00000000000001")
    assert user.say("我要人工客服") is None
    slow.api.wait_for_text(user.openid, "人工客服")
    console = AgentConsole(slow.stack.http)
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
    slow: Server,
) -> None:
    user = slow.user("oSlowRestart00000000000001")
    victim = slow.user("oSlowVictim000000000000001")
    xml = user.xml(TEXT_XML, content="矿工费怎么算", msg_id=fresh_id())
    query = signed_query()
    assert user.reply_of(user.post(xml.encode(), query)) is None
    slow.api.wait_for_text(user.openid, "矿工费")
    slow.stack.stop_rasa()
    slow.stack.start_rasa()
    before = len(slow.api.snapshot())
    forged = victim.xml(TEXT_XML, content="我要人工客服", msg_id=fresh_id())
    # The signature was used before the restart.
    assert victim.post(forged.encode(), query).status == 403
    assert user.reply_of(user.post(xml.encode(), query)) is None  # WeChat's redelivery
    assert user.reply_of(user.deliver(xml)) is None  # redelivered with a new signature
    time.sleep(2)
    no_side_effect(slow, victim, before)
    assert len(slow.api.texts(user.openid)) == 1
    assert slow.user_events(user.sender_id) == ["矿工费怎么算"]
