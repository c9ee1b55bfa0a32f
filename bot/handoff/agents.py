"""Creates or updates an agent account for the console.

    python -m bot.handoff.agents USERNAME [--name 显示名]

The password is read from AGENT_PASSWORD, or asked for on the terminal; only its hash is stored.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from bot.handoff.store import handoff_store

MIN_PASSWORD = 8


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("username")
    parser.add_argument("--name", help="display name (default: the username)")
    args = parser.parse_args(argv)
    password = os.environ.get("AGENT_PASSWORD") or getpass.getpass("password: ")
    if len(password) < MIN_PASSWORD:
        print(f"error: the password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    handoff_store().add_agent(args.username, args.name or args.username, password)
    print(f"agent {args.username} saved")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
