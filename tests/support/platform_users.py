"""Telegram and WeChat users, as their platforms deliver messages to the assistant's webhooks.

Updates have the shapes of https://core.telegram.org/bots/api#update and WeChat messages the
formats of its documentation (接收普通消息 / 接收事件推送), signed and, in safe mode, encrypted
as WeChat does. What the assistant sends back is read from ``FakePlatforms``.
"""

from __future__ import annotations

import itertools
import secrets
import time
import urllib.parse
from datetime import timedelta
from typing import Any

from bot.channels.binding import BindingStore
from bot.channels.wechat.crypto import MessageCrypto, sha1_signature
from bot.channels.wechat.xml import parse_xml
from bot.wallet import demo_data
from tests.support.fakes import (
    TELEGRAM_SECRET,
    WECHAT_ACCOUNT,
    WECHAT_AES_KEY,
    WECHAT_APP_ID,
    WECHAT_TOKEN,
    FakePlatforms,
)
from tests.support.http import Answer, Http

TELEGRAM_WEBHOOK = "/webhooks/telegram/webhook"
WECHAT_WEBHOOK = "/webhooks/wechat/webhook"
TEXT_XML = (
    "<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
    "<FromUserName><![CDATA[{openid}]]></FromUserName>"
    "<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>"
    "<MsgDataId>xxxx</MsgDataId><Idx>xxxx</Idx></xml>"
)
IMAGE_XML = (
    "<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
    "<FromUserName><![CDATA[{openid}]]></FromUserName>"
    "<CreateTime>{created}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
    "<PicUrl><![CDATA[http://mmbiz.qpic.cn/pic]]></PicUrl><MediaId><![CDATA[media_id]]></MediaId>"
    "<MsgId>{msg_id}</MsgId></xml>"
)
VOICE_XML = (
    "<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
    "<FromUserName><![CDATA[{openid}]]></FromUserName>"
    "<CreateTime>{created}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
    "<MediaId><![CDATA[media_id]]></MediaId><Format><![CDATA[amr]]></Format>"
    "<MsgId>{msg_id}</MsgId></xml>"
)
EVENT_XML = (
    "<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
    "<FromUserName><![CDATA[{openid}]]></FromUserName>"
    "<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[{event}]]></Event></xml>"
)
# Ids no other message of the session used: update, message and user ids, WeChat MsgIds.
_ids = itertools.count(int(time.time() * 1000) % 10**9 * 1000)


def fresh_id() -> int:
    return next(_ids)


def issue_code(binding_url: str, account: str = demo_data.ALICE) -> str:
    """A binding code, as the widget gives it to the account's owner."""
    return BindingStore.from_url(binding_url).issue_code(account, timedelta(minutes=10))


# --- Telegram ------------------------------------------------------------------------------


def person(user_id: int) -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": "Alice",
        "username": f"alice{user_id}",
        "language_code": "zh-hans",
    }


def private_message(user_id: int, **content: Any) -> dict[str, Any]:
    """A Message in the private chat with ``user_id``, as in the Bot API docs."""
    return {
        "message_id": fresh_id() % 100_000,
        "from": person(user_id),
        "chat": {
            "id": user_id,
            "first_name": "Alice",
            "username": f"alice{user_id}",
            "type": "private",
        },
        "date": int(time.time()),
        **content,
    }


def update(**content: Any) -> dict[str, Any]:
    return {"update_id": fresh_id(), **content}


