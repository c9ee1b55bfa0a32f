"""The agent-outbound guard: requests for a secret in many wordings (and the warnings that are
not requests), the addresses, links and contacts it reads, what explains them (the conversation,
the user's account in a real SQLite wallet, the official channels, the help center, a
supervisor's approval), what a block leaves in the audit log, alerts and log, hostile input and
speed; and the approval routes on a small server of their own with a fresh handoff store."""

from __future__ import annotations

import logging
import os
import socket
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.handoff.access import RoleCheck
from bot.handoff.audit import GUARD_APPROVAL, REPLY_BLOCKED
from bot.handoff.guard import Blocked, GuardApprovals, OutboundGuard, official_channels
from bot.handoff.guard_console import GuardHandlers
from bot.handoff.records import Reason, Role, Summary, Team, Ticket
from bot.handoff.references import references
from bot.handoff.secret_requests import secret_requests
from bot.handoff.store import HandoffStore
from bot.help_center.articles import ARTICLES_DIR, load_directory
from bot.help_center.library import HelpCenter
from bot.help_center.store import ArticleStore
from bot.services import Services
from bot.settings import Settings
from bot.wallet import demo_data
from bot.wallet.explorers import explorer_link
from bot.wallet.http import HttpWalletService
from bot.wallet.records import Direction, Transaction
from bot.wallet.service import WalletService
from bot.wallet.sql import SqlWalletService
from tests.support.channel_server import InProcessSanic, served_app
from tests.support.http import CONSOLE_API, Answer, Http

MNEMONIC = (
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
)
EVM = "0x52908400098527886E0F7030069857D2E4169EE7"
TRON = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"
BTC = "1BoatSLRm1h8Hdg5nYmUNDDJo6m9ir5y2X"
BECH32 = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
SOLANA = "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"

# Requests for a secret: simplified, traditional, English, mixed, written around the guard.
REQUESTS = [
    ("请把助记词发给我核实", "助记词"),
    ("麻烦提供一下您的私钥", "私钥"),
    ("请告诉我您的支付密码", "支付密码"),
    ("您的验证码是多少？", "验证码"),
    ("把收到的短信验证码发过来", "短信验证码"),
    ("请将助记词截图发给客服", "助记词"),
    ("我需要您的助记词来帮您恢复钱包", "助记词"),
    ("请在下面输入您的助记词", "助记词"),
    ("请把12个单词按顺序发我", "12个单词"),
    ("助记词发我一下", "助记词"),
    ("验证码报一下", "验证码"),
    ("请回复您收到的验证码", "验证码"),
    ("请把谷歌验证码告诉我", "谷歌验证码"),
    ("把支付密码发到这里", "支付密码"),
    ("请输入你的登录密码到这个链接", "登录密码"),
    ("请导出私钥发给我", "私钥"),
    ("请将keystore文件发给我们", "keystore"),
    ("我帮您看看助记词对不对", "助记词"),
    ("您的助记词呢？", "助记词"),
    ("您的pin码是多少", "pin码"),
    ("请提供手机号和验证码", "验证码"),
    ("請把助記詞發給我核實", "助記詞"),
    ("麻煩提供您的私鑰", "私鑰"),
    ("請告訴我您的登錄密碼", "登錄密碼"),
    ("您的驗證碼是多少", "驗證碼"),
    ("請在對話框輸入您的交易密碼", "交易密碼"),
    # A negation or a scam named elsewhere does not make the request a warning.
    ("不要担心，请把助记词发给我", "助记词"),
    ("别着急，把私钥发给我们就行", "私钥"),
    ("为了防止诈骗，请提供助记词", "助记词"),
    ("为防止被骗请把助记词发给我核实", "助记词"),
    ("请提供助记词，我是官方客服不会是骗子", "助记词"),
    ("请提供交易哈希。不要担心，助记词发给我就可以", "助记词"),
    # Written so that a plain search misses it.
    ("请把助 记 词发给我", "助记词"),
    ("请把助\u200b记词发给我", "助记词"),
    ("请把<b>助记词</b>发给我", "助记词"),
    ("请把ｚｈｕｊｉｃｉ发给我", "zhujici"),
    ("请提供您的 seed phrase", "seed phrase"),
    ("好的please tell me your password", "password"),
    ("Please send me your seed phrase", "seed phrase"),
    ("Send me your seed phrase to verify your wallet.", "seed phrase"),
    ("What is your 2FA code?", "2fa code"),
    ("请把您的谷歌 验证码发给我", "谷歌验证码"),
    ("Can you share your recovery phrase with me", "recovery phrase"),
    ("I need your private key to restore the wallet", "private key"),
    ("Please type your seed phrase here", "seed phrase"),
    ("Give us the verification code you received", "verification code"),
    ("Don't worry, just send me your mnemonic", "mnemonic"),
    ("为了核实身份，麻烦您把助记词的前六个词发一下", "助记词"),
    ("您把私钥复制粘贴到对话框里就行", "私钥"),
    ("请问您的支付密码是？", "支付密码"),
    ("能不能把助记词告诉我一下", "助记词"),
    ("可不可以提供一下私钥", "私钥"),
    ("需要您提供助记词进行身份验证", "助记词"),
    ("您只需要把助记词填到我发的链接里即可", "助记词"),
    ("方便把种子词发过来吗", "种子词"),
    ("请输入您的助记词以验证钱包", "助记词"),
    ("Kindly provide your 12-word recovery phrase", "recovery phrase"),
    ("Please DM me your private key", "private key"),
    ("Your seed phrase please", "seed phrase"),
    ("For verification, paste your seed phrase below", "seed phrase"),
]

