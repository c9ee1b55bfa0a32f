"""The ``help_center`` intent's examples: how users ask what only an article answers.

An article whose front matter names no intent covers a subject none of the assistant's topics
answers (approvals, address poisoning, swaps, NFTs …): its title and alternative questions teach
the classifier to send such questions to the help center. An article that goes deeper into a
topic (``intents: [network_fee]``) teaches nothing: its questions belong to that topic, whose
answer, or account look-up, stays first; the search still finds the article when the classifier
is unsure. Read from ``data/help_center/`` at training time (``bot.nlu.augmentation``), so an
article added in the console is found by the search at once and learnt at the next training.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.help_center.articles import Article


def help_center_examples(articles: Iterable[Article]) -> list[str]:
    """The texts that train ``help_center``: titles and questions of the articles no topic owns."""
    texts: dict[str, None] = {}
    for article in articles:
        if not article.intents:
            texts.update(dict.fromkeys([article.title, *article.questions]))
    return list(texts)
