"""Hostile input at every entry point of the assistant: fuzzed, then case by case.

The HTTP entry points (REST, Telegram, WeChat, the agent console, Rasa's API, metrics) are
served by a Rasa server in process (``stack``), with every channel and Rasa's API on and a rate
limit too high to matter; what needs a real server (the widget over socket.io, engine.io,
bodies refused before they are read) goes to the served stack (``served_stack``). Their logs
must end up without a traceback through our code. The rate limit and the known bugs, pinned as
strict xfails, are in test_hostile_limits.py.

The fuzzed domains leave out exactly the inputs of those pinned bugs (each exclusion names its
test), so they stay green today and the xfails turn red once a bug is fixed.
"""

from __future__ import annotations

import json
import operator
import re
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import socketio
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.channels.widget import conversation_of
from bot.handoff.store import HandoffStore
from bot.settings import DEFAULT_MAX_REQUEST_BYTES as MAX_REQUEST_BYTES
from bot.wallet import demo_data
from tests.support.fakes import TELEGRAM_SECRET, WECHAT_ACCOUNT, FakePlatforms
from tests.support.hostile import (
    EMPTY_REPLY,
    GREETING,
    TOO_LONG_REPLY,
    Entries,
    LogWindow,
    SyncWidget,
    as_json,
    our_tracebacks,
    telegram_user_id,
    unique,
)
from tests.support.http import REST_PATH, Answer
from tests.support.platform_users import TEXT_XML, WECHAT_WEBHOOK, fresh_id
from tests.support.stack import (
    ALWAYS_OPEN,
    API_JWT_SECRET,
    UNLIMITED,
    InProcessStack,
    ServedStack,
    running_stack,
)

TOO_LONG = TOO_LONG_REPLY.format(max_chars=1000)
FIVE_MB = 5 * 1024 * 1024
SURROGATES = re.compile("[\ud800-\udfff]")
SQLITE_INTEGERS = (-(2**63), 2**63 - 1)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)


# --- the servers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, platforms: FakePlatforms
) -> Iterator[InProcessStack]:
    with running_stack(
        tmp_path_factory.mktemp("hostile"),
        in_process=True,
        api_jwt_secret=API_JWT_SECRET,
        settings={"SUPPORT_HOURS": ALWAYS_OPEN, **UNLIMITED, **platforms.env()},
    ) as local:
        yield local


@pytest.fixture(scope="module")
def stack(app: InProcessStack, platforms: FakePlatforms) -> Entries:
    return Entries(app.http, platforms, app.workdir)


@pytest.fixture(scope="module")
def served_logs(served: ServedStack) -> LogWindow:
    """What the served stack logs from the first test of this module on."""
    return LogWindow([served.workdir / "rasa.log", served.workdir / "actions.log"])


@pytest.fixture(scope="module")
def served_stack(served: ServedStack, platforms: FakePlatforms, served_logs: LogWindow) -> Entries:
    return Entries(served.http, platforms, served.workdir)


# --- strategies ------------------------------------------------------------------------------

PIECES = st.sampled_from(
    [
        "\x00",
        "\x07",
        "\x1b[31m",
        "\x7f",
        "\x85",
        "\u200b",
        "\u202e",
        "\u2066",
        "\ufeff",
        "\ud800",
        "\udfff",
        "\r\n",
        "\t",
        "\u3000",
        " ",
        "你好",
        "我的U转出去一直没到账",
        "'",
        '"',
        "\\",
        "<script>alert(1)</script>",
        "'; DROP TABLE events; --",
        "{{7*7}}",
        "${jndi:ldap://x/a}",
        "%s%n",
        "]]>",
        "<![CDATA[",
        "&amp;",
        "😀",
        "/restart",
        "/greet",
        '/rate{"rating":"5"}',
        '/greet{"x": [',
        "绑定 123456",
        "0x" + "ab" * 32,
    ]
)
# Any code point (lone surrogates and controls included), hostile fragments, lengths around the
# limit, and ~900 KB of UTF-8.
SHORT_TEXT = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=[]), max_size=30),
    st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=8).map("".join),
)
TEXT = st.one_of(
    SHORT_TEXT,
    st.builds(
        operator.mul, st.sampled_from(["你", "a", " ", "\x00", "\u200b"]), st.integers(995, 1005)
    ),
    st.just("你" * 300_000),
)
# Without lone surrogates: the inputs of the pinned bugs below.
SHORT_UTF8 = SHORT_TEXT.map(lambda text: SURROGATES.sub("", text))
UTF8 = TEXT.map(lambda text: SURROGATES.sub("", text))

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), SHORT_TEXT, st.just(2**70)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
UTF8_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), SHORT_UTF8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SHORT_UTF8, inner, max_size=4),
    max_leaves=10,
)
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=latin-1",
            "text/plain",
            "text/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/octet-stream",
            "",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)
ASCII_HEADER = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


def assert_no_server_error(answer: Answer) -> None:
    assert answer.status < 500, (answer.status, answer.text[:500])


# --- the table: REST -------------------------------------------------------------------------