# Warnings, advice and questions that name a secret without asking for it.
WARNINGS = [
    "请勿把助记词告诉任何人",
    "客服不会索要您的私钥",
    "IM客服绝不会要求您提供助记词、私钥或密码",
    "不要向任何人透露验证码",
    "千万不要把助记词发给别人",
    "任何人向您索要助记词都是骗子",
    "任何让您提供助记词的人都是骗子",
    "有个网站让我输入助记词领空投",
    "如果您已经在网站输入过助记词，请立即转移资产",
    "您之前有没有把助记词告诉过别人？",
    "请在App的「导入钱包」里按顺序输入助记词即可恢复",
    "助记词只能自己输入，不要发给任何人，IM 客服也绝不会索要。",
    "我们不需要您的助记词",
    "请您不要把助记词发给我们或任何人",
    "请放心，我们永远不会问您要密码",
    "官方不会以任何理由向您索要验证码",
    "请勿将验证码透露给任何人，包括自称客服的人",
    "请点击发送验证码，然后在App里输入收到的验证码",
    "我们会通过短信验证码验证您的身份",
    "收不到验证码时，先核对手机号或邮箱是否填对",
    "请提供交易哈希，不要提供助记词",
    "忘记支付密码，可以用注册的手机号或邮箱接收验证码来重置",
    "请提供注册手机号以便发送验证码",
    "验证码6位数字，5分钟内有效",
    "请确认您已备份助记词",
    "助记词丢了我们也无法找回",
    "用身份验证器扫描页面上的二维码，或手动输入密钥。",
    "请不要截图保存助记词",
    "请告诉我您遇到的问题",
    "告诉您一个验证码收不到的解决办法",
    "不要相信任何让您提供助记词的人",
    "没有人会向您索要助记词",
    "如果有人让您提供验证码，请立即拒绝",
    "谨防有人冒充客服索要验证码",
    "请注意：不要把私钥发给我们",
    "請勿把助記詞告訴任何人",
    "客服不會索要您的私鑰",
    "千萬不要把驗證碼發給別人",
    "Never share your seed phrase with anyone.",
    "We will never ask for your private key or password.",
    "Anyone who asks for your seed phrase is a scammer.",
    "Don't send your recovery phrase to anyone, including us.",
    "If a website asks you to enter your seed phrase, it is a scam.",
    "Enter the verification code in the app to reset your password.",
    "Please send me the error code shown on the screen",
    "Please send me a screenshot of the transfer page",
    "请把收款二维码截图发给我",
    "如您收到验证码，请勿告诉任何人",
    "您的助记词请自己保管，丢了谁也找不回来",
    "重置支付密码需要短信验证码，请在App里操作",
    "验证码发送到了您尾号5678的手机",
    "会不会有人让您提供验证码？有的话都是骗子",
    "The app will ask for your password when you send.",
    "Keep your seed phrase offline and never share it.",
    "We cannot recover your seed phrase.",
]


