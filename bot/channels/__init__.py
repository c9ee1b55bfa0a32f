"""Input channels: REST now; the widget, Telegram, WeChat and the agent console later."""
