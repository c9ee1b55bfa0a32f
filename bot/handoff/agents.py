"""Manages agent accounts from the terminal: the first admin, and scripts (admins manage the rest
in the console, ``bot.handoff.admin``).

    python -m bot.handoff.agents USERNAME [--name 显示名] [--role admin] [--teams general,security]
                                 [--capacity 3]        create, or set a new password (and the rest)
    python -m bot.handoff.agents USERNAME --disable          no more logins
    python -m bot.handoff.agents USERNAME --delete           remove the account

Every change ends the agent's open sessions at once. Setting a password enables a disabled
account again. The password is read from AGENT_PASSWORD, or asked for on the terminal; only its
hash is stored.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from bot.handoff.directory import DEFAULT_CAPACITY, MAX_CAPACITY, teams_of
from bot.handoff.records import Role, Team
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
    parser.add_argument("--role", choices=[role.value for role in Role], default=Role.AGENT.value)
    parser.add_argument(
        "--teams",
        default=Team.GENERAL.value,
        help=f"comma-separated: {', '.join(team.value for team in Team)}",
    )
    parser.add_argument(
        "--capacity", type=int, default=DEFAULT_CAPACITY, help=f"1-{MAX_CAPACITY} tickets at once"
    )
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
    if not 1 <= args.capacity <= MAX_CAPACITY:
        print(f"error: the capacity must be 1-{MAX_CAPACITY}", file=sys.stderr)
        return 2
    role, teams = Role(args.role), teams_of(args.teams)
    directory.add(args.username, args.name or args.username, password, role, teams, args.capacity)
    print(f"{role.value} {args.username} saved ({', '.join(t.value for t in teams)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
