"""Whose address a request comes from: X-Forwarded-For counts only from trusted proxies."""

from __future__ import annotations

import pytest

from bot.channels.client_address import AddressSettings
from bot.settings import ConfigError

PROXIED = AddressSettings.from_env({"TRUSTED_PROXIES": "10.0.0.0/8"})


def test_a_direct_client_cannot_claim_another_address() -> None:
    assert PROXIED.client_of("198.51.100.1", "127.0.0.1") == "198.51.100.1"
    assert AddressSettings.from_env({}).client_of("127.0.0.1", "203.0.113.9") == "127.0.0.1"


def test_the_first_untrusted_hop_from_the_right_is_the_client() -> None:
    assert PROXIED.client_of("10.0.0.2", "203.0.113.9") == "203.0.113.9"
    # The client wrote a fake first hop; the proxies appended what they saw.
    assert PROXIED.client_of("10.0.0.2", "127.0.0.1, 203.0.113.9, 10.0.0.7") == "203.0.113.9"
    assert PROXIED.client_of("10.0.0.2", "garbage") == "10.0.0.2"


def test_loopback_is_exempt_unless_the_setting_is_empty() -> None:
    assert AddressSettings.from_env({}).is_exempt("127.0.0.1")
    assert AddressSettings.from_env({}).is_exempt("::1")
    assert not AddressSettings.from_env({}).is_exempt("203.0.113.9")
    assert not AddressSettings.from_env({"RATE_LIMIT_EXEMPT": ""}).is_exempt("127.0.0.1")
    office = AddressSettings.from_env({"RATE_LIMIT_EXEMPT": "192.0.2.0/24"})
    assert office.is_exempt("192.0.2.77") and not office.is_exempt("127.0.0.1")


def test_bad_networks_are_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        AddressSettings.from_env({"TRUSTED_PROXIES": "my-proxy"})
