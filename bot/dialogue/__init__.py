"""Dialogue logic outside Rasa's policies: the custom actions' replies, and the server's NLG.

``account_check``, ``transfer_check``, ``complaints``, ``clarify``, ``ratings`` and ``replies``
serve the custom actions (``bot.insight`` also reads the intent labels and ratings); ``nlg``
(with ``script`` and ``action_validation``) runs in the Rasa server.
"""
