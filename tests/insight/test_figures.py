"""Every figure of the insight report against the known conversations and tickets
(``tests/insight/known_stores.py``), and the masking of the messages it shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.handoff.records import Reason
from bot.insight.compute import compute_figures, percentile
from bot.insight.records import (
    ChannelActivity,
    DayActivity,
    Figures,
    IntentCount,
    RatingGroup,
    ReasonCount,
    TextCount,
)
from bot.insight.sources import InsightError, InsightSources
from bot.privacy import mask_identifiers
from tests.insight.known_stores import (
    DAY1,
    DAY2,
    MNEMONIC,
    ZONE,
    at,
    known_sources,
    write_handoff_store,
    write_tracker_store,
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> InsightSources:
    return known_sources(tmp_path_factory.mktemp("insight"))


@pytest.fixture(scope="module")
def figures(sources: InsightSources) -> Figures:
    return sources.figures(zone=ZONE)


def test_period_and_totals(figures: Figures) -> None:
    assert figures.timezone == "Asia/Shanghai"
    assert (figures.first_day, figures.last_day) == (DAY1, DAY2)
    assert figures.conversations == 8
    assert figures.user_messages == 28


def test_conversations_and_messages_per_local_day_and_channel(figures: Figures) -> None:
    # D wrote at 23:50 and 00:10 local time (both on 1 March in UTC): it counts on both days.
    assert figures.days == (
        DayActivity(
            DAY1,
            conversations=4,
            user_messages=13,
            channels=(ChannelActivity("rest", 2, 8), ChannelActivity("socketio", 2, 5)),
        ),
        DayActivity(
            DAY2,
            conversations=5,
            user_messages=15,
            channels=(
                ChannelActivity("rest", 2, 8),
                ChannelActivity("unknown", 1, 4),
                ChannelActivity("socketio", 1, 2),
                ChannelActivity("wechat", 1, 1),
            ),
        ),
    )
    assert figures.channels == (
        ChannelActivity("rest", 4, 16),
        ChannelActivity("socketio", 2, 7),
        ChannelActivity("unknown", 1, 4),
        ChannelActivity("wechat", 1, 1),
    )


def test_intents_and_fallback_share_count_only_messages_to_the_bot(figures: Figures) -> None:
    # 28 messages, 4 of them written while an agent owned the conversation (C: 在吗 and 好的,
    # D: 你好, E: 不用了).
    understanding = figures.understanding
    assert understanding.messages == 24
    assert understanding.fallbacks == 7
    assert understanding.fallback_share == 7 / 24
    assert understanding.intents == (
        IntentCount("nlu_fallback", 7),
        IntentCount("rate", 6),
        IntentCount("goodbye", 3),
        IntentCount("request_human", 3),
        IntentCount("account_compromised", 1),
        IntentCount("complaint", 1),
        IntentCount("network_fee", 1),
        IntentCount("thank", 1),
        IntentCount("transfer_pending", 1),
    )


def test_containment_and_reasons(figures: Figures) -> None:
    # E's only ticket was cancelled; G counts once, under its first ticket's reason.
    containment = figures.containment
    assert (containment.conversations, containment.contained, containment.handed_off) == (8, 4, 4)
    assert containment.rate == 0.5
    assert containment.by_reason == (
        ReasonCount(Reason.REQUESTED, 1),
        ReasonCount(Reason.FALLBACK, 1),
        ReasonCount(Reason.COMPROMISED, 1),
        ReasonCount(Reason.COMPLAINT, 1),
    )


def test_waiting_and_handling_times(figures: Figures) -> None:
    times = figures.handoff_times
    assert (times.tickets, times.cancelled, times.claimed, times.closed) == (5, 1, 4, 3)
    assert times.wait_median == 90.0  # waits 30, 60, 120, 300
    assert times.wait_p90 == 300.0
    assert times.handling_median == 1200.0  # 600, 1200, 1200


def test_ratings(figures: Figures) -> None:
    # A 5 (button), B 4 (words), C 2 after its handoff, D 3 after its handoff, G 4 before its
    # handoff; H's "还行吧" holds no number.
    ratings = figures.ratings
    assert ratings.overall == RatingGroup("all", (0, 1, 1, 2, 1))
    assert ratings.overall.count == 5
    assert ratings.overall.average == 18 / 5
    assert ratings.by_channel == (
        RatingGroup("rest", (0, 1, 0, 1, 1)),
        RatingGroup("socketio", (0, 0, 1, 1, 0)),
    )
    assert ratings.by_channel[0].average == 11 / 3
    assert ratings.by_channel[1].average == 3.5
    assert ratings.handoff == RatingGroup("handoff", (0, 1, 1, 0, 0))
    assert ratings.handoff.average == 2.5
    assert ratings.bot_only == RatingGroup("bot_only", (0, 0, 0, 2, 1))
    assert ratings.bot_only.average == 13 / 3


def test_low_confidence_messages_are_grouped_and_masked(figures: Figures) -> None:
    # C's "在吗" fell back while the agent owned the conversation: not a candidate.
    assert figures.low_confidence == (
        TextCount("怎么回事", 4),
        TextCount("[已隐藏]", 1),
        TextCount("什么意思", 1),
        TextCount("我的地址 0x1234…5678", 1),
    )


def test_figures_as_json(figures: Figures) -> None:
    data = json.loads(json.dumps(figures.as_dict(), ensure_ascii=False))
    assert data["conversations"] == 8
    assert data["days"][0]["day"] == "2026-03-01"
    assert data["understanding"]["fallback_share"] == 7 / 24
    assert data["containment"]["rate"] == 0.5
    assert data["containment"]["by_reason"][0] == {"reason": "requested", "conversations": 1}
    assert data["handoff_times"]["wait_p90"] == 300.0
    assert data["ratings"]["overall"] == {
        "name": "all",
        "counts": [0, 1, 1, 2, 1],
        "count": 5,
        "average": 3.6,
    }
    assert data["low_confidence"][0] == {"text": "怎么回事", "count": 4}


def test_a_window_keeps_who_owned_the_conversation(sources: InsightSources) -> None:
    # D's pause happened before the window: its "你好" on day 2 still went to the agent.
    windowed = sources.figures(since=at(DAY2, 0, 0), zone=ZONE)
    assert (windowed.first_day, windowed.last_day) == (DAY2, DAY2)
    assert windowed.user_messages == 15
    assert windowed.understanding.messages == 13
    times = windowed.handoff_times
    assert (times.tickets, times.cancelled, times.claimed, times.closed) == (3, 1, 2, 1)


def test_empty_stores_give_empty_figures(tmp_path: Path) -> None:
    empty = InsightSources(
        write_tracker_store(tmp_path / "tracker.db", []),
        write_handoff_store(tmp_path / "handoff.db", []),
    ).figures(zone=ZONE)
    assert empty == compute_figures([], [], ZONE)
    assert (empty.conversations, empty.user_messages, empty.first_day) == (0, 0, None)
    assert empty.understanding.fallback_share is None
    assert empty.containment.rate is None
    assert empty.handoff_times.wait_median is None
    assert empty.ratings.overall.average is None
    json.dumps(empty.as_dict())


def test_a_missing_sqlite_file_is_an_error_not_an_empty_database(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    sources = InsightSources(f"sqlite:///{missing}", f"sqlite:///{tmp_path / 'handoff.db'}")
    with pytest.raises(InsightError, match="no SQLite database"):
        sources.figures(zone=ZONE)
    assert not missing.exists()


def test_sources_default_to_the_servers_settings(tmp_path: Path) -> None:
    env = {"TRACKER_DB_URL": "postgresql://support@db/rasa"}
    env["HANDOFF_DB_URL"] = "postgresql://support@db/handoff"
    sources = InsightSources.from_env(env)
    assert sources.tracker_url == "postgresql://support@db/rasa"
    assert sources.handoff_url == "postgresql://support@db/handoff"
    assert InsightSources.from_env({}).tracker_url.endswith("/var/tracker.db")


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], None), ([5.0], 5.0), ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 9), ([30, 60, 120, 300], 300)],
)
def test_p90_is_the_nearest_rank(values: list[float], expected: float | None) -> None:
    assert percentile(values, 90) == expected


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("  转账   没到账 ", "转账 没到账"),
        (f"hash 0x{'ab' * 32} 呢", "hash 0xabab…abab 呢"),
        ("TRx地址 TJRyWwFs9wTFGZg3JbrVriFbNfCug5tDeC", "TRx地址 TJRyWw…tDeC"),
        ("邮箱 alice.w@example.com", "邮箱 a***@example.com"),
        ("手机13812345678", "手机138****5678"),
        ("验证码 123456", "验证码 ******"),
        (f"助记词 {MNEMONIC}", "助记词 [已隐藏]"),
        ("助记词 " + " ".join("的一是在不了有和人这中大"), "助记词 [已隐藏]"),
    ],
)
def test_mask_identifiers_masks_identifiers_and_secrets(text: str, shown: str) -> None:
    assert mask_identifiers(text) == shown
