"""WeChat Official Account, cut by concern as wechatpy is: the webhook channel (``channel``),
message security (``crypto``) and signatures used once (``replay``), safe XML (``xml``), the API
client and its shared access token (``api``), text rendering and pushes (``render``) and the
5-second passive reply (``passive``)."""

from bot.channels.wechat.channel import WeChatChannel

__all__ = ["WeChatChannel"]