def rest_texts(answer: Answer) -> list[str]:
    assert answer.status == 200, answer
    return [message.get("text", "") for message in answer.json()]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param("", [EMPTY_REPLY], id="empty"),
        pytest.param(" \u3000\n\t ", [EMPTY_REPLY], id="whitespace-only"),
        pytest.param("\x00\x07\u200b\u202e\ud800", [EMPTY_REPLY], id="control-chars-only"),
        pytest.param("你" * 1001, [TOO_LONG], id="over-long"),
    ],
)
def test_rest_refused_messages_get_a_polite_reply(
    stack: Entries, message: str, expected: list[str]
) -> None:
    answer = stack.http.post(REST_PATH, as_json({"sender": unique("rest"), "message": message}))
    assert rest_texts(answer) == expected


def test_rest_control_characters_are_removed_before_rasa(stack: Entries) -> None:
    sender = unique("rest-ctrl")
    texts = rest_texts(
        stack.http.post(
            REST_PATH, as_json({"sender": sender, "message": "你\x00好\x1b\u200b\ud800"})
        )
    )
    assert texts and texts[0].startswith(GREETING)
    stored = stack.rows(
        "tracker.db",
        "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'",
        sender,
    )
    assert [json.loads(row[0])["text"] for row in stored] == ["你好"]


NOT_JSON = {"error": "expected a JSON object"}
NOT_JSON_TYPE = {"error": "Content-Type must be application/json"}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        pytest.param(
            b'{"sender": "s", "message": ', "application/json", 400, NOT_JSON, id="malformed-json"
        ),
        pytest.param(b"", "application/json", 400, NOT_JSON, id="empty-body"),
        pytest.param(
            b"sender=s&message=hi",
            "application/x-www-form-urlencoded",
            415,
            NOT_JSON_TYPE,
            id="wrong-content-type-form",
        ),
        pytest.param(
            as_json({"sender": "s", "message": "你好"}),
            "text/plain",
            415,
            NOT_JSON_TYPE,
            id="json-sent-as-text-plain",
        ),
        pytest.param(
            b'{"sender": "s", "message": "\xff\xfe"}',
            "application/json",
            400,
            NOT_JSON,
            id="invalid-utf8",
        ),
    ],
)
def test_rest_unreadable_bodies_get_a_4xx(
    stack: Entries, body: bytes, content_type: str, status: int, error: dict[str, str]
) -> None:
    answer = stack.http.post(REST_PATH, body, content_type=content_type)
    assert (answer.status, answer.json()) == (status, error)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(as_json({"sender": "s", "message": "a" * FIVE_MB}), id="huge-5MB-message"),
        pytest.param(b"x" * FIVE_MB, id="huge-5MB-not-json"),
    ],
)
def test_rest_bodies_over_the_size_limit_get_a_413_unread(
    served_stack: Entries, body: bytes
) -> None:
    assert served_stack.http.post(REST_PATH, body).status == 413
    served_stack.still_answers()


# --- the table: the widget (socket.io) -------------------------------------------------------


@pytest.fixture(scope="module")
def widget(served: ServedStack, served_logs: LogWindow) -> Iterator[SyncWidget]:
    client = SyncWidget(served.base_url, unique("widget-account"))
    try:
        yield client
    finally:
        client.close()


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param("", [EMPTY_REPLY], id="empty"),
        pytest.param(" \u3000\n ", [EMPTY_REPLY], id="whitespace-only"),
        pytest.param("\x00\u200b\ud800", [EMPTY_REPLY], id="control-chars-only"),
        pytest.param("你" * 1001, [TOO_LONG], id="over-long"),
    ],
)
def test_widget_refused_messages_get_a_polite_reply(
    widget: SyncWidget, message: str, expected: list[str]
) -> None:
    assert widget.say(message) == expected


def test_widget_control_characters_are_removed(widget: SyncWidget) -> None:
    texts = widget.say("你好\x00\x1b\u202e")
    assert texts and texts[0].startswith(GREETING)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("你好", id="not-an-object"),
        pytest.param([{"message": "你好"}], id="list"),
        pytest.param({"text": "你好"}, id="no-message"),
        pytest.param({"message": 5}, id="message-not-a-string"),
        pytest.param({"message": b"\xff\xfe"}, id="invalid-utf8-bytes"),
        pytest.param(b"\xff\xfe", id="binary"),
    ],
)
def test_widget_malformed_payloads_are_ignored_and_the_socket_stays(
    widget: SyncWidget, payload: Any
) -> None:
    before = len(widget.texts())
    widget.emit(payload)
    time.sleep(0.3)
    assert widget.texts()[before:] == []
    assert widget.connected


def test_widget_a_huge_payload_is_refused_unread(
    served: ServedStack, served_logs: LogWindow
) -> None:
    """A long-polling POST over MAX_REQUEST_BYTES gets 413 before engine.io reads any of it."""
    client = SyncWidget(served.base_url, unique("widget-huge"))
    try:
        with pytest.raises(socketio.exceptions.TimeoutError):
            client.emit({"message": "a" * FIVE_MB}, timeout=3)
        assert client.texts() == []
    finally:
        client.close(abort=True)
    other = SyncWidget(served.base_url, unique("widget-after-huge"))
    try:
        assert other.say("你好")[0].startswith(GREETING)
    finally:
        other.close()


# --- the table: Telegram ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [EMPTY_REPLY], id="empty"),
        pytest.param(" \u3000\n ", [EMPTY_REPLY], id="whitespace-only"),
        pytest.param("\u200b\x00\u202e", [EMPTY_REPLY], id="control-chars-only"),
        pytest.param("你" * 1001, [TOO_LONG], id="over-long"),
        pytest.param("你" * 4096, [TOO_LONG], id="telegram-maximum"),
    ],
)
def test_telegram_refused_messages_get_a_polite_reply(
    stack: Entries, text: str, expected: list[str]
) -> None:
    assert stack.telegram_text(telegram_user_id(), text) == expected


