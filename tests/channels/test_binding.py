from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.channels.binding import BindingStore, bind_code_in


def store(tmp_path: Path) -> BindingStore:
    return BindingStore.from_url(f"sqlite:///{tmp_path / 'bindings.db'}")


def test_a_code_binds_once_and_only_to_its_account(tmp_path: Path) -> None:
    bindings = store(tmp_path)
    code = bindings.issue_code("demo-alice", timedelta(minutes=10))
    assert bindings.redeem(code, "telegram", "42") == "demo-alice"
    assert bindings.redeem(code, "telegram", "43") is None
    assert bindings.account_for("telegram", "42") == "demo-alice"
    assert bindings.account_for("wechat", "42") is None


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


def test_bind_commands_are_recognised_in_simplified_and_traditional() -> None:
    assert bind_code_in("绑定 123456") == "123456"
    assert bind_code_in("綁定：654321") == "654321"
    assert bind_code_in("/bind 111111") == "111111"
    assert bind_code_in("绑定 12345") is None
    assert bind_code_in("我想绑定") is None
