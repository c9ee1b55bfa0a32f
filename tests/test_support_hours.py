from datetime import datetime, timezone

import pytest

from bot.settings import ConfigError
from bot.support_hours import SupportHours


def test_defaults_are_nine_to_nine_beijing_time() -> None:
    hours = SupportHours.from_env({})
    assert hours.opens.isoformat("minutes") == "09:00"
    assert hours.closes.isoformat("minutes") == "21:00"
    assert hours.utc_offset_label(datetime(2026, 1, 1, tzinfo=timezone.utc)) == "UTC+8"


def test_open_only_within_hours_in_its_own_zone() -> None:
    hours = SupportHours.from_env(
        {"SUPPORT_HOURS": "09:00-21:00", "SUPPORT_TIMEZONE": "Asia/Shanghai"}
    )
    assert hours.is_open(datetime(2026, 1, 1, 2, 0, tzinfo=timezone.utc))  # 10:00 in Beijing
    assert not hours.is_open(datetime(2026, 1, 1, 14, 0, tzinfo=timezone.utc))  # 22:00 in Beijing


def test_half_hour_zones_are_labelled() -> None:
    hours = SupportHours.from_env({"SUPPORT_TIMEZONE": "Asia/Kolkata"})
    assert hours.utc_offset_label(datetime(2026, 1, 1, tzinfo=timezone.utc)) == "UTC+5:30"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SUPPORT_HOURS": "9-21"}, "SUPPORT_HOURS"),
        ({"SUPPORT_HOURS": "21:00-09:00"}, "SUPPORT_HOURS"),
        ({"SUPPORT_TIMEZONE": "Mars/Olympus"}, "SUPPORT_TIMEZONE"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        SupportHours.from_env(env)


def test_responses_quote_the_configured_hours() -> None:
    hours = SupportHours.from_env(
        {"SUPPORT_HOURS": "10:00-18:30", "SUPPORT_TIMEZONE": "Europe/Berlin"}
    )
    assert hours.response_values(datetime(2026, 7, 1, tzinfo=timezone.utc)) == {
        "agent_open": "10:00",
        "agent_close": "18:30",
        "agent_timezone": "UTC+2",
    }
