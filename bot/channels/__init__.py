"""Input channels and the turn pipeline every user message passes, whatever its channel.

Channels (registered in credentials.yml): ``rest`` (with ``rest_tokens``), the in-app ``widget``
(``widget_auth``), the packages ``telegram`` and ``wechat`` on the ``platform`` base (one
``deliveries`` table, linked to wallet accounts by ``binding``); ``metrics``; and the guards
``http_guard`` and ``api_guard``. Pages and their
scripts are in ``static/`` (the agent console's too: ``bot.handoff.console``).

The turn pipeline: ``intake`` (``limits``, ``client_address``, secrets hidden), ``button_choice``,
Rasa's turn, then ``turn_end`` (``reply_guard``); ``responses`` renders what a channel answers by
itself.
"""