class TelegramUser:
    """A user writing to the bot in a private chat."""

    def __init__(self, http: Http, platforms: FakePlatforms, user_id: int | None = None) -> None:
        self.http, self.platforms = http, platforms
        self.user_id = user_id or 8_000_000_000 + fresh_id() % 10**9
        self.sender_id = f"telegram:{self.user_id}"

    def post(
        self,
        body: bytes,
        secret: str | None = TELEGRAM_SECRET,
        content_type: str | None = "application/json",
    ) -> Answer:
        """Posts a raw body to the webhook, as Telegram does."""
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        return self.http.post(TELEGRAM_WEBHOOK, body, content_type=content_type, headers=headers)

    def received(self) -> list[dict[str, Any]]:
        return self.platforms.calls_for(self.user_id)

    def send(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Posts an update; the sendMessage calls it caused."""
        before = len(self.received())
        answer = self.http.post(
            TELEGRAM_WEBHOOK,
            json=body,
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        assert answer.status == 200, answer
        return self.received()[before:]

    def say(self, text: str) -> list[str]:
        return [
            m["text"] for m in self.send(update(message=private_message(self.user_id, text=text)))
        ]

    def press(self, callback_data: str) -> list[dict[str, Any]]:
        """Presses an inline button of the bot's message (Telegram must see the press
        acknowledged); the sendMessage calls it caused."""
        query = {
            "id": f"4382bfdwdsb323b2d9{fresh_id()}",
            "from": person(self.user_id),
            "message": private_message(self.user_id, text="您是想问下面哪个问题吗？"),
            "chat_instance": "-5371938740185432120",
            "data": callback_data,
        }
        sent = self.send(update(callback_query=query))
        assert query["id"] in self.platforms.answered_queries()
        return sent

    def bind(self, binding_url: str, account: str = demo_data.ALICE) -> None:
        code = issue_code(binding_url, account)
        assert any("绑定成功" in text for text in self.say(f"绑定 {code}"))


# --- WeChat --------------------------------------------------------------------------------


def signed_query(
    *, timestamp: int | None = None, nonce: str | None = None, encrypted: str | None = None
) -> dict[str, str]:
    """The query of a callback, signed as WeChat does, with a fresh nonce unless given."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = str(secrets.randbelow(10**10)) if nonce is None else nonce
    query = {
        "signature": sha1_signature(WECHAT_TOKEN, stamp, nonce),
        "timestamp": stamp,
        "nonce": nonce,
    }
    if encrypted is not None:
        query["encrypt_type"] = "aes"
        query["msg_signature"] = sha1_signature(WECHAT_TOKEN, stamp, nonce, encrypted)
    return query


class WeChatUser:
    """A follower of the Official Account, as WeChat's servers deliver their messages, in
    plaintext or (``aes``) safe mode."""

    def __init__(
        self, http: Http, platforms: FakePlatforms, openid: str, aes: bool = False
    ) -> None:
        self.http, self.platforms, self.openid, self.aes = http, platforms, openid, aes
        self.crypto = MessageCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APP_ID)

    @property
    def sender_id(self) -> str:
        return f"wechat:{self.openid}"

    def xml(self, template: str = TEXT_XML, **values: Any) -> str:
        return template.format(
            account=WECHAT_ACCOUNT, openid=self.openid, created=int(time.time()), **values
        )

    def post(
        self,
        body: bytes | None,
        query: dict[str, str] | None = None,
        content_type: str | None = "text/xml",
    ) -> Answer:
        """Posts a raw body to the webhook with ``query`` (a signed one unless given)."""
        params = signed_query() if query is None else query
        target = f"{WECHAT_WEBHOOK}?{urllib.parse.urlencode(params)}"
        return self.http.post(target, body, content_type=content_type)

    def deliver(self, xml: str) -> Answer:
        """POSTs the message as WeChat does in the user's mode; the raw HTTP answer."""
        if not self.aes:
            return self.post(xml.encode("utf-8", "surrogatepass"))
        encrypted = self.crypto.encrypt(xml)
        body = (
            f"<xml><ToUserName><![CDATA[{WECHAT_ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return self.post(body.encode(), signed_query(encrypted=encrypted))

    def reply_of(self, answer: Answer) -> str | None:
        """The text of a passive reply; None for "success" (the reply goes through the API)."""
        assert answer.status == 200, answer
        if answer.text in ("success", ""):
            return None
        fields = parse_xml(answer.body)
        if self.aes:
            expected = sha1_signature(
                WECHAT_TOKEN, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]
            )
            assert fields["MsgSignature"] == expected
            fields = parse_xml(self.crypto.decrypt(fields["Encrypt"]).encode())
        assert fields["ToUserName"] == self.openid and fields["FromUserName"] == WECHAT_ACCOUNT
        assert fields["MsgType"] == "text"
        return fields["Content"]

    def say(self, content: str) -> str | None:
        """The passive reply to a text message; None for "success"."""
        xml = self.xml(content=content.replace("]]>", "]]]]><![CDATA[>"), msg_id=fresh_id())
        return self.reply_of(self.deliver(xml))

    def says(self, content: str) -> list[str]:
        """The passive reply, or the messages pushed through the API when the turn took longer."""
        before = len(self.platforms.texts(self.openid))
        reply = self.say(content)
        if reply is not None:
            return [reply]
        return self.platforms.wait_for_texts(self.openid, before)
