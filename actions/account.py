"""Account status (password_reset) and the security check-up (account_security).

A security question that names a handle, link or address (「@xxx 找我要助记词，是真的吗」) also
gets that value checked, as 「这个是官方客服吗」 would (``actions.care``)."""

from __future__ import annotations

from datetime import timedelta

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.care import check_pasted, pasted
from actions.wallet_action import WalletAction, send
from bot.dialogue.account_check import (
    CHECKUP_DAYS,
    account_status_replies,
    security_checkup_replies,
)
from bot.dialogue.replies import Reply


class ActionAccountStatus(WalletAction):
    """Lock state, where the reset code goes and the exact reset steps."""

    def name(self) -> str:
        return "action_account_status"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        if account_id is None:
            send(dispatcher, [Reply("utter_password_reset")])
            return []
        account = await self.call(self.wallet.account, account_id)
        send(dispatcher, account_status_replies(account, self.clock(), self.display_zone))
        return []


class ActionSecurityCheckup(WalletAction):
    """2FA state and new-device logins of the last days, with advice; first, the verdict on any
    handle, link or address the message names."""

    def name(self) -> str:
        return "action_security_checkup"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account_id: str | None
    ) -> list[EventType]:
        found = pasted(tracker)
        if found:
            send(dispatcher, await check_pasted(self, found, account_id))
        if account_id is None:
            send(dispatcher, [Reply("utter_account_security"), Reply("utter_login_for_checkup")])
            return []
        account = await self.call(self.wallet.account, account_id)
        since = self.clock() - timedelta(days=CHECKUP_DAYS)
        logins = await self.call(self.wallet.logins, account_id, since)
        send(dispatcher, security_checkup_replies(account, logins, self.display_zone))
        return []
