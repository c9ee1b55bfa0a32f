"""Runs a module as ``python -m`` does, for a terminal: no libraries' deprecation noise, and stops
with the terminal.

``python -m scripts.quiet rasa shell ...`` is ``rasa shell ...`` without the screen of
DeprecationWarnings from typer, click, spaCy, sanic_cors, pkg_resources or jax, which
PYTHONWARNINGS=ignore cannot silence: importing sanic runs ``filterwarnings("once",
category=DeprecationWarning)``, which goes in front of it, and Rasa adds filters of its own when it
configures logging. So the choice is made where a warning is printed, ``warnings.showwarning``:
the categories Python itself hides outside ``__main__`` (deprecations, imports, resources) are
printed only when raised from this project's code; every other warning is printed as usual.

A process whose standard input is a terminal also ends, by SIGHUP, when that terminal hangs up. The
kernel signals only the terminal's session leader; when that is ``make``, which waits for its
children instead of passing the signal on, a server that does not read the terminal (``rasa run``)
or fails to notice the hang-up (``rasa shell``, whose prompt then waits forever) would outlive it.
"""

from __future__ import annotations

import logging
import os
import runpy
import select
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
OWN_CODE = tuple(f"{ROOT / package}{os.sep}" for package in ("bot", "actions", "scripts"))
# Meant for a library's own developers: Python hides them unless raised from __main__.
DEVELOPER_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
USAGE = "usage: python -m scripts.quiet MODULE [ARGUMENTS...]"

_print_warning = warnings.showwarning


def is_own(filename: str) -> bool:
    """Whether ``filename`` is this project's code (not a library's)."""
    return os.path.abspath(filename).startswith(OWN_CODE)


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` without the developer warnings that libraries raise."""
    if issubclass(category, DEVELOPER_WARNINGS) and not is_own(filename):
        return
    _print_warning(message, category, filename, lineno, file, line)


def at_root_level(record: logging.LogRecord) -> bool:
    """Keeps a record only at the root logger's level or above."""
    return record.levelno >= logging.getLogger().getEffectiveLevel()


def install_warning_filters() -> None:
    """Our own warnings whatever PYTHONWARNINGS says; libraries' per ``show_warning``."""
    warnings.simplefilter("default")
    warnings.showwarning = show_warning
    # jieba prints its DEBUG lines ("Building prefix dict ...") through a handler of its own.
    logging.getLogger("jieba").addFilter(at_root_level)


def stop_on_hangup(fd: int = 0) -> None:
    """Sends this process SIGHUP when the terminal ``fd`` is on hangs up; nothing if none."""
    if not os.isatty(fd):
        return

    def watch() -> None:
        poller = select.poll()
        poller.register(fd, 0)  # hang-ups and errors are always reported; input is left alone
        while True:
            for _, events in poller.poll():
                if events & (select.POLLHUP | select.POLLERR):
                    os.kill(os.getpid(), signal.SIGHUP)
                    return

    threading.Thread(target=watch, name="hangup-watch", daemon=True).start()


def main(argv: list[str]) -> None:
    if not argv or argv[0].startswith("-"):
        sys.exit(USAGE)
    install_warning_filters()
    stop_on_hangup()
    module, *arguments = argv
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
