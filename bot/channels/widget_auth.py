"""Verifies the in-app widget's JWT (signed by the wallet backend) and mints development tokens.

WIDGET_JWT_PUBLIC_KEY (PEM) selects RS256, else WIDGET_JWT_SECRET selects HS256. A token must
carry ``sub`` (the wallet account id), ``iat`` and ``exp`` as integers, and live no longer than
WIDGET_JWT_MAX_HOURS (default 2) from ``iat`` to ``exp``: a stolen token is worth hours, not
years. Its ``aud`` must be WIDGET_JWT_AUDIENCE, which is required outside development
(``bot.deployment``), so a token the wallet backend signs for another service is refused here.

    python -m bot.channels.widget_auth ACCOUNT_ID [--minutes 120]

prints a token signed with WIDGET_JWT_SECRET (and WIDGET_JWT_AUDIENCE, if set): the development
mode of `make run` uses it so a new user can try the widget at once. Production sets its own key
and never mints.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from bot.deployment import is_development
from bot.settings import ConfigError

DEFAULT_MAX_HOURS = 2.0


class TokenRejected(Exception):
    """The token is missing, forged, expired or breaks the policy.

    The message is the reason the page shows (a few fixed phrases); ``detail`` is for the log.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.detail = detail or reason


@dataclass(frozen=True)
class WidgetAuth:
    """The key and algorithm widget tokens are verified with, and the policy they must meet."""

    key: str
    algorithm: str
    audience: str | None = None
    max_lifetime_seconds: float = DEFAULT_MAX_HOURS * 3600

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WidgetAuth:
        audience = (env.get("WIDGET_JWT_AUDIENCE") or "").strip() or None
        if audience is None and not is_development(env):
            raise ConfigError(
                "set WIDGET_JWT_AUDIENCE to the audience (aud) the wallet backend puts in widget"
                " tokens; only SUPPORT_ENV=development runs without one"
            )
        try:
            max_hours = float(env.get("WIDGET_JWT_MAX_HOURS") or DEFAULT_MAX_HOURS)
        except ValueError:
            raise ConfigError("WIDGET_JWT_MAX_HOURS must be a number of hours") from None
        if not 0 < max_hours <= 24 * 366:
            raise ConfigError("WIDGET_JWT_MAX_HOURS must be more than 0 and at most a year")
        if env.get("WIDGET_JWT_PUBLIC_KEY"):
            key, algorithm = env["WIDGET_JWT_PUBLIC_KEY"], "RS256"
        elif env.get("WIDGET_JWT_SECRET"):
            key, algorithm = env["WIDGET_JWT_SECRET"], "HS256"
        else:
            raise ConfigError("set WIDGET_JWT_SECRET (HS256) or WIDGET_JWT_PUBLIC_KEY (RS256)")
        return cls(key, algorithm, audience, max_hours * 3600)

    def account_of(self, token: object) -> tuple[str, int]:
        """The wallet account id (``sub``) of a valid token, and when the token expires."""
        if not isinstance(token, str) or not token:
            raise TokenRejected("missing token")
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[self.algorithm],
                audience=self.audience,
                options={
                    "require": ["sub", "iat", "exp"],
                    "verify_aud": self.audience is not None,
                },
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenRejected("token expired") from error
        except jwt.InvalidTokenError as error:
            raise TokenRejected("invalid token", f"{type(error).__name__}: {error}") from error
        issued, expires = claims["iat"], claims["exp"]
        # PyJWT accepts numeric strings ("9999999999") and floats; the policy is integers only.
        if not (_is_integer(issued) and _is_integer(expires)):
            raise TokenRejected("invalid token", "iat and exp must be integers")
        if expires - issued > self.max_lifetime_seconds:
            hours = (expires - issued) / 3600
            raise TokenRejected("invalid token", f"lifetime of {hours:.1f} h is over the limit")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise TokenRejected("token has no subject")
        return subject, expires


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def mint(secret: str, account_id: str, minutes: int, audience: str | None = None) -> str:
    """An HS256 token for ``account_id`` (development and tests)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": account_id, "iat": now, "exp": now + minutes * 60}
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("account_id")
    parser.add_argument("--minutes", type=int, default=120)
    args = parser.parse_args(argv)
    secret = os.environ.get("WIDGET_JWT_SECRET")
    if not secret:
        parser.error("WIDGET_JWT_SECRET is not set")
    print(mint(secret, args.account_id, args.minutes, os.environ.get("WIDGET_JWT_AUDIENCE")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
