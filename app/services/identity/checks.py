"""Where a request's identity stands, and staff's identity results."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.errors import (
    InvalidTransition,
)
from app.models.identity import Attachment, IdentityCheck, Verification
from app.models.request import Party, Request
from app.runtime import Runtime
from app.services.audit.timeline import move
from app.services.audit.timeline import note as timeline_note
from app.services.clinics.forwarding import send_when_verified
from app.services.notices.queue import queue_notice
from app.workflows import identity as rules
from app.workflows.identity import Evidence
from app.workflows.lifecycle import CLOSED, Status
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


# How far up the chain of linked requests (objection, reopened request) a check is looked for.
_MAX_CHAIN = 8


def verified_methods(session: Session, request: Request) -> list[str]:
    """Methods of the verified identity checks of this request and of the requests it follows
    from (an objection and the request it reopens concern the same people)."""
    ids: list[int] = []
    current: Request | None = request
    while current is not None and current.id is not None and len(ids) < _MAX_CHAIN:
        ids.append(current.id)
        current = session.get(Request, current.parent_id) if current.parent_id else None
    rows = session.exec(
        select(IdentityCheck.method).where(
            col(IdentityCheck.request_id).in_(ids), IdentityCheck.result == "verified"
        )
    ).all()
    return list(rows)


def record_match_missing(session: Session, rt: Runtime, request: Request) -> bool:
    """Decree art. 46(1): an open request that a grant would still wait for."""
    if request.status in CLOSED or not rules.record_match_needed(
        request.type, required=rt.settings.identity_require_record_match
    ):
        return False
    return not rules.record_matched(verified_methods(session, request))


def identity_summary(session: Session, rt: Runtime, request: Request) -> dict[str, Any]:
    """The staff detail's `identity`: what is missing (the requester's pieces, and the record
    match a grant waits for), and the checklist staff match against the service's records."""
    missing_now = missing(session, request)
    matched = rules.record_matched(verified_methods(session, request))
    if record_match_missing(session, rt, request):
        missing_now.append(rules.MATCH_ACCOUNT_RECORD)
    subject = session.exec(
        select(Party).where(Party.request_id == request.id, Party.role == "subject")
    ).one()
    v = rt.vault
    values: dict[str, list[str]] = {
        "name": [v.decrypt_opt(subject.name_enc, field="party.name") or ""],
        "birth_date": [v.decrypt_opt(subject.birth_date_enc, field="party.birth_date") or ""],
        "contact": [
            c
            for c in (
                v.decrypt_opt(subject.email_enc, field="party.email"),
                v.decrypt_opt(subject.phone_enc, field="party.phone"),
            )
            if c
        ],
    }
    return {
        "missing": missing_now,
        "record_match_required": rules.record_match_needed(
            request.type, required=rt.settings.identity_require_record_match
        ),
        "record_matched": matched,
        "record_match_methods": sorted(m.value for m in rules.RECORD_BINDING_METHODS),
        "record_match_checklist": [
            {"check": check, "label": label, "values": [x for x in values[check] if x]}
            for check, label in rules.RECORD_MATCH_CHECKLIST
        ],
    }


def _record_in_review(
    session: Session, rt: Runtime, request: Request, *, method: str, result: str, actor: str
) -> None:
    """A record match (or an ID seen) after the one-time code put the request in review: it
    is recorded, and changes no status. A failed match leaves the grant blocked; staff then
    ask for more (보완 요청) or decide without granting (e.g. `no_data_held`)."""
    request.version += 1
    request.updated_at = rt.clock()
    timeline_note(
        session, rt, request, "identity_checked", actor=actor, identity=method, result=result
    )
    session.flush()


# Where a check made after the code (the record match) is taken: review, and its pauses.
_AFTER_CODE = frozenset({Status.IN_REVIEW, Status.POSTPONED})


def _after_code(request: Request, method: str) -> bool:
    """True for a check after the code (in review: the record match), False for one in
    identity_pending; a check at any other status is refused."""
    after_code = request.status in _AFTER_CODE or (
        request.status == Status.AWAITING_REQUESTER and request.resume_status == Status.IN_REVIEW
    )
    if request.status != Status.IDENTITY_PENDING and not after_code:
        raise InvalidTransition("본인 확인 단계나 검토 중인 요청이 아닙니다.")
    if after_code and method not in rules.RECORD_BINDING_METHODS:
        allowed = ", ".join(sorted(m.value for m in rules.RECORD_BINDING_METHODS))
        raise InvalidTransition(
            f"검토 중에는 기록 대조나 신분증 확인 결과({allowed})만 기록할 수 있습니다."
        )
    return after_code


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
    after_code = _after_code(request, method)
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
    if after_code:
        _record_in_review(session, rt, request, method=method, result=result, actor=actor)
        return
    if result == "verified":
        move(session, rt, request, Status.IN_REVIEW, actor=actor, identity=method)
        send_when_verified(session, rt, request, actor=actor)
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
