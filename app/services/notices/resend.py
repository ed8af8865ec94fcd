"""Staff resend a notice: one copy per original at a time, and a fresh code for a code notice."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.errors import Conflict, NotFound
from app.models.notice import Notice
from app.models.request import Request
from app.models.vocab import NoticeStatus
from app.runtime import Runtime
from app.services.identity.otp import reissue_code
from app.services.notices.queue import notice_event
from app.workflows.notices import NoticeKind


def resend(
    session: Session, rt: Runtime, request: Request, notice_id: int, *, actor: str
) -> Notice:
    """A new copy of a notice, queued now; the original keeps its history.

    Idempotent per original: while a copy is still queued, resending again returns that copy
    instead of queueing another (the requester gets one message, not one per click). A
    verification code is not copied: its text holds a code that may have expired (or, once
    delivered, only its mask), so a fresh code is issued and sent instead."""
    original = session.get(Notice, notice_id, with_for_update=True)  # one resend at a time
    if original is None or original.request_id != request.id:
        raise NotFound("통지를 찾을 수 없습니다.")
    if original.status == NoticeStatus.PENDING:
        raise Conflict("아직 발송 중인 통지입니다. 결과를 기다려 주세요.", code="notice_pending")
    copies = session.exec(
        select(Notice).where(Notice.resend_of_id == original.id).order_by(col(Notice.id))
    ).all()
    queued = [c for c in copies if c.status == NoticeStatus.PENDING]
    if queued:
        return queued[-1]
    if original.kind == NoticeKind.ACCESS_CODE.value:
        # Its code is masked once delivered; the requester asks for a new one instead.
        raise Conflict(
            "확인코드 안내는 다시 보낼 수 없습니다. "
            "요청 조회 화면에서 새 확인코드를 받을 수 있습니다.",
            code="notice_not_resendable",
        )
    now = rt.clock()
    if original.kind == NoticeKind.VERIFICATION_CODE.value:
        notice = reissue_code(session, rt, request, actor=actor)
        notice.resend_of_id = original.id
        session.flush()
        notice_event(session, rt, request, "notice_resent", notice, actor=actor, at=now)
        return notice
    notice = Notice(
        request_id=original.request_id,
        kind=original.kind,
        channel=original.channel,
        dedupe_key=f"{original.dedupe_key}:resend:{len(copies) + 1}",
        recipient_enc=original.recipient_enc,
        subject_enc=original.subject_enc,
        body_enc=original.body_enc,
        redacted_body_enc=original.redacted_body_enc,
        full_body_enc=original.full_body_enc,
        next_attempt_at=now,
        created_at=now,
        resend_of_id=original.id,
    )
    session.add(notice)
    session.flush()
    notice_event(session, rt, request, "notice_resent", notice, actor=actor, at=now)
    return notice