def test_telegram_control_characters_are_removed(stack: Entries) -> None:
    texts = stack.telegram_text(telegram_user_id(), "你好\x00\x1b[31m\u202e")
    assert texts and texts[0].startswith(GREETING)


def telegram_update(user_id: int, text: str) -> bytes:
    chat = {"id": user_id, "type": "private"}
    message = {"message_id": 1, "from": {"id": user_id, "is_bot": False}, "chat": chat}
    return as_json({"update_id": fresh_id(), "message": {**message, "text": text}})


@pytest.mark.parametrize(
    ("body", "secret", "status"),
    [
        pytest.param(b'{"update_id": 1, "message": ', TELEGRAM_SECRET, 400, id="malformed-json"),
        pytest.param(b"", TELEGRAM_SECRET, 400, id="empty-body"),
        pytest.param(b'{"update_id": 1, "x": "\xff"}', TELEGRAM_SECRET, 400, id="invalid-utf8"),
        pytest.param(b"{}", None, 403, id="no-secret"),
        pytest.param(b"{}", "wrong", 403, id="wrong-secret"),
    ],
)
def test_telegram_unreadable_or_unauthenticated_bodies(
    stack: Entries, body: bytes, secret: str | None, status: int
) -> None:
    assert stack.telegram(body, secret=secret).status == status


def test_telegram_ignores_the_content_type(stack: Entries) -> None:
    user_id = telegram_user_id()
    answer = stack.telegram(telegram_update(user_id, "你好"), content_type="text/plain")
    assert answer.status == 200
    assert stack.platforms.calls_for(user_id)[0]["text"].startswith(GREETING)


# --- the table: WeChat -----------------------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><xml><ToUserName>gh</ToUserName><FromUserName>oBomb</FromUserName>"
    b"<MsgType>text</MsgType><Content>&lol9;</Content></xml>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<xml><FromUserName>oXxe</FromUserName><MsgType>text</MsgType><Content>&e;</Content></xml>"
)


def wechat_xml(openid: str, content: str) -> bytes:
    return TEXT_XML.format(
        account=WECHAT_ACCOUNT,
        openid=openid,
        created=int(time.time()),
        content=content,
        msg_id=fresh_id(),
    ).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("", EMPTY_REPLY, id="empty"),
        pytest.param(" \u3000\n ", EMPTY_REPLY, id="whitespace-only"),
        # Controls XML allows; C0 controls make the XML itself malformed (below).
        pytest.param("\u200b\u202e\x85\ufeff", EMPTY_REPLY, id="control-chars-only"),
        pytest.param("你" * 1001, TOO_LONG, id="over-long"),
    ],
)
def test_wechat_refused_messages_get_a_polite_passive_reply(
    stack: Entries, content: str, expected: str
) -> None:
    assert stack.wechat_text(unique("oRefused"), content) == expected


def test_wechat_control_characters_are_removed(stack: Entries) -> None:
    reply = stack.wechat_text(unique("oCtrl"), "你好\u202e\x85\u200b")
    assert reply is not None and reply.startswith(GREETING)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        pytest.param(b"<xml><FromUserName>o", "text/xml", 400, "malformed XML", id="malformed-xml"),
        pytest.param(b"", "text/xml", 400, "malformed XML", id="empty-body"),
        pytest.param(
            TEXT_XML.format(
                account=WECHAT_ACCOUNT, openid="oC0", created=1, content="hi\x01", msg_id=1
            ).encode(),
            "text/xml",
            400,
            "malformed XML",
            id="c0-control-char",
        ),
        pytest.param(BILLION_LAUGHS, "text/xml", 400, "DTDs and entities", id="xml-bomb"),
        pytest.param(XXE, "text/xml", 400, "DTDs and entities", id="xxe"),
        pytest.param(b'{"Content": "hi"}', "application/json", 400, "malformed XML", id="json"),
        pytest.param(
            b"<xml><FromUserName>o\xff</FromUserName><MsgType>text</MsgType></xml>",
            "text/xml",
            400,
            "malformed XML",
            id="invalid-utf8",
        ),
    ],
)
def test_wechat_unreadable_bodies_are_refused_at_once(
    stack: Entries, body: bytes, content_type: str, status: int, reason: str
) -> None:
    started = time.monotonic()
    answer = stack.wechat(body, content_type=content_type)
    assert answer.status == status and reason in answer.text, answer
    assert time.monotonic() - started < 2  # nothing was expanded


def test_wechat_unsigned_calls_are_refused(stack: Entries) -> None:
    assert stack.wechat(wechat_xml("oUnsigned", "你好"), query={}).status == 403


def test_wechat_ignores_the_content_type_of_an_xml_body(stack: Entries) -> None:
    answer = stack.wechat(wechat_xml(unique("oCt"), "你好"), content_type="application/json")
    assert answer.status == 200 and GREETING in answer.text


