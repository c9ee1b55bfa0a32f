"""Which questions the help center answers: those the classifier sends to it, and those it is
unsure of. Every other intent is answered by its own topic, never by an article, so an account
question still gets its look-up and an off-topic one keeps the off-topic answer (out-of-scope
precision stays the classifier's). The NLU keeps ``help_center`` only when an article fits
(``bot.nlu.help_center_check``).
"""

from __future__ import annotations

HELP_CENTER_INTENT = "help_center"
SEARCHED_INTENTS = frozenset({HELP_CENTER_INTENT, "nlu_fallback"})
