"""Agent passwords: salted scrypt hashes at OWASP's recommended cost, compared in constant time.

A hash records its own cost (``scrypt$N$r$p$salt$digest``), so hashes made at a lower cost keep
working and ``needs_rehash`` tells the login to replace them. ``verify_nothing`` does the work of a
verification for a username that does not exist, so timing does not tell which usernames do.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# OWASP Password Storage Cheat Sheet: scrypt with N=2^17, r=8, p=1 (128 MiB per hash).
N, R, P = 2**17, 8, 1
# hashlib's default limit is 32 MiB; scrypt needs 128 * N * r bytes plus a little.
MAX_MEMORY = 2**28

_DUMMY = f"scrypt${N}${R}${P}${'00' * 16}${'00' * 64}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${N}${R}${P}${salt.hex()}${_scrypt(password, salt, N, R, P).hex()}"


def _parts(stored: str) -> tuple[int, int, int, bytes, str] | None:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        cost = int(n), int(r), int(p)
        salt_bytes = bytes.fromhex(salt)
    except ValueError:
        return None
    if scheme != "scrypt":
        return None
    return (*cost, salt_bytes, digest)


def verify_password(password: str, stored: str) -> bool:
    parts = _parts(stored)
    if parts is None:
        return False
    n, r, p, salt, digest = parts
    try:
        candidate = _scrypt(password, salt, n, r, p)
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def verify_nothing(password: str) -> None:
    """As much work as ``verify_password`` with a current hash, for a username with none."""
    verify_password(password, _DUMMY)


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made at another cost than today's."""
    parts = _parts(stored)
    return parts is None or parts[:3] != (N, R, P)
