"""The article store: every version kept with who and the diff; concurrent edits never lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.help_center.articles import ArticleError
from bot.help_center.store import ArticleStore, EditConflict, Event, events
from tests.help_center.support import article, article_text, store_at


@pytest.fixture
def store(tmp_path: Path) -> ArticleStore:
    return store_at(tmp_path)


def test_an_edit_is_a_new_version_with_its_author_and_diff(store: ArticleStore) -> None:
    first = store.save(article_text(), "lead-chen", None)
    edited = store.save(article_text(summary="新的简短回答，先取消授权再转移资产。"), "lead-li", 1)
    assert (first.revision, edited.revision) == (1, 2)
    history = store.history("revoke-approval")
    assert [(v.revision, v.author) for v in history] == [(2, "lead-li"), (1, "lead-chen")]
    assert "+summary: 新的简短回答" in history[0].diff and "-summary:" in history[0].diff
    assert store.live()[0].summary == "新的简短回答，先取消授权再转移资产。"


def test_a_save_from_an_old_revision_is_refused(store: ArticleStore) -> None:
    store.save(article_text(), "lead-chen", None)
    store.save(article_text(summary="第一位组长改的版本，内容足够长。"), "lead-chen", 1)
    with pytest.raises(EditConflict, match="reload"):
        store.save(article_text(summary="第二位组长基于旧版本改的。"), "lead-li", 1)
    assert store.live()[0].summary == "第一位组长改的版本，内容足够长。"


def test_a_new_article_with_a_taken_id_is_refused(store: ArticleStore) -> None:
    store.save(article_text(), "lead-chen", None)
    with pytest.raises(EditConflict, match="exists"):
        store.save(article_text(), "lead-li", None)


def test_a_broken_edit_keeps_the_version_served(store: ArticleStore) -> None:
    store.save(article_text(), "lead-chen", None)
    stamp = store.stamp()
    with pytest.raises(ArticleError):
        store.save("---\ntitle: 没有id\n---\n正文", "lead-chen", 1)
    assert store.stamp() == stamp and store.live()[0].title == "如何取消授权"


def test_a_retired_article_is_not_served_and_keeps_its_history(store: ArticleStore) -> None:
    store.save(article_text(), "lead-chen", None)
    store.retire("revoke-approval", "lead-chen", 1)
    assert store.live() == []
    stored = store.get("revoke-approval")
    assert stored is not None and stored.retired and stored.revision == 2
    assert store.history("revoke-approval")[0].retired


def test_import_saves_only_what_changed_and_brings_retired_back(store: ArticleStore) -> None:
    assert store.import_articles([article(), article(article_id="a-b", title="别的")], "git") == [
        "revoke-approval",
        "a-b",
    ]
    assert store.import_articles([article()], "git") == []
    store.retire("revoke-approval", "lead-chen", 1)
    assert store.import_articles([article()], "git") == ["revoke-approval"]
    assert len(store.live()) == 2


def test_the_stamp_moves_with_every_save(store: ArticleStore) -> None:
    assert store.stamp() == 0
    store.save(article_text(), "lead-chen", None)
    first = store.stamp()
    store.retire("revoke-approval", "lead-chen", 1)
    assert store.stamp() > first > 0


def test_an_unanswered_question_is_stored_masked(store: ArticleStore) -> None:
    address = "0x" + "ab" * 20
    store.record(Event.UNANSWERED, None, f"我往 {address} 转的币怎么办 手机13812345678")
    with store.engine.connect() as connection:
        question = connection.execute(events.select()).one().question
    assert address not in question and "13812345678" not in question