# --- the table: the agent console ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        pytest.param(b"", "application/json", 400, id="empty-body"),
        pytest.param(b'{"username": "li", ', "application/json", 400, id="malformed-json"),
        pytest.param(
            b"username=li&password=x", "application/x-www-form-urlencoded", 415, id="form"
        ),
        pytest.param(
            b'{"username": "\xff", "password": "x"}', "application/json", 400, id="invalid-utf8"
        ),
        pytest.param(
            as_json({"username": "", "password": ""}), "application/json", 401, id="empty-fields"
        ),
        pytest.param(
            as_json({"username": "li\x00' OR '1'='1", "password": "' OR '1'='1"}),
            "application/json",
            401,
            id="control-chars-and-sql",
        ),
    ],
)
def test_agent_login_refuses_bad_bodies(
    stack: Entries, body: bytes, content_type: str, status: int
) -> None:
    assert stack.agent("/login", body, content_type=content_type).status == status


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(as_json({"text": ""}), 400, id="empty"),
        pytest.param(as_json({"text": " \u3000\n"}), 400, id="whitespace-only"),
        pytest.param(as_json({"text": "好" * 2001}), 400, id="over-long"),
        pytest.param(b'{"text": ', 400, id="malformed-json"),
        pytest.param(b'{"text": "\xff"}', 400, id="invalid-utf8"),
        pytest.param(as_json({"text": "你好"}), 409, id="unclaimed-ticket"),
    ],
)
def test_agent_reply_refuses_bad_bodies(stack: Entries, body: bytes, status: int) -> None:
    assert stack.agent("/tickets/999999/reply", body, token=stack.agent_token).status == status
    assert stack.agent("/tickets/999999/reply", body).status == 401


# --- the table: bodies over the size limit, refused by the HTTP server before they are read ---


def test_telegram_wechat_and_login_bodies_over_the_size_limit_get_a_413_unread(
    served_stack: Entries,
) -> None:
    assert served_stack.telegram(b"x" * FIVE_MB).status == 413
    started = time.monotonic()
    answer = served_stack.wechat(b"<xml>" + b" " * FIVE_MB + b"</xml>")
    assert answer.status == 413 and "size limit" in answer.text, answer
    assert time.monotonic() - started < 2  # nothing was expanded
    assert served_stack.agent("/login", b"x" * FIVE_MB).status == 413


def test_agent_reply_over_the_size_limit_is_refused_unread(served_stack: Entries) -> None:
    huge = b"x" * FIVE_MB
    token = served_stack.agent_token
    assert served_stack.agent("/tickets/999999/reply", huge, token=token).status == 413


# --- the table: Rasa's API and metrics -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"", 400, id="empty-body"),
        pytest.param(b'{"text": ', 400, id="malformed-json"),
        pytest.param(b'{"text": "\xff"}', 400, id="invalid-utf8"),
        pytest.param(as_json({"text": "\x00\x1b\u202e你好"}), 200, id="control-chars"),
        pytest.param(as_json({"text": "你" * 5000}), 400, id="over-long"),
    ],
)
def test_rasa_parse_with_a_jwt(stack: Entries, body: bytes, status: int) -> None:
    assert stack.rasa_api("/model/parse", body).status == status


def test_rasa_parse_refuses_a_form_body(stack: Entries) -> None:
    form = "application/x-www-form-urlencoded"
    assert stack.rasa_api("/model/parse", b"text=hi", content_type=form).status == 415


def test_metrics_take_no_input(stack: Entries) -> None:
    answer = stack.http.get("/metrics?name[]=<script>&%ff=%00")
    assert answer.status == 200 and answer.content_type.startswith("text/plain")
    assert stack.http.post("/metrics", b"x" * 1000).status == 405


# --- injection: stored verbatim, handed to agents as data ------------------------------------


def rest_says(stack: Entries, sender: str, text: str) -> list[str]:
    return rest_texts(stack.http.post(REST_PATH, as_json({"sender": sender, "message": text})))


def user_texts(stack: Entries, sender: str) -> list[str]:
    rows = stack.rows(
        "tracker.db",
        "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id",
        sender,
    )
    return [json.loads(row[0])["text"] for row in rows]


def transcript_of(stack: Entries, sender: str) -> list[dict[str, Any]]:
    queue = stack.agent("/queue", token=stack.agent_token).json()["tickets"]
    ticket = next(t for t in queue if t["conversation_id"] == sender)
    answer = stack.agent(f"/tickets/{ticket['ticket_id']}", token=stack.agent_token)
    assert answer.status == 200
    return list(answer.json()["transcript"])


def test_sql_in_a_transfer_look_up_is_only_data(served: ServedStack, served_stack: Entries) -> None:
    """Alice, proven by the widget, looks up her transfer with SQL around the hash (on the served
    stack, where her conversation may hold earlier tests' messages)."""
    stack = served_stack
    sender = conversation_of(demo_data.ALICE, served.identity_secret.encode())
    look_up = f"{demo_data.TX_PENDING_LOW_FEE}' OR '1'='1 这笔怎么还没到"
    drop = "'; DROP TABLE events; --"
    before = len(user_texts(stack, sender))
    alice = SyncWidget(served.base_url, demo_data.ALICE)
    try:
        replies = alice.say(look_up)
        # The one transfer of the hash, nobody else's.
        short = f"{demo_data.TX_PENDING_LOW_FEE[:6]}…{demo_data.TX_PENDING_LOW_FEE[-4:]}"
        assert short in replies[0] and "0.5 ETH" in replies[0]
        alice.say(drop)
        alice.say("转人工")
    finally:
        alice.close()

    assert "events" in stack.tables("tracker.db")
    assert {"wallet_transactions", "wallet_tickets"} <= stack.tables("wallet.db")
    assert stack.rows("wallet.db", "SELECT count(*) FROM wallet_transactions")[0][0] > 1
    assert user_texts(stack, sender)[before : before + 2] == [look_up, drop]
    shown = [line["text"] for line in transcript_of(stack, sender) if line["role"] == "user"]
    assert look_up in shown and shown[shown.index(look_up) :][:2] == [look_up, drop]
    # Alice stops waiting: later tests on the served stack chat as her.
    HandoffStore.from_url(served.handoff_url).tickets.cancel(sender)