@pytest.mark.parametrize(("text", "word"), REQUESTS)
def test_a_request_for_a_secret_is_found_in_any_wording(text: str, word: str) -> None:
    assert secret_requests(text) == [word]


@pytest.mark.parametrize("text", WARNINGS)
def test_a_warning_or_advice_is_no_request(text: str) -> None:
    assert secret_requests(text) == []


def test_the_help_center_s_own_words_are_no_request() -> None:
    """What agents copy from the articles: each summary and body."""
    for article in load_directory(ARTICLES_DIR):
        assert secret_requests(f"{article.summary}\n{article.body}") == [], article.article_id


def test_typing_a_mnemonic_passes_only_where_the_app_is_named() -> None:
    assert secret_requests("按顺序输入全部助记词，注意拼写。") == ["助记词"]
    assert secret_requests("2. 选择“导入钱包”。\n3. 按顺序输入全部助记词，注意拼写。") == []
    assert secret_requests("在 App 里按顺序输入全部助记词，然后发到这里给我看看。") == ["助记词"]
    assert secret_requests("请在 App 里输入验证码") == []
    assert secret_requests("请在这里输入验证码") == ["验证码"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"请转到 {EVM} 这个地址", [("address", EVM)]),
        (f"地址：{EVM[:6]} {EVM[6:14]} {EVM[14:30]} {EVM[30:]}", [("address", None)]),
        (f"TRON 地址{TRON}收款", [("address", TRON)]),
        (f"BTC: {BTC} 或 {BECH32}", [("address", BTC), ("address", BECH32)]),
        (f"Solana 地址 {SOLANA} 请核对", [("address", SOLANA)]),
        ("看https://evil.com/验证", [("url", "https://evil.com/")]),
        ("访问imwallet-verify.com验证钱包", [("url", "imwallet-verify.com")]),
        ("请到 www.evil.io 领取", [("url", "www.evil.io")]),
        ("evil[.]com 或 evil。com 或 evil点com", [("url", "evil.com")]),
        ("ｈｔｔｐｓ：／／ｅｖｉｌ．ｃｏｍ", [("url", "https://evil.com")]),
        ("请访问 https://例子.中国/x", [("url", "https://例子.中国")]),
        ("<a href='https://evil.io'>点这里</a>", [("url", "https://evil.io")]),
        ("加入 t.me/IMWallet_Help 或 tg://resolve?domain=EvilSupport", [("url", None)] * 2),
        ("联系@ImWalletHelp", [("contact", "@ImWalletHelp")]),
        (
            "加我微信 abc12345，或者微信号是 imwallet",
            [("contact", "abc12345"), ("contact", "imwallet")],
        ),
        ("发邮件到 help@imwallet-help.com", [("contact", "help@imwallet-help.com")]),
    ],
)
def test_addresses_links_and_contacts_are_read_however_written(
    text: str, found: list[tuple[str, str | None]]
) -> None:
    read = references(text)
    assert [r.kind for r in read] == [kind for kind, _ in found]
    for reference, (_, value) in zip(read, found, strict=True):
        assert value is None or reference.value == value


@pytest.mark.parametrize(
    "text",
    [
        "版本 v1.2.3，金额 1.5ETH、0.5个USDT，手续费 6.5 TRX",
        "e.g. i.e. Mr. Li 3.14 USDT.TRC20",
        "下载 wallet.apk 然后打开 截图.png",
        "交易哈希 0x" + "ab" * 32,
        "您的工单号是 #1234，手机号 138****5678",
        "请在 App 里打开「我的 → 关于我们 → 官方渠道」",
    ],
)
def test_numbers_files_and_hashes_are_no_references(text: str) -> None:
    assert references(text) == []


def test_an_evm_address_is_the_same_in_any_case() -> None:
    assert references(EVM.lower())[0].key == references(EVM.upper().replace("0X", "0x"))[0].key


# The review, on a server's services.


@dataclass
class Guarded:
    store: HandoffStore
    articles: ArticleStore
    guard: OutboundGuard
    run: Any

    def review(self, ticket: Ticket, text: str, lines: list[Any] | None = None) -> list[Blocked]:
        return list(self.run(self.guard.review(ticket, "ann", text, lines or [])))

    def kinds(self, ticket: Ticket, text: str, lines: list[Any] | None = None) -> list[str]:
        return [b.kind for b in self.review(ticket, text, lines)]


