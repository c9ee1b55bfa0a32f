"""``make kb-export`` / ``make kb-import``: articles between the database and ``data/help_center/``.

    python -m bot.help_center.files export [--dir DIR]   the live articles to DIR/<id>.md; files
                                                         of retired articles are removed
    python -m bot.help_center.files import [--dir DIR]   DIR's articles into the database, as new
                                                         versions by "git" where they changed

The database is the handoff database (HANDOFF_DB_URL). An import checks every file first and
saves nothing when one is broken (the reason is printed and it exits 1), so the servers keep
answering from the versions they have.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.help_center.articles import ARTICLES_DIR, ArticleError, load_directory
from bot.help_center.store import ArticleStore
from bot.settings import StoreUrls

IMPORT_AUTHOR = "git"


def export_articles(store: ArticleStore, directory: Path) -> tuple[int, list[str]]:
    """Writes the live articles; returns how many, and the ids of the retired files removed."""
    directory.mkdir(parents=True, exist_ok=True)
    written, removed = 0, []
    for stored in store.all():
        path = directory / f"{stored.article.article_id}.md"
        if stored.retired:
            if path.exists():
                path.unlink()
                removed.append(stored.article.article_id)
            continue
        path.write_text(stored.text, encoding="utf-8")
        written += 1
    return written, removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("direction", choices=["export", "import"])
    parser.add_argument("--dir", type=Path, default=ARTICLES_DIR)
    options = parser.parse_args(argv)
    store = ArticleStore.from_url(StoreUrls.from_env().handoff)
    if options.direction == "export":
        written, removed = export_articles(store, options.dir)
        print(
            f"{written} articles written to {options.dir}; retired and removed: {removed or 'none'}"
        )
        return 0
    try:
        articles = load_directory(options.dir)
    except ArticleError as error:
        print(f"nothing imported: {error}", file=sys.stderr)
        return 1
    saved = store.import_articles(articles, IMPORT_AUTHOR)
    print(f"{len(articles)} articles read, {len(saved)} saved as new versions: {saved or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
