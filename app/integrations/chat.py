"""The outbox's transport into Channel Talk chats (notice channel "chat")."""

from __future__ import annotations

from app.integrations.channeltalk import ChannelTalkClient
from app.integrations.delivery import Outgoing
from app.settings import Settings

# Not a message to the customer: the chat's description in the Desk, for managers.
DESCRIPTION_KIND = "chat_description"


def client_for(settings: Settings) -> ChannelTalkClient:
    assert settings.channeltalk_access_key and settings.channeltalk_access_secret
    return ChannelTalkClient(
        settings.channeltalk_api_base,
        settings.channeltalk_access_key,
        settings.channeltalk_access_secret,
        timeout=settings.channeltalk_timeout_seconds,
        max_retries=settings.channeltalk_max_retries,
        max_rate_wait=settings.channeltalk_max_rate_wait_seconds,
    )


class ChatTransport:
    """Posts a notice into the user chat as the bot; `to` is the user chat id.

    The notice's stable key is the message's `requestId`, the same on every retry, so a post
    repeated after a crash can be recognised (our own outbox already sends each notice once).
    """

    name = "channeltalk"

    def __init__(self, client: ChannelTalkClient, bot_name: str) -> None:
        self.client = client
        self.bot_name = bot_name

    def send(self, message: Outgoing) -> None:
        if message.kind == DESCRIPTION_KIND:
            self.client.update_chat_description(message.to, message.body)
            return
        text = f"<b>{message.subject}</b>\n\n{message.body}" if message.subject else message.body
        self.client.send_message(message.to, text, request_id=message.key, bot_name=self.bot_name)