def test_sql_and_html_in_a_complaint_are_stored_and_shown_verbatim(stack: Entries) -> None:
    sender = unique("inject-complaint")
    description = "<script>alert(1)</script>'); DROP TABLE tickets;-- 转账被多扣了手续费"
    rest_says(stack, sender, "我要投诉")
    rest_says(stack, sender, "其他")
    filed = rest_says(stack, sender, description)
    assert "已为您登记投诉" in filed[0]

    assert {"wallet_tickets"} <= stack.tables("wallet.db")
    assert {"handoff_tickets", "handoff_outbox"} <= stack.tables("handoff.db")
    stored = stack.rows(
        "wallet.db", "SELECT description FROM wallet_tickets WHERE conversation_id = ?", sender
    )
    assert stored == [(description,)]
    transcript = transcript_of(stack, sender)
    assert {"role": "user", "text": description} in [
        {"role": line["role"], "text": line["text"]} for line in transcript
    ]
    # tests/channels/test_agent_console_browser.py::test_hostile_user_text_is_shown_as_text
    # checks that the console page shows such text as text (textContent), in Chromium.


# --- properties: every entry point, random input ---------------------------------------------

REST_REQUESTS = st.fixed_dictionaries(
    # A sender with a lone surrogate stops the server: test_rest_sender_with_a_lone_surrogate…
    {
        "sender": st.one_of(
            SHORT_UTF8.filter(lambda sender: sender and ":" not in sender),
            SHORT_UTF8,
            st.sampled_from(["telegram:1", "widget:x", "", "a" * 129]),
        ),
        "message": st.one_of(TEXT, TEXT, JSON),
    },
    optional={
        "metadata": JSON,
        "message_id": st.one_of(SHORT_TEXT, JSON),
        "input_channel": JSON,
    },
).map(as_json)
# Mostly requests that reach Rasa, some that cannot.
REST_BODIES = st.one_of(REST_REQUESTS, REST_REQUESTS, JSON.map(as_json), st.binary(max_size=300))


@FUZZ
@given(body=REST_BODIES, content_type=CONTENT_TYPES)
def test_rest_answers_any_body_with_a_reply_or_a_4xx(
    stack: Entries, body: bytes, content_type: str
) -> None:
    answer = stack.http.post(REST_PATH, body, content_type=content_type)
    json_type = content_type.split(";")[0].strip().lower() == "application/json"
    # 413: over MAX_REQUEST_BYTES, refused before anything else looks at it.
    assert answer.status in ((200, 400, 413) if json_type else (400, 413, 415)), answer
    if answer.status != 413:  # Sanic's own answer, in the format the request suggests
        assert isinstance(answer.json(), list if answer.status == 200 else dict)


@FUZZ
@given(message=TEXT, metadata=st.one_of(st.none(), JSON))
def test_rest_answers_every_message_of_a_new_conversation(
    stack: Entries, message: str, metadata: Any
) -> None:
    # A new conversation each time: a repeated one may be waiting for an agent, silently.
    body = as_json({"sender": unique("fuzz"), "message": message, "metadata": metadata})
    assume(len(body) <= MAX_REQUEST_BYTES)  # larger ones get 413: test_rest_bodies_over_the_…
    texts = rest_texts(stack.http.post(REST_PATH, body))
    assert texts and all(isinstance(text, str) for text in texts), texts


def test_rest_still_answers_after_the_fuzzing(stack: Entries) -> None:
    stack.still_answers()


TELEGRAM_IDS = st.one_of(st.integers(1, 2**40), JSON)
TELEGRAM_MESSAGES = st.fixed_dictionaries(
    {
        "message_id": st.integers(0, 2**31),
        "from": st.fixed_dictionaries(
            {"id": TELEGRAM_IDS, "is_bot": st.booleans(), "first_name": SHORT_TEXT}
        ),
        "chat": st.fixed_dictionaries(
            {
                "id": TELEGRAM_IDS,
                "type": st.one_of(
                    st.sampled_from(["private", "group", "supergroup", "channel"]), SHORT_TEXT
                ),
            }
        ),
        "date": st.integers(0, 2**31),
    },
    optional={
        "text": st.one_of(TEXT, JSON),
        "caption": SHORT_TEXT,
        "sticker": JSON,
        "photo": JSON,
        "entities": JSON,
        "edit_date": st.integers(0, 2**31),
    },
)
TELEGRAM_UPDATES = st.fixed_dictionaries(
    # Only ids SQLite can store, no deep nesting and no lone surrogates in button data: those are
    # pinned below (test_telegram_update_ids_beyond_64_bits…, test_telegram_deeply_nested…,
    # test_telegram_button_data_with_a_lone_surrogate…).
    {"update_id": st.integers(*SQLITE_INTEGERS)},
    optional={
        "message": st.one_of(TELEGRAM_MESSAGES, JSON),
        "edited_message": TELEGRAM_MESSAGES,
        "callback_query": st.one_of(
            st.fixed_dictionaries(
                {
                    "id": st.one_of(SHORT_TEXT, JSON),
                    "from": st.fixed_dictionaries({"id": TELEGRAM_IDS}),
                    "message": TELEGRAM_MESSAGES,
                    "data": st.one_of(SHORT_UTF8, UTF8_JSON),
                }
            ),
            UTF8_JSON,
        ),
        "channel_post": JSON,
    },
)


