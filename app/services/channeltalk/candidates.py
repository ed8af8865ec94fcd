"""Detections a manager confirms: messages that may be rights requests (low confidence)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.errors import Conflict, NotFound
from app.integrations.channeltalk_events import CustomerMessage, UserRef
from app.models.channeltalk import ChatCandidate, InboundEvent
from app.models.request import Request
from app.runtime import Runtime
from app.services.channeltalk.requests import file_from_chat


def candidates(session: Session, *, status: str, limit: int) -> list[ChatCandidate]:
    return list(
        session.exec(
            select(ChatCandidate)
            .where(ChatCandidate.status == status)
            .order_by(col(ChatCandidate.message_at).desc())
            .limit(limit)
        ).all()
    )


def candidate_view(session: Session, rt: Runtime, c: ChatCandidate) -> dict[str, Any]:
    reference = (
        session.exec(select(Request.reference).where(Request.id == c.request_id)).first()
        if c.request_id
        else None
    )
    assert c.id is not None
    return {
        "id": c.id,
        "status": c.status,
        "user_chat_id": c.user_chat_id,
        "user_type": c.user_type,
        "message_at": c.message_at,
        "text": rt.vault.decrypt(c.text_enc, field="chat_candidate.text"),
        "suggested": list(c.suggested),
        "matched": list(c.matched),
        "reference": reference,
        "note_posted": c.note_sent_at is not None,
    }


def candidate_message(rt: Runtime, c: ChatCandidate) -> CustomerMessage:
    """The candidate's message again, as if it had just arrived (for filing on confirmation)."""
    member = rt.vault.decrypt_opt(c.member_id_enc, field="chat_link.member_id")
    raw_user = rt.vault.decrypt_opt(c.user_enc, field="chat_candidate.user")
    user = (
        UserRef.model_validate_json(raw_user)
        if raw_user
        else UserRef(id=c.user_id, memberId=member, type=c.user_type)
    )
    return CustomerMessage(
        message_id=c.message_id,
        channel_id=c.channel_id,
        user_chat_id=c.user_chat_id,
        user_id=c.user_id,
        sent_at=c.message_at,
        text=rt.vault.decrypt(c.text_enc, field="chat_candidate.text"),
        user=user,
    )


def confirm_candidate(
    session: Session, rt: Runtime, candidate_id: int, request_type: str, *, staff_id: int
) -> Request:
    """A manager confirms: the request is filed as received at the message's time."""
    c = _pending_candidate(session, candidate_id)
    request = file_from_chat(
        session, rt, candidate_message(rt, c), request_type, None, actor=f"staff:{staff_id}"
    )
    c.status, c.request_id = "filed", request.id
    c.decided_by, c.decided_at = staff_id, rt.clock()
    session.flush()
    return request


def dismiss_candidate(session: Session, rt: Runtime, candidate_id: int, *, staff_id: int) -> None:
    c = _pending_candidate(session, candidate_id)
    c.status, c.decided_by, c.decided_at = "dismissed", staff_id, rt.clock()
    session.flush()


def _pending_candidate(session: Session, candidate_id: int) -> ChatCandidate:
    c = session.exec(
        select(ChatCandidate).where(ChatCandidate.id == candidate_id).with_for_update()
    ).first()
    if c is None:
        raise NotFound("확인할 채팅 요청 후보를 찾을 수 없습니다.")
    if c.status != "pending":
        raise Conflict("이미 처리된 후보입니다.", code="candidate_decided")
    return c


def integration_counts(session: Session) -> tuple[dict[str, int], int]:
    """Webhook events by processing status, and the detections waiting for staff."""
    counts = session.exec(
        select(InboundEvent.status, func.count()).group_by(col(InboundEvent.status))
    ).all()
    pending = session.exec(
        select(func.count()).select_from(ChatCandidate).where(ChatCandidate.status == "pending")
    ).one()
    return {status: n for status, n in counts}, pending
