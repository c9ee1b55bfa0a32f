"""Passwords and codes the user types are hidden, the cue words kept; talk about them is not."""

from __future__ import annotations

import pytest

from bot.secret_guard import find_secrets, redact


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("我的支付密码是abc123，怎么提示错误", "我的支付密码是[已隐藏的密码]，怎么提示错误"),
        ("支付密码123456为什么不对", "支付密码[已隐藏的密码]为什么不对"),
        ("登录密码：Hunter2!", "登录密码：[已隐藏的密码]"),
        ("密码 改成了：“qwerty88” 还是登不上", "密码 改成了：“[已隐藏的密码]” 还是登不上"),
        ("密碼為 abcdefgh", "密碼為 [已隐藏的密码]"),
        ("password is hunter2", "password is [已隐藏的密码]"),
        ("PIN码 0000", "PIN码 [已隐藏的密码]"),
        ("abc123 是我的密码", "[已隐藏的密码] 是我的密码"),
    ],
)
def test_a_password_is_hidden_and_the_cue_kept(text: str, redacted: str) -> None:
    assert redact(text, find_secrets(text)) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "我忘记密码了",
        "密码是多少位",
        "密码是什么",
        "支付密码错误5次被锁了",
        "密码输错5次被锁了要等多久",
        "密码6位",
        "密码是 8 位数字吗",
        "password: 8-20 characters",
        "password reset 在哪里",
        "the password is incorrect",
        "pwd忘了怎么登录",
        "密码 help",
        "支付密码[已隐藏的密码]为什么不对",  # already hidden
    ],
)
def test_talk_about_passwords_is_nothing(text: str) -> None:
    assert find_secrets(text) == []


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("验证码：123456", "验证码：[已隐藏的验证码]"),
        ("验证码是 654321 你帮我操作吧", "验证码是 [已隐藏的验证码] 你帮我操作吧"),
        ("123456 是验证码", "[已隐藏的验证码] 是验证码"),
        ("验证码：12 34 56", "验证码：[已隐藏的验证码]"),
        ("google验证码 7788", "google验证码 [已隐藏的验证码]"),
        ("收到的驗證碼84736251", "收到的驗證碼[已隐藏的验证码]"),
        ("2FA code: 112233", "2FA code: [已隐藏的验证码]"),
    ],
)
def test_a_verification_code_is_hidden_and_the_cue_kept(text: str, redacted: str) -> None:
    assert redact(text, find_secrets(text)) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "验证码收不到",
        "验证码6位",
        "收到的验证码过期了",
        "验证码 60 秒后才能重发",
        "验证码 2024-05-01 收到的",
        "验证码发到 13812345678 了吗",
        "error code 4001",
        "邀请code 8888",
        "2FA在哪开",
    ],
)
def test_talk_about_codes_is_nothing(text: str) -> None:
    assert find_secrets(text) == []
