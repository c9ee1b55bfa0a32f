from __future__ import annotations

import hashlib
import time

from bot.handoff.passwords import hash_password, needs_rehash, verify_nothing, verify_password

OLD_COST = 2**14  # what hashes were made with before OWASP's cost


def old_hash(password: str) -> str:
    salt = bytes(range(16))
    digest = hashlib.scrypt(password.encode(), salt=salt, n=OLD_COST, r=8, p=1)
    return f"scrypt${OLD_COST}$8$1${salt.hex()}${digest.hex()}"


def test_hashes_use_owasps_scrypt_cost_and_a_fresh_salt() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith(f"scrypt${2**17}$8$1$") and first != second
    assert verify_password("correct horse battery", first)
    assert not verify_password("correct horse batterY", first)
    assert not needs_rehash(first)


def test_hashes_at_the_old_cost_still_verify_and_ask_to_be_rehashed() -> None:
    stored = old_hash("correct horse battery")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("wrong", stored)
    assert needs_rehash(stored)


def test_unreadable_hashes_never_verify() -> None:
    for stored in ("", "plain", "bcrypt$1$2$3$00$00", "scrypt$x$8$1$00$00", "scrypt$3$8$1$zz$00"):
        assert not verify_password("x", stored)
        assert needs_rehash(stored)


def test_checking_no_hash_costs_as_much_as_checking_one() -> None:
    stored = hash_password("correct horse battery")

    def seconds(check: object) -> float:
        started = time.perf_counter()
        check()  # type: ignore[operator]
        return time.perf_counter() - started

    # Alternated, and the fastest of each: other work on the machine (parallel test workers)
    # slows single checks, not both kinds alike.
    pairs = [
        (
            seconds(lambda: verify_password("wrong", stored)),
            seconds(lambda: verify_nothing("wrong")),
        )
        for _ in range(3)
    ]
    real, dummy = min(r for r, _ in pairs), min(d for _, d in pairs)
    assert 0.67 < dummy / real < 1.5, (real, dummy)
