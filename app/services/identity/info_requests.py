"""보완 요청: asking the requester for more, and the replies."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from app.errors import (
    InvalidTransition,
)
from app.models.identity import InfoRequest, Reply
from app.models.request import Request
from app.runtime import Runtime
from app.services.audit.timeline import move, note
from app.services.notices.queue import queue_notice
from app.workflows.lifecycle import Status
from app.workflows.notice_extras import InfoRequestExtra
from app.workflows.notices import NoticeKind


def request_information(
    session: Session,
    rt: Runtime,
    request: Request,
    *,
    message: str,
    respond_by: date | None,
    actor: str,
) -> None:
    """보완 요청: the legal deadline keeps running (no provision pauses it)."""
    move(session, rt, request, Status.AWAITING_REQUESTER, actor=actor)
    assert request.id is not None
    session.add(
        InfoRequest(
            request_id=request.id,
            message_enc=rt.vault.encrypt(message, field="info_request.message"),
            respond_by=respond_by,
            created_at=rt.clock(),
        )
    )
    queue_notice(
        session,
        rt,
        request,
        NoticeKind.INFO_REQUEST,
        actor=actor,
        extra=InfoRequestExtra(message=message, respond_by=respond_by),
        dedupe=f"info_request:{request.version}",
    )


def reply(session: Session, rt: Runtime, request: Request, message: str) -> None:
    if request.status != Status.AWAITING_REQUESTER:
        raise InvalidTransition("보완 요청을 받은 요청이 아닙니다.")
    assert request.id is not None
    session.add(
        Reply(
            request_id=request.id,
            body_enc=rt.vault.encrypt(message, field="reply.body"),
            created_at=rt.clock(),
        )
    )
    note(session, rt, request, "requester_replied", actor="requester")
    _return_from_wait(session, rt, request)


def _return_from_wait(session: Session, rt: Runtime, request: Request) -> None:
    if request.status == Status.AWAITING_REQUESTER and request.resume_status:
        move(session, rt, request, Status(request.resume_status), actor="requester")


def replies_of(session: Session, rt: Runtime, request: Request) -> list[dict[str, object]]:
    rows = session.exec(
        select(Reply).where(Reply.request_id == request.id).order_by(col(Reply.id))
    ).all()
    return [
        {"at": r.created_at, "message": rt.vault.decrypt(r.body_enc, field="reply.body")}
        for r in rows
    ]


def open_question(session: Session, rt: Runtime, request: Request) -> dict[str, object] | None:
    """The latest 보완 요청 {message, respond_by} while the request waits for the answer."""
    if request.status != Status.AWAITING_REQUESTER:
        return None
    row = session.exec(
        select(InfoRequest)
        .where(InfoRequest.request_id == request.id)
        .order_by(col(InfoRequest.id).desc())
    ).first()
    if row is None:
        return None
    message = rt.vault.decrypt(row.message_enc, field="info_request.message")
    return {"message": message, "respond_by": row.respond_by}
