"""The chat a request came from, as staff see it in the request detail."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.models.channeltalk import ChatLink, ChatMessage
from app.models.request import Request
from app.runtime import Runtime


def chat_view(session: Session, rt: Runtime, request: Request) -> dict[str, Any] | None:
    link = session.exec(select(ChatLink).where(ChatLink.request_id == request.id)).first()
    if link is None:
        return None
    messages = session.exec(
        select(ChatMessage)
        .where(ChatMessage.request_id == request.id)
        .order_by(col(ChatMessage.sent_at), col(ChatMessage.id))
    ).all()
    v = rt.vault
    return {
        "channel_id": link.channel_id,
        "user_chat_id": link.user_chat_id,
        "user_id": link.user_id,
        "member_id": v.decrypt_opt(link.member_id_enc, field="chat_link.member_id"),
        "user_type": link.user_type,
        # member_hash: the login identified the person; none: a code or staff must.
        "chat_identity": link.identity,
        "detection": {"confidence": link.confidence, "matched": list(link.matched)},
        "messages": [
            {
                "message_id": m.message_id,
                "at": m.sent_at.isoformat(),
                "text": v.decrypt(m.text_enc, field="chat_message.text"),
            }
            for m in messages
        ],
    }
