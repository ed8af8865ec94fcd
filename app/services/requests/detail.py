"""One request for staff: looked up, version-checked, logged and shown whole."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from app.core import access_purpose
from app.core.codes import canonical_reference
from app.errors import NotFound, VersionMismatch
from app.models.identity import Attachment, IdentityCheck, Verification
from app.models.request import Delegation, Event, Party, Request
from app.models.request_api import (
    AttachmentOut,
    EventOut,
    IdentityCheckOut,
    PersonOut,
    ReplyOut,
    StaffRequestDetail,
    VerificationOut,
)
from app.models.staff import AccessLog, InternalNote, Staff
from app.models.vocab import DecisionState
from app.runtime import Runtime
from app.services import closing
from app.services.channeltalk.view import chat_view
from app.services.clinics.views import clinic_columns, clinic_view
from app.services.decisions import postponement as decisions_postponement
from app.services.decisions import view
from app.services.identity import checks as identity_checks
from app.services.identity import info_requests
from app.services.notices.queue import notice_out
from app.services.notices.view import requester_notices
from app.services.requests.duplicates import duplicates_of
from app.services.requests.queue import _pending_tasks, _queue_item, scheduled_tasks
from app.services.transmission.log import recipient_of
from app.workflows.deadlines import kst_date


def request_by_reference(session: Session, reference: str, *, for_update: bool = False) -> Request:
    """`for_update` locks the row first (PostgreSQL), so concurrent writers queue up, and the
    later one then sees the new version and gets 412 instead of a deadlock."""
    stmt = select(Request).where(Request.reference == canonical_reference(reference))
    if for_update:
        stmt = stmt.with_for_update()
    request = session.exec(stmt).first()
    if request is None:
        raise NotFound("요청을 찾을 수 없습니다.")
    return request


def check_version(request: Request, expected: int) -> None:
    """Optimistic concurrency: a write based on an older version changes nothing (412)."""
    if request.version != expected:
        raise VersionMismatch(
            f"요청이 그사이 변경되었습니다(현재 버전 {request.version}). "
            "다시 조회한 뒤 시도해 주세요."
        )


def log_access(
    session: Session,
    rt: Runtime,
    request: Request,
    staff: Staff,
    action: str,
    ip: str | None,
    attachment_id: int | None = None,
) -> None:
    """Who looked at whose personal data, when and from where."""
    assert request.id is not None and staff.id is not None
    session.add(
        AccessLog(
            staff_id=staff.id,
            request_id=request.id,
            action=action,
            client_ip=ip,
            attachment_id=attachment_id,
            purpose=access_purpose.current(action),
            at=rt.clock(),
        )
    )


def get_detail(
    session: Session, rt: Runtime, reference: str, staff: Staff, client_ip: str | None
) -> StaffRequestDetail:
    request = request_by_reference(session, reference)
    assert request.id is not None
    now = rt.clock()
    v = rt.vault
    parties = {p.role: p for p in session.exec(select(Party).where(Party.request_id == request.id))}
    delegation = session.exec(select(Delegation).where(Delegation.request_id == request.id)).first()
    events = session.exec(
        select(Event).where(Event.request_id == request.id).order_by(col(Event.seq))
    ).all()
    parent_ref = (
        session.exec(select(Request.reference).where(Request.id == request.parent_id)).first()
        if request.parent_id
        else None
    )
    log_access(session, rt, request, staff, "view_detail", client_ip)
    cutoff = now - timedelta(hours=rt.settings.unassigned_flag_hours)
    base = _queue_item(request, kst_date(now), rt.settings.due_soon_days, cutoff)
    # Shown in every status: what an executing request still waits for, and 0 after.
    counts = _pending_tasks(session, [request.id], kst_date(now)).get(request.id or 0, (0, 0))
    base.tasks_pending, base.tasks_overdue = counts
    base.next_scheduled_on = scheduled_tasks(session, [request.id]).get(request.id or 0)
    clinic = clinic_columns(session, [request.id], today=kst_date(now)).get(request.id, {})
    base = base.model_copy(update=clinic)
    correction = v.decrypt_opt(request.correction_enc, field="request.correction")
    return StaffRequestDetail(
        **base.model_dump(),
        outcome=request.outcome,
        version=request.version,
        period_days=request.period_days,
        items=request.items,
        access_scope=request.access_scope,
        automated_decision=request.automated_decision,
        extensions=request.extensions,
        delivery=request.delivery,
        notify_by=request.notify_by,
        details=v.decrypt_opt(request.details_enc, field="request.details"),
        correction=json.loads(correction) if correction else None,
        transmission=(
            {"to": request.transmission_to, "recipient": recipient_of(rt, request)}
            if request.transmission_to
            else None
        ),
        subject=_person(rt, parties["subject"]),
        requester=_person(rt, parties["requester"]) if "requester" in parties else None,
        delegation=(
            {
                **json.loads(v.decrypt(delegation.fields_enc, field="delegation.fields")),
                "scope": delegation.scope,
            }
            if delegation
            else None
        ),
        parent_reference=parent_ref,
        chat=chat_view(session, rt, request),
        clinic=clinic_view(session, rt, request),
        notices=[notice_out(rt, n) for n in requester_notices(session, request.id)],
        duplicates=duplicates_of(session, request.id),
        **identity_view(session, rt, request),
        closed_at=request.closed_at,
        events=[
            EventOut(
                seq=e.seq,
                kind=e.kind,
                from_status=e.from_status,
                to_status=e.to_status,
                actor=e.actor,
                at=e.created_at,
                data=e.data,
            )
            for e in events
        ],
    )


def identity_view(session: Session, rt: Runtime, request: Request) -> dict[str, Any]:
    v = rt.vault
    otp = session.exec(select(Verification).where(Verification.request_id == request.id)).first()
    return {
        "next_action": identity_checks.next_action(session, request),
        "missing": identity_checks.missing(session, request),
        "identity": identity_checks.identity_summary(session, rt, request),
        "attachments": _attachments(session, rt, request),
        "identity_checks": _identity_checks(session, rt, request),
        "verification": (
            VerificationOut(
                **otp.model_dump(exclude={"id", "request_id", "code_hash", "window_started_at"})
            )
            if otp
            else None
        ),
        "replies": [ReplyOut(**r) for r in info_requests.replies_of(session, rt, request)],
        "decision": _staff_decision(session, rt, request),
        "postponements": [
            {
                "reason": v.decrypt(p.reason_enc, field="postponement.reason"),
                "started_at": p.started_at,
                "original_due_on": p.original_due_on,
                "expected_end": p.expected_end,
                "ended_on": p.ended_on,
                "new_due_on": p.new_due_on,
            }
            for p in decisions_postponement.postponements(session, request)
        ],
        "internal_notes": _internal_notes(session, rt, request),
    }


def _attachments(session: Session, rt: Runtime, request: Request) -> list[AttachmentOut]:
    rows = session.exec(
        select(Attachment).where(Attachment.request_id == request.id).order_by(col(Attachment.id))
    ).all()
    return [
        AttachmentOut(
            **a.model_dump(exclude={"request_id", "blob_key", "filename_enc"}),
            filename=rt.vault.decrypt_opt(a.filename_enc, field="attachment.filename"),
        )
        for a in rows
    ]


def _identity_checks(session: Session, rt: Runtime, request: Request) -> list[IdentityCheckOut]:
    rows = session.exec(
        select(IdentityCheck)
        .where(IdentityCheck.request_id == request.id)
        .order_by(col(IdentityCheck.id))
    ).all()
    return [
        IdentityCheckOut(
            method=c.method,
            result=c.result,
            actor=c.actor,
            checked_at=c.checked_at,
            note=rt.vault.decrypt_opt(c.note_enc, field="identity_check.note"),
        )
        for c in rows
    ]


def _internal_notes(session: Session, rt: Runtime, request: Request) -> list[dict[str, Any]]:
    rows = session.exec(
        select(InternalNote)
        .where(InternalNote.request_id == request.id)
        .order_by(col(InternalNote.id))
    ).all()
    return [
        {
            "staff_id": n.staff_id,
            "at": n.created_at,
            "note": rt.vault.decrypt(n.body_enc, field="internal_note.body"),
        }
        for n in rows
    ]


def _staff_decision(session: Session, rt: Runtime, request: Request) -> dict[str, Any] | None:
    """The decision as staff see it in every status after it was drafted: awaiting the
    officer (who drafted it: the officer may not approve their own), in force while the
    holders carry it out, and completed (with the requester's view of it too). A draft sent
    back is no decision."""
    d = closing.latest_decision(session, request)
    if d is None or d.state == DecisionState.SENT_BACK:
        return None
    staff_view: dict[str, Any] = {
        "state": d.state,
        "outcome": d.outcome,
        "grounds": d.grounds,
        "reason": rt.vault.decrypt_opt(d.reason_enc, field="decision.reason"),
        "items_granted": d.items_granted,
        "items_withheld": d.items_withheld,
        "retention": (
            [p.model_dump(mode="json") for p in d.retention] if d.retention is not None else None
        ),
        "access": d.access.model_dump(mode="json") if d.access is not None else None,
        # Art. 37-2: a granted refusal's measure; the explanation or reconsidered result.
        "measure": d.ad_measure,
        "explanation": _json_opt(
            rt.vault.decrypt_opt(d.ad_explanation_enc, field="decision.ad_explanation")
        ),
        "drafted_by": d.drafted_by,
        "drafted_at": d.drafted_at,
        "approved_by": d.approved_by,
        "decided_at": d.decided_at,
    }
    public = view.decision_summary(session, rt, request)
    if public is None:
        return staff_view
    # The requester's view adds the grounds' text and the objection method; staff keep the
    # whole retention plan (rule and reason of each item).
    return {**staff_view, **public, "retention": staff_view["retention"]}


def _json_opt(raw: str | None) -> Any:
    return json.loads(raw) if raw else None


def _person(rt: Runtime, p: Party) -> PersonOut:
    v = rt.vault
    birth = v.decrypt_opt(p.birth_date_enc, field="party.birth_date")
    return PersonOut(
        relationship=p.relationship,
        name=v.decrypt_opt(p.name_enc, field="party.name"),
        birth_date=date.fromisoformat(birth) if birth else None,
        email=v.decrypt_opt(p.email_enc, field="party.email"),
        phone=v.decrypt_opt(p.phone_enc, field="party.phone"),
    )
