"""Who is on the other end of an HTTP request, for limits a client cannot sidestep.

Sender ids are free to invent, so per-sender limits alone stop nobody; the client's address is
not. ``X-Forwarded-For`` is honoured only when the peer is one of TRUSTED_PROXIES (comma-separated
networks), walking the list from the right past every trusted hop; anyone else could write any
address into it. Addresses in RATE_LIMIT_EXEMPT (default loopback; empty: none) are not limited,
so a load test run on the server itself measures the server, not the limiter.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.settings import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.0/8,::1/128"


def networks(value: str, name: str) -> tuple[Network, ...]:
    """The comma-separated networks of setting ``name``."""
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in value.split(",")
            if part.strip()
        )
    except ValueError as error:
        raise ConfigError(f"{name} must be comma-separated IP networks: {error}") from error


def within(address: str, nets: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


@dataclass(frozen=True)
class AddressSettings:
    """TRUSTED_PROXIES and RATE_LIMIT_EXEMPT."""

    trusted_proxies: tuple[Network, ...] = ()
    exempt: tuple[Network, ...] = networks(LOOPBACK, "RATE_LIMIT_EXEMPT")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AddressSettings:
        exempt = env.get("RATE_LIMIT_EXEMPT")
        return cls(
            trusted_proxies=networks(env.get("TRUSTED_PROXIES", ""), "TRUSTED_PROXIES"),
            exempt=networks(LOOPBACK if exempt is None else exempt, "RATE_LIMIT_EXEMPT"),
        )

    def client_of(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: the peer, or the first untrusted hop it forwarded for."""
        if not forwarded_for or not within(peer, self.trusted_proxies):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not within(hop, self.trusted_proxies):
                return hop if _is_ip(hop) else peer
        return hops[0] if hops and _is_ip(hops[0]) else peer

    def is_exempt(self, address: str) -> bool:
        return within(address, self.exempt)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
