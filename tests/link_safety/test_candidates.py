"""What a user pasted: addresses with the chain their form shows, links and domains, Telegram
handles (also as t.me links), e-mail addresses and WeChat IDs only where named as such."""

from __future__ import annotations

import pytest

from bot.link_safety.candidates import candidates
from bot.link_safety.records import Candidate, Kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("这个是官方客服吗 @IMWallet_Support", [Candidate(Kind.TELEGRAM, "IMWallet_Support")]),
        ("t.me/imwalletofficial 是真的吗", [Candidate(Kind.TELEGRAM, "imwalletofficial")]),
        # The handle as written: its capital I passing for an l is the point.
        (
            "有人拉我进群 https://t.me/IMWalletOfficiaI ，说是官方群",
            [Candidate(Kind.TELEGRAM, "IMWalletOfficiaI")],
        ),
        (
            "客服让我打开 imwallet-support.com/verify 验证钱包，安全吗？",
            [Candidate(Kind.URL, "imwallet-support.com/verify")],
        ),
        (
            "这个网站 https://www.example.com/help?x=1。是你们的吗",
            [Candidate(Kind.URL, "https://www.example.com/help?x=1")],
        ),
        ("对方说加他微信号 imwallet_kefu 处理", [Candidate(Kind.WECHAT, "imwallet_kefu")]),
        ("客服微信是 kefu2024，靠谱吗", [Candidate(Kind.WECHAT, "kefu2024")]),
        (
            "收到 support@imwallet-help.com 的邮件让我重置助记词",
            [Candidate(Kind.EMAIL, "support@imwallet-help.com")],
        ),
    ],
)
def test_what_a_user_pasted_is_found_with_its_kind(text: str, expected: list[Candidate]) -> None:
    assert candidates(text) == expected


@pytest.mark.parametrize(
    ("address", "chain"),
    [
        ("TDrainerSpenderDemoAddre55Xw9kQmRt", "TRON"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "BTC"),
        ("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "BTC"),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "BTC"),
        ("LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz", "LTC"),
        ("7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV", "SOLANA"),
    ],
)
def test_an_address_carries_the_chain_its_form_shows(address: str, chain: str) -> None:
    assert candidates(f"帮我查一下这个地址 {address} 安全吗") == [
        Candidate(Kind.ADDRESS, address, chain)
    ]


def test_an_evm_address_is_one_in_any_case_on_every_evm_chain() -> None:
    address = "0x28C6c06298d514Db089934071355E5743bf21d60"
    found = candidates(f"转账地址 {address}，还有 {address.lower()} 是同一个吗")
    assert found == [Candidate(Kind.ADDRESS, address.lower(), None)]


def test_several_candidates_come_each_once_in_order() -> None:
    text = (
        "群里的 @IMWalletCN 让我加 @imwalletcn 的朋友 @Lucky_Airdrop_Bot，"
        "再去 usdt-airdrop-claim.xyz 领空投，往 TFakeKefuDepositAddrXw9kQmRt7bCu3N 转 10 U 激活"
    )
    assert candidates(text) == [
        Candidate(Kind.TELEGRAM, "IMWalletCN"),
        Candidate(Kind.TELEGRAM, "Lucky_Airdrop_Bot"),
        Candidate(Kind.URL, "usdt-airdrop-claim.xyz"),
        Candidate(Kind.ADDRESS, "TFakeKefuDepositAddrXw9kQmRt7bCu3N", "TRON"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "这个是官方客服吗",
        "我的微信收不到验证码",  # WeChat named, but no ID
        "我用的是 wechat 登录",
        "截图.png 发给你了",  # a file, not a site
        "12345678901234567890",  # a number, not an address
    ],
)
def test_plain_messages_hold_no_candidate(text: str) -> None:
    assert candidates(text) == []