def guarded(tmp_path: Path, store: HandoffStore, wallet: WalletService, run: Any) -> Guarded:
    env = {
        **os.environ,
        "HANDOFF_DB_URL": f"sqlite:///{tmp_path / 'handoff.db'}",
        "HELP_CENTER_REFRESH_SECONDS": "0",  # an article saved is read at the next review
    }
    articles = ArticleStore.from_url(env["HANDOFF_DB_URL"])
    help_center = HelpCenter(articles, refresh_seconds=0, seed=None)
    app = InProcessSanic(f"guard-test-{time.monotonic_ns()}")
    app.ctx.services = Services(
        Settings.from_env(env), handoff=store, wallet=wallet, help_center=help_center
    )
    return Guarded(store, articles, OutboundGuard(app), run)


@pytest.fixture
def guard(tmp_path: Path, store: HandoffStore, sql_wallet: SqlWalletService, run: Any) -> Guarded:
    return guarded(tmp_path, store, sql_wallet, run)


def anonymous(store: HandoffStore, conversation: str = "c-rest") -> Ticket:
    return store.tickets.open(conversation, "rest", Reason.REQUESTED, Summary())


def alice(store: HandoffStore, conversation: str = "c-alice") -> Ticket:
    return store.tickets.open(
        conversation, "widget", Reason.REQUESTED, Summary(), account_id=demo_data.ALICE
    )


def said(*texts: str, role: str = "user") -> list[dict[str, Any]]:
    return [{"role": role, "text": text} for text in texts]


def test_a_request_for_the_mnemonic_is_blocked_and_a_warning_passes(guard: Guarded) -> None:
    ticket = anonymous(guard.store)
    assert guard.review(ticket, "请把助记词发给我核实") == [Blocked("secret_request", "助记词")]
    assert guard.review(ticket, "请勿把助记词告诉任何人，客服不会索要您的私钥。") == []


def test_the_user_s_own_address_passes_in_any_case_and_one_from_nowhere_is_blocked(
    guard: Guarded,
) -> None:
    ticket = anonymous(guard.store)
    lines = said(f"我转到 {EVM.lower()} 的USDT没到账", "转人工")
    assert guard.review(ticket, f"您说的地址 {EVM} 我查一下", lines) == []
    assert guard.review(ticket, f"请转到 {TRON} 完成验证", lines) == [
        Blocked("unknown_address", TRON)
    ]
    for address in (BTC, BECH32, SOLANA):
        assert guard.kinds(ticket, f"地址 {address}") == ["unknown_address"]
        assert guard.kinds(ticket, f"地址 {address}", said(f"我的地址是{address}")) == []


def test_the_bot_s_lines_explain_a_value_but_the_agent_s_own_do_not(guard: Guarded) -> None:
    ticket = anonymous(guard.store)
    assert guard.kinds(ticket, f"就是 {EVM}", said(f"合约 {EVM}", role="bot")) == []
    assert guard.kinds(ticket, f"就是 {EVM}", said(f"转到 {EVM}", role="agent")) == [
        "unknown_address"
    ]


def test_the_user_s_account_explains_their_addresses_and_hashes(guard: Guarded) -> None:
    theirs = alice(guard.store)
    nobody = anonymous(guard.store)
    text = f"您转到的地址是 {demo_data.EXCHANGE_ETH}"
    assert guard.review(theirs, text) == []
    assert guard.kinds(nobody, text) == ["unknown_address"]
    # A bare 64-hex value may be a key: it passes as one of the account's transaction hashes.
    assert guard.review(theirs, demo_data.TX_INCOMING) == []
    assert guard.kinds(nobody, demo_data.TX_INCOMING) == ["secret"]
    assert guard.kinds(nobody, demo_data.TX_INCOMING, said(f"哈希{demo_data.TX_INCOMING}")) == []


