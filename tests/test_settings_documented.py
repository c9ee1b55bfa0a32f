"""Every setting an operator can give is documented: in the README's configuration table and in
.env.example, and the table names nothing that nothing reads.

The settings are recorded as they are read: each reader is handed a ``Mapping`` that notes every
name asked for (the shared ``Settings``, the action server's, the platform channels', the
widget's, the lock store's and the wallet backend's), then the ``${VAR}`` of endpoints.yml and
credentials.yml and the operator settings the Makefile exports are added.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from bot.action_server import ActionServerSettings
from bot.channels.telegram.channel import TelegramSettings
from bot.channels.wechat.channel import WeChatSettings
from bot.channels.widget.sockets import allowed_origins, shared_rooms
from bot.channels.widget_auth import WidgetAuth
from bot.link_safety.factory import LinkSafetyBackend
from bot.locking import SupportLockStore
from bot.settings import ConfigError, Settings
from bot.wallet.factory import WalletBackend

ROOT = Path(__file__).resolve().parents[1]
NAME = r"[A-Z][A-Z0-9_]*"
# Forced by the Makefile for the tools it runs (`export NAME := value`), not the operator's.
FORCED_EXPORT = re.compile(rf"^export ({NAME}) :=", re.MULTILINE)
EXPORT = re.compile(r"^export ([^:?=#\n]+)", re.MULTILINE)
# Makefile variables an operator may override (`NAME ?= default`), exported or passed on.
DEFAULTED = re.compile(rf"^(?:export )?({NAME}) \?=", re.MULTILINE)
SCRIPT_READ = re.compile(rf"\$\{{({NAME})[:}}]")
PYTHON_READ = re.compile(rf"os\.environ(?:\.get\(|\[)\"({NAME})\"")


class Recording(Mapping[str, str]):
    """An environment holding ``values`` that notes every name read from it."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self._values[name]

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self.read.add(name)
        return self._values.get(name, default)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.read.add(name)
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def read_by_the_code() -> set[str]:
    """The variables the settings' readers ask for, along every branch that reads more."""
    names: set[str] = set()

    def record(
        read: Callable[[Recording], object], values: Mapping[str, str] | None = None
    ) -> None:
        env = Recording(values)
        with contextlib.suppress(ConfigError):  # what was read before a refusal still counts
            read(env)
        names.update(env.read)

    record(Settings.from_env)
    record(ActionServerSettings.from_env)
    record(lambda env: TelegramSettings.from_credentials(None, env))
    record(lambda env: WeChatSettings.from_credentials(None, env))
    # Development, so that every key setting is read; no key at all, so that both are.
    record(WidgetAuth.from_env, {"SUPPORT_ENV": "development"})
    record(allowed_origins)
    record(shared_rooms)
    record(lambda env: SupportLockStore(None, env))
    record(
        WalletBackend.from_env, {"WALLET_BACKEND_URL": "http://wallet", "WALLET_BACKEND_TOKEN": "t"}
    )
    record(
        LinkSafetyBackend.from_env, {"LINK_SAFETY_URL": "http://safety", "LINK_SAFETY_TOKEN": "t"}
    )
    return names


def in_configuration_files() -> set[str]:
    """The ``${VAR}`` of endpoints.yml and credentials.yml, outside comments."""
    names: set[str] = set()
    for name in ("endpoints.yml", "credentials.yml"):
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            if not line.lstrip().startswith("#"):
                names |= set(re.findall(rf"\$\{{({NAME})\}}", line))
    return names


def exported_by_the_makefile() -> set[str]:
    """The operator settings the Makefile exports to the servers."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    names = {name for line in EXPORT.findall(makefile) for name in line.split()}
    return names - set(FORCED_EXPORT.findall(makefile))


def read_elsewhere() -> set[str]:
    """What the Makefile, its scripts and the command-line tools read besides the servers' settings:
    ports, the shell's account and log, the agent's password."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    names = set(DEFAULTED.findall(makefile))
    for script in ("run.sh", "shell.sh"):
        names |= set(SCRIPT_READ.findall((ROOT / "scripts" / script).read_text(encoding="utf-8")))
    for path in (ROOT / "bot").rglob("*.py"):
        names |= set(PYTHON_READ.findall(path.read_text(encoding="utf-8")))
    return names


def readme_table() -> set[str]:
    """The variables named in the first column of the README's configuration table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(rf"`({NAME})`", row.split("|")[1])}


def env_example() -> set[str]:
    """The variables .env.example sets or shows commented out (``# NAME=``)."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(rf"^(?:# )?({NAME})=", text, re.MULTILINE))


def settings() -> set[str]:
    return read_by_the_code() | in_configuration_files() | exported_by_the_makefile()


def test_the_recording_sees_the_settings_of_each_reader() -> None:
    names = read_by_the_code()
    assert {"HANDOFF_DB_URL", "IDENTITY_SECRET", "MAX_REQUEST_BYTES", "ACTION_PORT"} <= names
    assert {"WECHAT_AES_KEY", "WIDGET_JWT_PUBLIC_KEY", "WALLET_BACKEND_RETRIES"} <= names


def test_every_setting_is_in_the_readme_table() -> None:
    assert settings() - readme_table() == set()


def test_every_setting_is_in_env_example() -> None:
    assert settings() - env_example() == set()


def test_the_readme_table_names_only_what_is_read() -> None:
    assert readme_table() - settings() - read_elsewhere() == set()
