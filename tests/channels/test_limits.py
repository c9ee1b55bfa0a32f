"""What the channel intake accepts: cleaning, limits and the per-sender rate limit."""

from __future__ import annotations

import pytest

from bot.channels.limits import IntakeSettings, clean
from bot.rate_limits import Admission, MemoryRateLimiter, Rule
from bot.settings import ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_control_characters_zero_width_and_broken_surrogates_are_removed() -> None:
    assert clean("  转账\x00没到\u200b账\ud800\x1b[31m  \n") == "转账没到账[31m"
    assert clean("第一行\n第二行\t完") == "第一行\n第二行\t完"
    assert clean("\u200b \x07\n") == ""


def test_a_sender_gets_the_burst_then_one_polite_refusal_then_silence() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    rule = Rule(burst=3, per_minute=6)

    def admit(key: str, scope: str = "sender") -> Admission:
        return limiter.admit_now(scope, key, rule)

    assert [admit("a") for _ in range(3)] == [Admission(True)] * 3
    assert admit("a") == Admission(False, True)
    assert admit("a") == Admission(False, False)
    assert admit("b") == Admission(True), "other senders are not affected"
    assert admit("a", scope="turn-address") == Admission(True), "scopes are separate"
    clock.now += 10  # 6 per minute: one message back every 10 seconds
    assert admit("a") == Admission(True)
    assert admit("a") == Admission(False, True), "a new streak is answered again"


def test_settings_come_from_the_environment_and_bad_values_are_clear() -> None:
    settings = IntakeSettings.from_env(
        {"MAX_MESSAGE_CHARS": "200", "RATE_LIMIT_BURST": "5", "RATE_LIMIT_PER_MINUTE": "12"}
    )
    assert settings == IntakeSettings(max_chars=200, burst=5, per_minute=12.0)
    assert IntakeSettings.from_env({}) == IntakeSettings()
    for bad in ({"MAX_MESSAGE_CHARS": "many"}, {"RATE_LIMIT_BURST": "0"}):
        with pytest.raises(ConfigError):
            IntakeSettings.from_env(bad)