@FUZZ
@given(
    body=st.one_of(
        TELEGRAM_UPDATES.map(as_json),
        TELEGRAM_UPDATES.map(as_json),
        JSON.map(as_json),
        st.binary(max_size=300),
    )
)
def test_telegram_answers_any_authenticated_body_with_200_or_400(
    stack: Entries, body: bytes
) -> None:
    answer = stack.telegram(body)
    assert answer.status in (200, 400, 413), answer  # 413: over 1 MB (900 K chars, escaped)


@FUZZ
@given(
    body=st.one_of(TELEGRAM_UPDATES.map(as_json), st.binary(max_size=300)),
    secret=st.one_of(st.none(), ASCII_HEADER.filter(lambda s: s.strip() != TELEGRAM_SECRET)),
)
def test_telegram_refuses_any_body_without_the_secret(
    stack: Entries, body: bytes, secret: str | None
) -> None:
    # 413 for a body over MAX_REQUEST_BYTES, refused unread before the secret is looked at.
    assert stack.telegram(body, secret=secret).status in (403, 413)


@FUZZ
@given(text=TEXT.filter(lambda text: len(text) <= 4096 and text.strip()))
def test_telegram_answers_every_private_text_with_at_least_one_message(
    stack: Entries, text: str
) -> None:
    # Blank texts get nothing: test_telegram_refused_messages_get_a_polite_reply[empty].
    assert stack.telegram_text(telegram_user_id(), text)


def test_telegram_still_answers_after_the_fuzzing(stack: Entries) -> None:
    assert stack.telegram_text(telegram_user_id(), "你好")[0].startswith(GREETING)
    stack.still_answers()


XML_NAMES = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.-]{0,10}\Z")


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def wechat_messages(draw: st.DrawFn) -> bytes:
    """A flat <xml> message near WeChat's, with hostile values and extra elements."""
    fields = draw(
        st.fixed_dictionaries(
            {
                "FromUserName": st.one_of(SHORT_TEXT, st.text(max_size=140)),
                "MsgType": st.one_of(
                    st.sampled_from(["text", "image", "voice", "video", "location", "event"]),
                    SHORT_TEXT,
                ),
            },
            optional={
                "ToUserName": st.one_of(st.just(WECHAT_ACCOUNT), SHORT_TEXT),
                "CreateTime": st.one_of(st.integers(), SHORT_TEXT),
                "Content": TEXT.filter(lambda text: len(text) < 10_000),
                "MsgId": st.one_of(st.integers(0, 2**64), SHORT_TEXT),
                "Event": st.one_of(
                    st.sampled_from(["subscribe", "unsubscribe", "CLICK"]), SHORT_TEXT
                ),
            },
        )
    )
    fields.update(draw(st.dictionaries(XML_NAMES, SHORT_TEXT, max_size=3)))
    parts = []
    for name, value in fields.items():
        value = str(value)
        cdata = draw(st.booleans()) and "]]>" not in value
        inner = f"<![CDATA[{value}]]>" if cdata else xml_escape(value)
        parts.append(f"<{name}>{inner}</{name}>")
    root = draw(st.sampled_from(["xml", "xml", "xml", "html"]))
    return f"<{root}>{''.join(parts)}</{root}>".encode("utf-8", "surrogatepass")


XML_ATTACKS = st.sampled_from(
    [
        BILLION_LAUGHS,
        XXE,
        b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/p.dtd"> %p;]><xml/>',
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/x.dtd"><xml/>',
        b"<xml>" + b"<a>" * 5_000 + b"</a>" * 5_000 + b"</xml>",
        b'<?xml version="1.0" encoding="UTF-16"?><xml/>',
        '<?xml version="1.0" encoding="utf-16"?><xml><MsgType>text</MsgType></xml>'.encode(
            "utf-16"
        ),
        b'<?xml version="1.0" encoding="latin-1"?><xml><FromUserName>\xe9</FromUserName></xml>',
        b"<xml><?php echo 1; ?><!-- c --><MsgType>text</MsgType></xml>",
        b'<xml xmlns:x="urn:x"><x:FromUserName>o</x:FromUserName><MsgType a="1">text</MsgType></xml>',
        b"<xml><FromUserName>o</FromUserName><MsgType>text</MsgType></xml><xml/>",
        b"\xef\xbb\xbf<xml><FromUserName>oBom</FromUserName><MsgType>event</MsgType></xml>",
    ]
)


@FUZZ
@given(
    body=st.one_of(wechat_messages(), XML_ATTACKS, st.binary(max_size=300)),
    content_type=st.one_of(st.none(), CONTENT_TYPES),
)
def test_wechat_answers_any_signed_body_with_200_or_400(
    stack: Entries, body: bytes, content_type: str | None
) -> None:
    answer = stack.wechat(body, content_type=content_type)
    assert answer.status in (200, 400, 413), answer
    if answer.status == 200:
        assert answer.text == "success" or answer.text.startswith("<xml>"), answer


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(
            ["signature", "timestamp", "nonce", "encrypt_type", "msg_signature", "echostr"]
        ),
        st.text(max_size=50),
    ),
    method=st.sampled_from(["GET", "POST"]),
)
def test_wechat_refuses_any_unsigned_call(
    stack: Entries, query: dict[str, str], method: str
) -> None:
    if method == "POST":
        answer = stack.wechat(wechat_xml("oUnsigned", "你好"), query)
    else:
        answer = stack.http.get(f"{WECHAT_WEBHOOK}?{urllib.parse.urlencode(query)}")
    assert answer.status in (400, 403), answer


