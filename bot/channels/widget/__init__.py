"""The in-app chat widget, authenticated by the wallet backend's JWT (``bot.channels.widget_auth``):
the channel with its page and conversations (``channel``), the socket.io server with its origins,
shared rooms and output (``sockets``), and the owner's Telegram/WeChat bindings (``bindings``)."""

from bot.channels.widget.channel import WidgetChannel, conversation_of, notify_owner
from bot.channels.widget.sockets import ROOMS_CHANNEL, allowed_origins

__all__ = ["ROOMS_CHANNEL", "WidgetChannel", "allowed_origins", "conversation_of", "notify_owner"]
