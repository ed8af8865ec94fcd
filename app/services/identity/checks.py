"""Where a request's identity stands, and staff's identity results."""

from __future__ import annotations

from sqlmodel import Session, select

from app.errors import (
    InvalidTransition,
)
from app.models.identity import Attachment, IdentityCheck, Verification
from app.models.request import Party, Request
from app.runtime import Runtime
from app.services.audit.timeline import move
from app.services.notices.queue import queue_notice
from app.workflows import identity as rules
from app.workflows.identity import Evidence
from app.workflows.lifecycle import Status
from app.workflows.notice_extras import IdentityRejectedExtra, StatusUpdateExtra
from app.workflows.notices import NoticeKind


def relationship(session: Session, request: Request) -> str:
    return session.exec(
        select(Party.relationship).where(Party.request_id == request.id, Party.role == "subject")
    ).one()


def evidence_of(session: Session, request: Request) -> Evidence:
    kinds = session.exec(select(Attachment.kind).where(Attachment.request_id == request.id)).all()
    verified = session.exec(
        select(Verification.verified_at).where(Verification.request_id == request.id)
    ).first()
    return Evidence(attachment_kinds=frozenset(kinds), contact_verified=verified is not None)


def next_action(session: Session, request: Request) -> str:
    return rules.next_action(
        request.status, relationship(session, request), evidence_of(session, request)
    )


def missing(session: Session, request: Request) -> list[str]:
    if request.status != Status.IDENTITY_PENDING:
        return []
    pieces = rules.missing_pieces(relationship(session, request), evidence_of(session, request))
    return [p.value for p in pieces]


def staff_identity_check(
    session: Session,
    rt: Runtime,
    request: Request,
    *,
    result: str,
    method: str,
    note: str | None,
    reason: str | None,
    actor: str,
) -> None:
    if request.status != Status.IDENTITY_PENDING:
        raise InvalidTransition("본인 확인 단계의 요청이 아닙니다.")
    assert request.id is not None
    session.add(
        IdentityCheck(
            request_id=request.id,
            method=method,
            result=result,
            actor=actor,
            note_enc=rt.vault.encrypt_opt(note, field="identity_check.note"),
            checked_at=rt.clock(),
        )
    )
    if result == "verified":
        move(session, rt, request, Status.IN_REVIEW, actor=actor, identity=method)
        if request.notify_by == "chat":
            queue_notice(
                session,
                rt,
                request,
                NoticeKind.STATUS_UPDATE,
                extra=StatusUpdateExtra(
                    message="본인 확인이 완료되어 담당자가 요청을 검토하고 있습니다."
                ),
                dedupe="status_update:identity_verified",
                actor=actor,
            )
        return
    move(session, rt, request, Status.REJECTED, actor=actor, identity=method)
    queue_notice(
        session,
        rt,
        request,
        NoticeKind.IDENTITY_REJECTED,
        actor=actor,
        extra=IdentityRejectedExtra(
            reason=reason
            or "제출하신 자료로는 정보주체 본인 또는 정당한 대리인임을 확인할 수 없었습니다."
        ),
    )
