"""The binding store on a temporary SQLite file: codes, limits on wrong codes, listing, unbinding."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.channels.binding import (
    CODE_ALPHABET,
    Binding,
    BindingStore,
    FailureLimit,
    TooManyAttempts,
    bind_code_in,
)


def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bindings.db'}"


def store(tmp_path: Path) -> BindingStore:
    return BindingStore.from_url(url(tmp_path))


def test_a_code_binds_once_and_only_to_its_account(tmp_path: Path) -> None:
    bindings = store(tmp_path)
    code = bindings.issue_code("demo-alice", timedelta(minutes=10))
    assert bindings.redeem(code, "telegram", "42") == "demo-alice"
    assert bindings.redeem(code, "telegram", "43") is None
    assert bindings.account_for("telegram", "42") == "demo-alice"
    assert bindings.account_for("wechat", "42") is None


def test_codes_are_eight_unambiguous_characters_shown_in_two_groups(tmp_path: Path) -> None:
    bindings = store(tmp_path)
    issued = {bindings.issue_code(f"account-{i}", timedelta(minutes=10)) for i in range(200)}
    assert len(issued) == 200
    for code in issued:
        assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code), code
        assert not set(code.replace("-", "")) & set("0O1IL")
        assert set(code.replace("-", "")) <= set(CODE_ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        "{code}",
        "{plain}",
        "{lower}",
        "{head} {tail}",
        "{head_lower}-{tail}",
    ],
)
def test_a_code_is_redeemed_in_any_case_with_or_without_its_dash(
    tmp_path: Path, typed: str
) -> None:
    bindings = store(tmp_path)
    code = bindings.issue_code("demo-alice", timedelta(minutes=10))
    plain = code.replace("-", "")
    text = typed.format(
        code=code,
        plain=plain,
        lower=code.lower(),
        head=plain[:4],
        tail=plain[4:],
        head_lower=plain[:4].lower(),
    )
    assert bindings.redeem(text, "telegram", "42") == "demo-alice"


def test_bind_commands_are_recognised_however_the_code_is_typed() -> None:
    assert bind_code_in("绑定 K7PM-X4QD") == "K7PMX4QD"
    assert bind_code_in("綁定：k7pm x4qd") == "K7PMX4QD"
    assert bind_code_in("绑定k7pmx4qd") == "K7PMX4QD"
    assert bind_code_in("/bind K7PM-X4QD") == "K7PMX4QD"
    # Full-width, as a Chinese IME may type it.
    assert bind_code_in("绑定 ＫＳ７Ｍ－Ｘ４ＱＤ") == "KS7MX4QD"
    # Old or mistyped codes are still binding attempts (answered, never passed to Rasa)...
    assert bind_code_in("绑定 123456") == "123456"
    # ...but sentences about binding are not.
    assert bind_code_in("我想绑定") is None
    assert bind_code_in("绑定 手机号") is None
    assert bind_code_in("怎么绑定 Telegram 账号") is None
    assert bind_code_in("绑定 A-B-C") is None


def test_expired_codes_do_not_bind(tmp_path: Path) -> None:
    bindings = store(tmp_path)
    code = bindings.issue_code("demo-alice", timedelta(seconds=-1))
    assert bindings.redeem(code, "telegram", "42") is None


def test_a_new_code_replaces_the_accounts_earlier_one(tmp_path: Path) -> None:
    bindings = store(tmp_path)
    first = bindings.issue_code("demo-alice", timedelta(minutes=10))
    second = bindings.issue_code("demo-alice", timedelta(minutes=10))
    other = bindings.issue_code("demo-bob", timedelta(minutes=10))
    assert bindings.redeem(first, "telegram", "1") is None or first == second
    assert bindings.redeem(second, "telegram", "2") == "demo-alice"
    assert bindings.redeem(other, "telegram", "3") == "demo-bob"


def test_wrong_codes_are_limited_per_user_in_the_store(tmp_path: Path) -> None:
    bindings = store(tmp_path)
    code = bindings.issue_code("demo-alice", timedelta(minutes=10))
    for _ in range(5):
        assert bindings.redeem("ZZZZ-ZZZZ", "telegram", "42") is None
    # Another server, or this one after a restart, sees the same failures.
    restarted = store(tmp_path)
    with pytest.raises(TooManyAttempts) as refused:
        restarted.redeem(code, "telegram", "42")
    assert not refused.value.everyone
    assert restarted.redeem(code, "wechat", "42") == "demo-alice"  # the code was not spent
    # Refused attempts do not count: the limit lifts when the failures leave the window.
    with sa.create_engine(url(tmp_path)).begin() as connection:
        connection.execute(
            sa.text("UPDATE channel_binding_failures SET failed_at = :old"),
            {"old": (datetime.now(timezone.utc) - timedelta(minutes=16)).replace(tzinfo=None)},
        )
    fresh = restarted.issue_code("demo-bob", timedelta(minutes=10))
    assert restarted.redeem(fresh, "telegram", "42") == "demo-bob"


def test_wrong_codes_from_everyone_together_close_binding_for_a_while(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = {
        "per_user": FailureLimit(5, timedelta(minutes=15)),
        "everyone": FailureLimit(20, timedelta(minutes=10)),
    }
    bindings = BindingStore.from_url(url(tmp_path), **limits)
    code = bindings.issue_code("demo-alice", timedelta(minutes=10))
    for user in range(20):  # many made-up users, each under its own limit
        assert bindings.redeem("ZZZZ-ZZZZ", "telegram", str(user)) is None
    with pytest.raises(TooManyAttempts) as refused:
        bindings.redeem(code, "telegram", "owner")
    assert refused.value.everyone
    assert "binding refused for everyone: 20 wrong codes" in caplog.text
    other_server = BindingStore.from_url(url(tmp_path), **limits)
    with pytest.raises(TooManyAttempts):
        other_server.redeem(code, "wechat", "owner")
    with sa.create_engine(url(tmp_path)).begin() as connection:
        connection.execute(sa.text("DELETE FROM channel_binding_failures"))
    assert other_server.redeem(code, "telegram", "owner") == "demo-alice"


def test_a_correct_code_is_not_counted_as_a_failure(tmp_path: Path) -> None:
    bindings = store(tmp_path)
    for user in range(8):
        code = bindings.issue_code(f"account-{user}", timedelta(minutes=10))
        assert bindings.redeem(code, "telegram", "42") == f"account-{user}"
    with sa.create_engine(url(tmp_path)).connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM channel_binding_failures"))
        assert count.scalar_one() == 0


def test_the_owner_lists_and_unbinds_platform_users(tmp_path: Path) -> None:
    bindings = store(tmp_path)
    assert bindings.bindings_of("demo-alice") == []
    for platform, user in (("telegram", "42"), ("wechat", "oAlice"), ("telegram", "43")):
        bindings.redeem(bindings.issue_code("demo-alice", timedelta(minutes=10)), platform, user)
    bindings.redeem(bindings.issue_code("demo-bob", timedelta(minutes=10)), "telegram", "99")
    listed = bindings.bindings_of("demo-alice")
    assert [(b.platform, b.platform_user_id) for b in listed] == [
        ("telegram", "42"),
        ("wechat", "oAlice"),
        ("telegram", "43"),
    ]
    assert all(isinstance(b, Binding) and b.bound_at.tzinfo is not None for b in listed)
    assert not bindings.unbind("demo-alice", "telegram", "99")  # Bob's user, not Alice's
    assert bindings.account_for("telegram", "99") == "demo-bob"
    assert bindings.unbind("demo-alice", "wechat", "oAlice")
    assert not bindings.unbind("demo-alice", "wechat", "oAlice")
    assert bindings.account_for("wechat", "oAlice") is None
    assert [b.platform_user_id for b in bindings.bindings_of("demo-alice")] == ["42", "43"]
