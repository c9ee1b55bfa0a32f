"""The widget's settings: what a server refuses to start with (tokens are tested over socket.io
in test_widget.py)."""

from __future__ import annotations

import pytest

from bot.channels.widget import WidgetChannel, allowed_origins
from bot.channels.widget_auth import WidgetAuth
from bot.settings import ConfigError

KEY = {"WIDGET_JWT_SECRET": "a-widget-secret-of-32-bytes-or-more"}


def test_a_production_server_without_an_audience_does_not_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WIDGET_JWT_SECRET", KEY["WIDGET_JWT_SECRET"])
    monkeypatch.delenv("WIDGET_JWT_AUDIENCE", raising=False)
    monkeypatch.delenv("SUPPORT_ENV", raising=False)  # production by default
    with pytest.raises(ConfigError, match="WIDGET_JWT_AUDIENCE"):
        WidgetChannel().blueprint(lambda message: None)  # type: ignore[arg-type,return-value]


def test_development_may_run_without_an_audience() -> None:
    auth = WidgetAuth.from_env({**KEY, "SUPPORT_ENV": "development"})
    assert auth.audience is None
    assert WidgetAuth.from_env({**KEY, "WIDGET_JWT_AUDIENCE": " im-support "}).audience == (
        "im-support"
    )


def test_the_lifetime_cap_is_two_hours_unless_set() -> None:
    settings = {**KEY, "WIDGET_JWT_AUDIENCE": "im-support"}
    assert WidgetAuth.from_env(settings).max_lifetime_seconds == 7200
    assert WidgetAuth.from_env(
        {**settings, "WIDGET_JWT_MAX_HOURS": "0.5"}
    ).max_lifetime_seconds == (1800)
    for bad in ("two", "0", "-1", "100000"):
        with pytest.raises(ConfigError, match="WIDGET_JWT_MAX_HOURS"):
            WidgetAuth.from_env({**settings, "WIDGET_JWT_MAX_HOURS": bad})


def test_allowed_origins_are_origins() -> None:
    assert allowed_origins({}) == frozenset()
    assert allowed_origins(
        {"WIDGET_ALLOWED_ORIGINS": "https://App.example.com/, http://localhost:8080"}
    ) == {"https://app.example.com", "http://localhost:8080"}
    for bad in ("*", "app.example.com", "https://app.example.com/chat", "ftp://x"):
        with pytest.raises(ConfigError, match="WIDGET_ALLOWED_ORIGINS"):
            allowed_origins({"WIDGET_ALLOWED_ORIGINS": bad})
