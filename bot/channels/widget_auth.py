"""Verifies the in-app widget's JWT (signed by the wallet backend) and mints development tokens.

WIDGET_JWT_PUBLIC_KEY (PEM) selects RS256, else WIDGET_JWT_SECRET selects HS256; tokens must
carry ``sub`` (the wallet account id) and ``exp``. WIDGET_JWT_AUDIENCE, if set, is checked too.

    python -m bot.channels.widget_auth ACCOUNT_ID [--minutes 120]

prints a token signed with WIDGET_JWT_SECRET: the development mode of `make run` uses it so a
new user can try the widget at once. Production sets its own key and never mints.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jwt

from bot.support_hours import ConfigError


class TokenRejected(Exception):
    """The token is missing, forged, expired or lacks a subject; the message says which."""


@dataclass(frozen=True)
class WidgetAuth:
    """The key and algorithm widget tokens are verified with."""

    key: str
    algorithm: str
    audience: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WidgetAuth:
        audience = env.get("WIDGET_JWT_AUDIENCE") or None
        if env.get("WIDGET_JWT_PUBLIC_KEY"):
            return cls(env["WIDGET_JWT_PUBLIC_KEY"], "RS256", audience)
        if env.get("WIDGET_JWT_SECRET"):
            return cls(env["WIDGET_JWT_SECRET"], "HS256", audience)
        raise ConfigError("set WIDGET_JWT_SECRET (HS256) or WIDGET_JWT_PUBLIC_KEY (RS256)")

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
                options={"require": ["sub", "exp"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenRejected("token expired") from error
        except jwt.InvalidTokenError as error:
            raise TokenRejected("invalid token") from error
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise TokenRejected("token has no subject")
        return subject, int(claims["exp"])


def mint(secret: str, account_id: str, minutes: int, audience: str | None = None) -> str:
    """An HS256 token for ``account_id`` (development and tests)."""
    now = int(time.time())
    claims = {"sub": account_id, "iat": now, "exp": now + minutes * 60}
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
