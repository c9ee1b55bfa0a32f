"""Manages agent accounts for the console.

    python -m bot.handoff.agents USERNAME [--name 显示名] [--role lead]
                                                         create, or set a new password (and role)
    python -m bot.handoff.agents USERNAME --disable          no more logins
    python -m bot.handoff.agents USERNAME --delete           remove the account

Every change ends the agent's open sessions at once. Setting a password enables a disabled
account again. The password is read from AGENT_PASSWORD, or asked for on the terminal; only its
hash is stored. A ``lead`` also reviews, in the console, the messages the assistant missed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from bot.handoff.directory import AGENT, ROLES
from bot.handoff.store import HandoffStore
from bot.settings import StoreUrls

MIN_PASSWORD = 8


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("username")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--name", help="display name (default: the username)")
    action.add_argument("--disable", action="store_true", help="refuse the agent's logins")
    action.add_argument("--delete", action="store_true", help="remove the agent's account")
    parser.add_argument("--role", choices=ROLES, default=AGENT, help="agent (default) or lead")
    args = parser.parse_args(argv)
    directory = HandoffStore.from_url(StoreUrls.from_env().handoff).agents
    if args.disable or args.delete:
        done = directory.disable(args.username) if args.disable else directory.delete(args.username)
        if not done:
            print(f"error: there is no agent {args.username}", file=sys.stderr)
            return 1
        print(f"agent {args.username} {'disabled' if args.disable else 'deleted'}")
        return 0
    password = os.environ.get("AGENT_PASSWORD") or getpass.getpass("password: ")
    if len(password) < MIN_PASSWORD:
        print(f"error: the password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    directory.add(args.username, args.name or args.username, password, args.role)
    print(f"{args.role} {args.username} saved")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