def test_official_channels_and_explorers_pass_and_lookalikes_do_not(guard: Guarded) -> None:
    ticket = anonymous(guard.store)
    official = "官网 https://www.example.com ，帮助中心 support.example.com/help ，邮箱 support@example.com"
    official += "，Telegram t.me/IMWalletOfficial 或 @imwalletcn，公众号 imwallet_official"
    assert guard.review(ticket, official) == []
    for chain in ("ETH", "TRON", "BSC", "POLYGON", "BTC", "SOL", "LTC"):
        link = explorer_link(chain, "ab" * 32)
        assert link is not None
        assert guard.review(ticket, f"浏览器链接 {link}") == [], link
    for lookalike in (
        "https://example.com.verify-wallet.io",
        "examp1e.com",
        "https://support-example.com/login",
        "t.me/IMWalletOfficia1",
        "@IMWallet_Official",
        "加我微信 imwallet_0fficial",
        "support@example.co",
    ):
        assert guard.kinds(ticket, f"请联系 {lookalike}") in (
            ["unknown_url"],
            ["unknown_contact"],
        ), lookalike


def test_the_official_list_names_every_kind_of_channel() -> None:
    channels = official_channels()
    assert {key.split(":")[0] for key in channels.keys} == {"telegram", "wechat", "email"}
    assert "example.com" in channels.domains and "etherscan.io" in channels.domains


def test_a_link_in_a_help_center_article_passes(guard: Guarded) -> None:
    ticket = anonymous(guard.store)
    assert guard.kinds(ticket, "教程见 https://docs.partner-bank.com/kyc") == ["unknown_url"]
    article = (
        "---\nid: partner-kyc-link\ntitle: 合作方认证\nsummary: 见合作方说明\nquestions: [认证]\n"
        "tags: []\nintents: []\n---\n合作方的说明在 https://docs.partner-bank.com/kyc 。\n"
    )
    guard.articles.save(article, "kb-editor", None)
    assert guard.review(ticket, "教程见 https://docs.partner-bank.com/kyc") == []


def test_an_approval_lets_the_value_through_on_its_ticket_only(guard: Guarded) -> None:
    ticket, other = anonymous(guard.store, "c-1"), anonymous(guard.store, "c-2")
    approvals = GuardApprovals(guard.store.engine)
    approvals.approve(ticket.ticket_id, EVM.lower(), "sue")
    again = approvals.approve(ticket.ticket_id, EVM.lower(), "ada")
    assert (again.approved_by, len(approvals.approvals(ticket.ticket_id))) == ("sue", 1)
    assert guard.review(ticket, f"请转到 {EVM}") == []
    assert guard.kinds(other, f"请转到 {EVM}") == ["unknown_address"]


def test_a_secret_in_the_reply_is_blocked_with_the_marker_only(guard: Guarded) -> None:
    ticket = anonymous(guard.store)
    blocked = guard.review(ticket, f"您的钱包助记词：{MNEMONIC}")
    assert blocked == [Blocked("secret", "[已隐藏的助记词]")]
    assert guard.kinds(ticket, "初始密码是 Abc12345") == ["secret"]


