"""make kb-export / kb-import: articles go to git and back; a broken file imports nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.help_center.files import main
from bot.help_center.store import ArticleStore
from tests.help_center.support import article_text, store_at


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ArticleStore:
    monkeypatch.setenv("HANDOFF_DB_URL", f"sqlite:///{tmp_path / 'handoff.db'}")
    return store_at(tmp_path)


def test_export_then_import_round_trips_a_leads_edit(store: ArticleStore, tmp_path: Path) -> None:
    store.save(article_text(), "lead-chen", None)
    store.save(article_text(article_id="old-topic", title="旧话题"), "lead-chen", None)
    store.retire("old-topic", "lead-chen", 1)
    directory = tmp_path / "articles"
    (directory).mkdir()
    (directory / "old-topic.md").write_text(article_text(article_id="old-topic"), encoding="utf-8")
    assert main(["export", "--dir", str(directory)]) == 0
    assert sorted(p.name for p in directory.iterdir()) == ["revoke-approval.md"]

    edited = article_text(summary="评审后在 git 里改过的简短回答，内容足够长。")
    (directory / "revoke-approval.md").write_text(edited, encoding="utf-8")
    assert main(["import", "--dir", str(directory)]) == 0
    current = store.get("revoke-approval")
    assert current is not None and current.revision == 2
    assert store.history("revoke-approval")[0].author == "git"


def test_a_broken_file_imports_nothing_and_says_why(
    store: ArticleStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "articles"
    directory.mkdir()
    (directory / "a-good-one.md").write_text(article_text(article_id="a-good-one"), "utf-8")
    (directory / "broken.md").write_text("---\nid: broken\n---\n", "utf-8")
    assert main(["import", "--dir", str(directory)]) == 1
    assert "broken.md" in capsys.readouterr().err
    assert store.all() == []
