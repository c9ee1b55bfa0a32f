"""Each server's help center follows the store: an edit is answered within the refresh interval,
with no training or restart; an empty store is filled from data/help_center."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bot.help_center.library import SEED_AUTHOR, HelpCenter
from tests.help_center.support import article_text, store_at


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_empty_store_is_filled_from_the_articles_in_git(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    library = HelpCenter(store, refresh_seconds=3)
    assert library.load() >= 80
    assert store.history("revoke-approval")[0].author == SEED_AUTHOR


def test_an_edit_on_one_server_is_answered_by_another_within_the_interval(tmp_path: Path) -> None:
    clock = Clock()
    store = store_at(tmp_path)
    other_server = HelpCenter(store_at(tmp_path), refresh_seconds=3, clock=clock)
    assert other_server.find("怎么取消授权")[0].article_id == "revoke-approval"
    revision = store.get("revoke-approval").revision  # type: ignore[union-attr]
    edited = article_text(summary="改过的简短回答：先取消授权，再转移资产。")
    store.save(edited, "lead-chen", revision)
    clock.now = 2.9
    assert not other_server.article("revoke-approval").summary.startswith("改过的")  # type: ignore[union-attr]
    clock.now = 3.0
    assert other_server.article("revoke-approval").summary.startswith("改过的")  # type: ignore[union-attr]


def test_a_retired_article_stops_being_answered(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    library = HelpCenter(store, refresh_seconds=0)
    assert library.find("怎么取消授权")[0].article_id == "revoke-approval"
    store.retire("revoke-approval", "lead-chen", 1)
    assert library.article("revoke-approval") is None
    assert "revoke-approval" not in [article.article_id for article in library.find("怎么取消授权")]


def test_the_database_down_keeps_the_articles_already_served(tmp_path: Path) -> None:
    clock = Clock()
    library = HelpCenter(store_at(tmp_path), refresh_seconds=3, clock=clock)
    assert library.find("怎么取消授权")[0].article_id == "revoke-approval"
    library.store.engine = sa.create_engine("sqlite:////nonexistent/dir/handoff.db")
    clock.now = 10.0
    assert library.find("怎么取消授权")[0].article_id == "revoke-approval"