def test_wechat_still_answers_after_the_fuzzing(stack: Entries) -> None:
    reply = stack.wechat_text(unique("oAfter"), "你好")
    assert reply is not None and reply.startswith(GREETING)
    stack.still_answers()


# Ticket ids SQLite can store (beyond: test_agent_console_ticket_ids_beyond_64_bits…) and far
# from the tickets of this module; strings without lone surrogates (test_agent_console_…
# lone_surrogate…); ASCII headers (test_agent_console_authorization_header_not_utf8…).
TICKET_IDS = st.one_of(st.integers(10**6, SQLITE_INTEGERS[1]), st.integers(SQLITE_INTEGERS[0], -1))
AGENT_BODIES = st.one_of(
    UTF8_JSON.map(as_json),
    st.binary(max_size=300),
    st.fixed_dictionaries(
        {},
        optional={
            "username": st.one_of(st.just("li"), SHORT_UTF8, UTF8_JSON),
            "password": st.one_of(SHORT_UTF8, UTF8_JSON),
            "text": st.one_of(UTF8, UTF8_JSON),
            "note": st.one_of(SHORT_UTF8, UTF8_JSON),
        },
    ).map(as_json),
)


@FUZZ
@given(body=AGENT_BODIES, content_type=CONTENT_TYPES)
def test_agent_login_answers_any_body_with_a_4xx(
    stack: Entries, body: bytes, content_type: str
) -> None:
    answer = stack.agent("/login", body, content_type=content_type)
    # 413: too large; 415: not a JSON body; 429: "li" was guessed too often by earlier examples.
    assert answer.status in (400, 401, 413, 415, 429), answer


@FUZZ
@given(
    action=st.sampled_from(["", "/claim", "/reply", "/close"]),
    ticket_id=TICKET_IDS,
    body=AGENT_BODIES,
    authorization=st.one_of(st.just("valid"), st.none(), ASCII_HEADER),
)
def test_agent_ticket_endpoints_answer_any_call_with_a_4xx(
    stack: Entries, action: str, ticket_id: int, body: bytes, authorization: str | None
) -> None:
    token = stack.agent_token if authorization == "valid" else authorization
    answer = stack.agent(
        f"/tickets/{ticket_id}{action}",
        None if action == "" else body,
        token=token,
        method="GET" if action == "" else "POST",
    )
    assert answer.status in (400, 401, 404, 409, 413), answer
    if token != stack.agent_token and answer.status != 413:  # 413: refused unread, before all
        assert answer.status == 401


def test_agent_console_still_works_after_the_fuzzing(stack: Entries) -> None:
    # Logging in again would be refused for a while: the fuzzing guessed the password of "li".
    assert stack.agent("/queue", token=stack.agent_token).status == 200
    stack.still_answers()


# Rasa 3.6 answers 500 for a body that is not an object, a text that is not a string or is
# blank (its classifier gets no features) or holds a lone surrogate: pinned below
# (test_rasa_api_bad_bodies…). A very long text blocks the server while it is parsed.
RASA_TEXTS = (
    TEXT.filter(lambda text: len(text) <= 2000)
    .map(lambda text: SURROGATES.sub("", text))
    .filter(str.strip)
)


@FUZZ
@given(
    body=st.fixed_dictionaries({"text": RASA_TEXTS}, optional={"message_id": JSON, "x": JSON}),
)
def test_rasa_parse_answers_any_object_with_a_text(stack: Entries, body: Any) -> None:
    assert_no_server_error(stack.rasa_api("/model/parse", as_json(body)))


@FUZZ
@given(
    conversation=st.text(
        alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30
    ),
    body=st.fixed_dictionaries(
        {
            "text": RASA_TEXTS,
            "sender": st.one_of(st.sampled_from(["user", "bot", "agent"]), SHORT_UTF8),
        },
        optional={"x": JSON},
    ),
)
def test_rasa_conversation_messages_answer_any_object_with_a_text(
    stack: Entries, conversation: str, body: Any
) -> None:
    path = f"/conversations/{urllib.parse.quote(conversation, safe='')}/messages"
    assert_no_server_error(stack.rasa_api(path, as_json(body)))


def test_rasa_api_still_works_after_the_fuzzing(stack: Entries) -> None:
    parsed = stack.rasa_api("/model/parse", as_json({"text": "你好"}))
    assert parsed.status == 200 and parsed.json()["intent"]["name"] == "greet"
    stack.still_answers()


@FUZZ
@given(query=st.text(max_size=60), header=ASCII_HEADER)
def test_metrics_answer_any_query(stack: Entries, query: str, header: str) -> None:
    answer = stack.http.get(
        f"/metrics?{urllib.parse.quote(query, safe='=&')}",
        headers={"Accept": header, "X-Forwarded-For": header},
    )
    assert answer.status == 200
    for line in filter(None, answer.text.splitlines()):
        assert re.fullmatch(r"# (HELP|TYPE) \w+ .*|\w+(\{[^}]*\})? -?[0-9.e+Inf-]+", line), line