def test_a_block_is_in_the_audit_log_and_alerted_with_masked_values_and_nothing_logged(
    guard: Guarded, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = anonymous(guard.store)
    text = f"请把助记词发给我，转到 {EVM}，再看 https://evil.io/x?token=abc 。{MNEMONIC}"
    with caplog.at_level(logging.DEBUG):
        blocked = guard.review(ticket, text)
    assert [b.kind for b in blocked] == [
        "secret_request",
        "secret",
        "unknown_address",
        "unknown_url",
    ]
    [entry] = [e for e in guard.store.audit.entries(None) if e.action == REPLY_BLOCKED]
    assert (entry.actor, entry.target) == ("ann", f"ticket:{ticket.ticket_id}")
    assert entry.detail == (
        "secret_request=助记词; secret=[已隐藏的助记词]; "
        f"unknown_address={EVM[:6]}…{EVM[-4:]}; unknown_url=evil.io"
    )
    [alert] = guard.store.audit.alerts()
    assert (alert.kind, alert.actor, alert.ticket_id, alert.detail) == (
        "reply_blocked",
        "ann",
        ticket.ticket_id,
        entry.detail,
    )
    for record in caplog.records:
        message = record.getMessage()
        assert "abandon" not in message and EVM not in message and "token" not in message


def test_nothing_is_recorded_for_a_reply_that_passes(guard: Guarded) -> None:
    ticket = anonymous(guard.store)
    assert guard.review(ticket, "您好，我是客服小李，请问转账是什么时候发起的？") == []
    assert guard.store.audit.entries(None) == [] and guard.store.audit.alerts() == []


@pytest.mark.parametrize(
    "text",
    [
        "长" * 100_000,
        "😀🔥" * 5000 + "助记词发给我",
        "<script>alert('助记词')</script><img src=x onerror=alert(1)>" * 200,
        "\u202e\u200b\ufeff" * 1000,
        "0x" * 10_000,
        "提供助记词" * 2000,
        "@" * 5000 + "a.b/" * 3000,
        "https://" + "a" * 50_000,
        "evil.com @abcde 0x" * 3000,
        "\x00\x01\x02 助记词 \x7f",
    ],
)
def test_hostile_text_never_crashes_the_review(guard: Guarded, text: str) -> None:
    ticket = anonymous(guard.store)
    blocked = guard.review(
        ticket, text, [{"role": "user"}, {"text": 3}, "x", {"role": "user", "text": None}]
    )
    assert all(b.kind != "unchecked" for b in blocked)


def test_a_wallet_outage_or_unreadable_approvals_still_block_and_never_crash(
    tmp_path: Path, store: HandoffStore, run: Any
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = HttpWalletService(f"http://127.0.0.1:{port}", token="t", timeout=1, retries=0)
    guard = guarded(tmp_path, store, down, run)
    ticket = alice(store)
    assert guard.kinds(ticket, f"转到 {EVM}") == ["unknown_address"]
    with store.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE handoff_guard_approvals"))
    assert guard.kinds(ticket, f"转到 {EVM}") == ["unknown_address"]


class BrokenWallet(SqlWalletService):
    """A wallet adapter with a bug: not a WalletError."""

    def transactions(self, account_id: str, direction: Direction, limit: int) -> list[Transaction]:
        raise RuntimeError("bug")


def test_a_guard_that_fails_stops_the_reply(tmp_path: Path, store: HandoffStore, run: Any) -> None:
    broken = BrokenWallet.from_url("sqlite://")
    guard = guarded(tmp_path, store, broken, run)
    assert guard.review(alice(store), f"转到 {EVM}") == [Blocked("unchecked", "")]
    [entry] = store.audit.entries(None)
    assert entry.action == REPLY_BLOCKED and entry.detail == "unchecked="


def test_a_typical_reply_is_reviewed_within_10_ms(guard: Guarded) -> None:
    ticket = alice(guard.store)
    lines = said(*[f"第{i}条：我的USDT转账一直没到账，怎么办？" for i in range(40)])
    replies = [
        "您好，我是客服小李，我来帮您查一下这笔转账。",
        "这笔 TRC20 转账需要约 20 个确认，请稍等几分钟再刷新。",
        f"您转入的地址是 {demo_data.EXCHANGE_ETH}，交易所到账需要 12 个确认。",
        "请勿把助记词告诉任何人，IM 客服不会索要您的私钥或验证码。",
    ]
    guard.review(ticket, replies[0], lines)  # the detector's word lists load once
    took = []
    for _ in range(10):
        for reply in replies:
            start = time.perf_counter()
            assert guard.review(ticket, reply, lines) == []
            took.append(time.perf_counter() - start)
    assert statistics.median(took) < 0.010, statistics.median(took)


# The approval routes, on a server of their own.

PASSWORD = "a-long-guard-password"


@dataclass
class GuardServer:
    store: HandoffStore
    http: Http
    tokens: dict[str, str]

    def call(self, who: str | None, method: str, path: str, body: Any = None) -> Answer:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        if method == "GET":
            return self.http.get(f"{CONSOLE_API}{path}", headers=headers)
        return self.http.post(f"{CONSOLE_API}{path}", json=body or {}, headers=headers)

    def approve(self, who: str | None, ticket_id: int, value: Any) -> Answer:
        return self.call(who, "POST", f"/tickets/{ticket_id}/guard/approve", {"value": value})


@contextmanager
def serve(tmp_path: Path, store: HandoffStore) -> Iterator[GuardServer]:
    """The approval routes with ``store``; an agent ``ann``, a supervisor ``sue`` and an admin
    ``ada``, logged in."""
    app = InProcessSanic(f"guard-routes-{tmp_path.name}")
    env = {**os.environ, "HANDOFF_DB_URL": f"sqlite:///{tmp_path / 'handoff.db'}"}
    app.ctx.services = Services(Settings.from_env(env), handoff=store)
    for method, uri, handler in GuardHandlers(RoleCheck(store)).routes():
        app.add_route(_plain(handler), f"/webhooks/agent{uri}", methods=[method])
    tokens = {}
    for name, role in {"ann": Role.AGENT, "sue": Role.SUPERVISOR, "ada": Role.ADMIN}.items():
        store.agents.add(name, name, PASSWORD, role, (Team.GENERAL,))
        token = store.agents.login(name, PASSWORD, timedelta(hours=1))
        assert token is not None
        tokens[name] = token
    with served_app(app) as url:
        yield GuardServer(store, Http.to(url), tokens)


def _plain(handler: Any) -> Any:
    async def route(request: Any, **params: Any) -> Any:
        return await handler(request, **params)

    return route


@pytest.fixture
def server(tmp_path: Path, store: HandoffStore) -> Iterator[GuardServer]:
    with serve(tmp_path, store) as running:
        yield running


def test_a_supervisor_approves_a_value_and_the_approval_is_recorded(server: GuardServer) -> None:
    ticket = anonymous(server.store)
    answer = server.approve("sue", ticket.ticket_id, f"  {EVM}  ")
    assert answer.status == 200, answer
    approval = answer.json()["approval"]
    assert (approval["ticket_id"], approval["value"], approval["approved_by"]) == (
        ticket.ticket_id,
        EVM,
        "sue",
    )
    assert server.approve("ada", ticket.ticket_id, "https://docs.partner-bank.com").status == 200
    listed = server.call("sue", "GET", f"/tickets/{ticket.ticket_id}/guard/approvals").json()
    assert [a["value"] for a in listed["approvals"]] == [EVM, "https://docs.partner-bank.com"]
    entries = [e for e in server.store.audit.entries(None) if e.action == GUARD_APPROVAL]
    assert [(e.actor, e.target, e.detail) for e in reversed(entries)] == [
        ("sue", f"ticket:{ticket.ticket_id}", f"value={EVM}"),
        ("ada", f"ticket:{ticket.ticket_id}", "value=https://docs.partner-bank.com"),
    ]


def test_an_agent_cannot_approve_or_list_and_nobody_without_a_session(
    server: GuardServer,
) -> None:
    ticket = anonymous(server.store)
    refused = server.approve("ann", ticket.ticket_id, EVM)
    assert refused.status == 403 and "supervisor" in refused.json()["error"]
    assert server.call("ann", "GET", f"/tickets/{ticket.ticket_id}/guard/approvals").status == 403
    assert server.approve(None, ticket.ticket_id, EVM).status == 401
    assert server.call(None, "GET", f"/tickets/{ticket.ticket_id}/guard/approvals").status == 401
    assert GuardApprovals(server.store.engine).approvals(ticket.ticket_id) == []
    assert [e for e in server.store.audit.entries(None) if e.action == GUARD_APPROVAL] == []


@pytest.mark.parametrize(
    "value", [None, "", "   ", 42, ["0x"], "就是这个", "x" * 300, "0x" + "ab" * 32, MNEMONIC]
)
def test_only_an_address_link_or_contact_is_approved(server: GuardServer, value: Any) -> None:
    ticket = anonymous(server.store)
    answer = server.approve("sue", ticket.ticket_id, value)
    assert answer.status == 400 and "error" in answer.json()
    assert "abandon" not in answer.text
    assert GuardApprovals(server.store.engine).approvals(ticket.ticket_id) == []


def test_no_such_ticket_is_404(server: GuardServer) -> None:
    assert server.approve("sue", 999_999, EVM).status == 404
    assert server.approve("sue", 2**63, EVM).status == 404
    assert server.call("sue", "GET", "/tickets/999999/guard/approvals").status == 404


def test_no_approval_without_an_audit_record(server: GuardServer) -> None:
    ticket = anonymous(server.store)
    with server.store.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE handoff_audit_log"))
    answer = server.approve("sue", ticket.ticket_id, EVM)
    assert answer.status == 503 and "audit" in answer.json()["error"]
    assert GuardApprovals(server.store.engine).approvals(ticket.ticket_id) == []
