"""Ed25519 public keys from seeds (RFC 8032), to tell a Solana secret key from a signature.

A Solana secret key is 64 bytes: a seed and the public key derived from it. A transaction
signature is 64 bytes too, but its second half is never the public key of its first half.
"""

from __future__ import annotations

import hashlib

_P = 2**255 - 19
_D = 37095705934669439343138083508754565189542113879843219016388785533085940283555
_BASE = (
    15112221349535400772501151409588531511454012693041857206046113283949847762202,
    46316835694926478169428394003475163141307993866256225615783033603165251855960,
    1,
    46827403850823179245072216630277197565144205554125654976674165829533817101731,
)
_NEUTRAL = (0, 1, 1, 0)

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z


def _add(p: Point, q: Point) -> Point:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(scalar: int, point: Point) -> Point:
    result = _NEUTRAL
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def public_key(seed: bytes) -> bytes:
    """The 32-byte public key of a 32-byte Ed25519 seed."""
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    x, y, z, _ = _multiply(scalar, _BASE)
    z_inverse = pow(z, _P - 2, _P)
    x, y = x * z_inverse % _P, y * z_inverse % _P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def is_keypair(secret: bytes) -> bool:
    """Whether 64 bytes are a seed followed by its own public key, as Solana stores a key."""
    return len(secret) == 64 and public_key(secret[:32]) == secret[32:]