WIDGET_EVENTS = st.one_of(
    st.just("user_uttered"),
    st.sampled_from(["session_request", "binding_code_request", "bot_uttered"]),
    st.from_regex(r"\A[a-z_]{1,12}\Z").filter(
        lambda name: name not in {"connect", "disconnect", "connect_error"}
    ),
)
WIDGET_PAYLOADS = st.one_of(
    # None sends no argument at all: test_widget_user_uttered_without_data…
    JSON.filter(lambda value: value is not None),
    st.fixed_dictionaries({"message": SHORT_TEXT}, optional={"session_id": JSON, "x": JSON}),
    st.fixed_dictionaries({"message": st.binary(max_size=50)}),
    st.binary(max_size=100),
)


@pytest.fixture(scope="module")
def fuzzed_widget(served: ServedStack, served_logs: LogWindow) -> Iterator[SyncWidget]:
    """A socket of its own, opened when the fuzzing starts (an idle client drops after 30 s)."""
    client = SyncWidget(served.base_url, unique("widget-fuzzed"))
    try:
        yield client
    finally:
        client.close()


@FUZZ
@given(event=WIDGET_EVENTS, payload=WIDGET_PAYLOADS)
def test_widget_handles_any_event_and_keeps_the_socket(
    fuzzed_widget: SyncWidget, event: str, payload: Any
) -> None:
    if event == "user_uttered":
        fuzzed_widget.emit(payload)  # waits for the server's ack: handled, no hang
    else:
        # python-socketio acknowledges no event without a handler: the next one shows the
        # socket is still served.
        fuzzed_widget.run(fuzzed_widget.user.client.emit(event, payload))
        fuzzed_widget.emit({})
    assert fuzzed_widget.connected


def engineio_waits_forever(body: bytes) -> bool:
    """Whether a polling POST holds a packet a client never sends (open, ping, noop, 7–9).
    engine.io reads the type with int(), which takes any Unicode digit: ᮶ is a noop too."""
    try:
        packets = body.decode("utf-8").split("\x1e")
    except UnicodeDecodeError:
        return False
    return any(packet_type(packet) in (0, 2, 6, 7, 8, 9) for packet in packets if packet)


def packet_type(packet: str) -> int | None:
    try:
        return int(packet[:1])
    except ValueError:
        return None


# Without the packets of test_engineio_post_with_a_ping_packet…
ENGINEIO_BODIES = st.one_of(
    st.binary(max_size=200),
    st.lists(
        st.one_of(st.sampled_from(["1", "3", "4", "5", "40", "42", "b"]), st.text(max_size=20)),
        max_size=4,
    )
    .map("".join)
    .map(str.encode),
).filter(lambda body: not engineio_waits_forever(body))


@FUZZ
@given(body=ENGINEIO_BODIES)
def test_engineio_polling_answers_any_packet_with_200_or_400(
    served_stack: Entries, body: bytes
) -> None:
    opened = served_stack.http.get("/socket.io/?EIO=4&transport=polling")
    session = json.loads(opened.body[1:])["sid"]
    url = f"/socket.io/?EIO=4&transport=polling&sid={session}"
    answer = served_stack.http.post(url, body, content_type="text/plain;charset=UTF-8")
    assert answer.status in (200, 400)


def test_the_widget_still_answers_after_the_fuzzing(
    served: ServedStack, served_stack: Entries
) -> None:
    client = SyncWidget(served.base_url, unique("widget-after"))
    try:
        assert client.say("你好")[0].startswith(GREETING)
    finally:
        client.close()
    served_stack.still_answers()


def test_no_traceback_through_our_code_in_the_logs(stack: Entries, served_logs: LogWindow) -> None:
    """Runs after everything above: nothing of ours failed, even when the answer was fine (the
    in-process server's logs, and what the served stack logged during this module)."""
    for log in ("rasa.log", "actions.log"):
        text = (stack.workdir / log).read_text(encoding="utf-8", errors="replace")
        assert our_tracebacks(text) == [], log
    for path in served_logs.paths:
        assert our_tracebacks(served_logs.text(path)) == [], path


def test_the_log_check_tells_our_tracebacks_from_upstream_ones() -> None:
    ours = (
        "[ERROR] Exception occurred while handling uri: 'http://127.0.0.1/webhooks/agent/api/queue'\n"
        "Traceback (most recent call last):\n"
        '  File "handle_request", line 83, in handle_request\n'
        '  File "/work/main/bot/channels/agent_console.py", line 143, in queue\n'
        "UnicodeEncodeError: 'utf-8' codec can't encode character '\\udcff'\n"
    )
    handler = (
        "Traceback (most recent call last):\n"
        '  File "/x/site-packages/socketio/asyncio_server.py", line 549, in _trigger_event\n'
        "TypeError: WidgetChannel.blueprint.<locals>.user_uttered() missing 1 required positional\n"
    )
    upstream = (
        "message async handler error\n"
        "Traceback (most recent call last):\n"
        '  File "/x/site-packages/socketio/packet.py", line 114, in decode\n'
        "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)\n"
        "2026-11-23 04:35:53 INFO     bot.channels.widget  - widget connection refused\n"
    )
    found = our_tracebacks(upstream + ours + upstream + handler)
    assert len(found) == 2 and "agent_console.py" in found[0] and "WidgetChannel" in found[1]
