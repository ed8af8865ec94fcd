"""Reading requests: the requester's view, the staff queue and the staff detail."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter
from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from app.core import access_purpose
from app.core.codes import canonical_code, canonical_reference
from app.core.crypto import constant_time_equal
from app.errors import FieldError, NotFound, RateLimited, ValidationFailed, VersionMismatch
from app.models.bounds import MAX_ID, Day, IdField, Instant
from app.models.identity import Attachment, IdentityCheck, Verification
from app.models.request import Delegation, Event, Party, Request
from app.models.request_api import (
    AttachmentOut,
    EventOut,
    IdentityCheckOut,
    PersonOut,
    QueueItem,
    QueuePage,
    ReplyOut,
    RequestPublic,
    SlaState,
    SortKey,
    StaffRequestDetail,
    VerificationOut,
)
from app.models.staff import AccessLog, InternalNote, Staff
from app.models.task import Task
from app.runtime import Runtime
from app.services import decisions, identity
from app.services.channeltalk.view import chat_view
from app.services.notices.queue import summaries
from app.workflows.deadlines import kst_date
from app.workflows.lifecycle import CLOSED
from app.workflows.sla import Sla, sla_condition, sla_state

# Compared against when the reference is unknown, so both failures cost the same.
_DUMMY_HASH = "0" * 64


def authorize_requester(
    session: Session,
    rt: Runtime,
    reference: str,
    code: str,
    *,
    for_update: bool = False,
    client: str | None = None,
) -> Request:
    """The request, if the access code is right; unknown reference and wrong code look alike.
    Writes lock the row (`for_update`) so they queue behind staff writes. `client` is the
    caller's address: wrong codes lock that address out of the reference, not the reference
    (rt.code_lock)."""
    # Checked first, and the same whether the reference exists or not, so the lock reveals
    # nothing either.
    ref = canonical_reference(reference)
    target = rt.vault.hash_secret(f"code-target:{ref}")
    tries = rt.vault.hash_secret(f"code-target:{ref}\x00{client or '-'}")
    now = rt.clock().timestamp()
    wait = rt.code_lock.wait(tries, now, crowd=target) if rt.code_lock else None
    if wait is not None:
        raise RateLimited(
            "확인코드를 여러 번 틀려 잠시 조회할 수 없습니다. 잠시 후 다시 시도해 주세요.",
            retry_after=timedelta(seconds=wait),
        )
    stmt = select(Request).where(Request.reference == ref)
    request = session.exec(stmt.with_for_update() if for_update else stmt).first()
    supplied = rt.vault.hash_secret(canonical_code(code))
    stored = request.access_code_hash if request is not None else _DUMMY_HASH
    if not constant_time_equal(supplied, stored) or request is None or request.id is None:
        if rt.code_lock:
            rt.code_lock.failed(tries, now, crowd=target)
        raise NotFound("접수번호 또는 확인코드가 올바르지 않습니다.")
    return request


def get_for_requester(
    session: Session, rt: Runtime, reference: str, code: str, *, client: str | None = None
) -> RequestPublic:
    request = authorize_requester(session, rt, reference, code, client=client)
    assert request.id is not None
    return RequestPublic(
        reference=request.reference,
        type=request.type,
        service=request.service,
        status=request.status,
        outcome=request.outcome,
        received_at=request.received_at,
        legal_deadline=request.legal_due_on,
        next_action=identity.next_action(session, request),
        decision=decisions.decision_summary(session, rt, request),
        notices=summaries(session, request.id),
    )


@dataclass(frozen=True)
class QueueFilter:
    status: list[str]
    type: str | None = None
    service: str | None = None
    sla: SlaState | None = None
    assignee: str | None = None
    due_before: date | None = None
    due_after: date | None = None
    q: str | None = None
    # Only requests waiting on holders' tasks (executing, with a task open or failed).
    blocked_on_tasks: bool = False
    sort: SortKey = "legal_deadline"
    limit: int = 50
    cursor: str | None = None


def list_queue(session: Session, rt: Runtime, f: QueueFilter, staff: Staff) -> QueuePage:
    today = kst_date(rt.clock())
    due_soon = rt.settings.due_soon_days
    stmt = select(Request)
    if f.status:
        stmt = stmt.where(col(Request.status).in_(f.status))
    if f.type:
        stmt = stmt.where(Request.type == f.type)
    if f.service:
        stmt = stmt.where(Request.service == f.service)
    if f.sla:
        stmt = stmt.where(
            sla_condition(
                Sla(f.sla),
                status=col(Request.status),
                legal_due_on=col(Request.legal_due_on),
                closed_on=col(Request.closed_on),
                today=today,
                due_soon_days=due_soon,
            )
        )
    if f.assignee is not None:
        stmt = stmt.where(_assignee_clause(f.assignee, staff))
    if f.due_before:
        stmt = stmt.where(col(Request.legal_due_on) <= f.due_before)
    if f.due_after:
        stmt = stmt.where(col(Request.legal_due_on) >= f.due_after)
    if f.q:
        # A prefix search, taken literally (not the lookup's lenient spelling, which would
        # drop characters and widen the search).
        stmt = stmt.where(col(Request.reference).startswith(f.q.strip().upper(), autoescape=True))
    if f.blocked_on_tasks:
        stmt = stmt.where(
            Request.status == "executing",
            col(Request.id).in_(select(Task.request_id).where(col(Task.status).in_(_PENDING))),
        )
    stmt = _page(stmt, f)
    rows = list(session.exec(stmt.limit(f.limit + 1)).all())
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    cutoff = rt.clock() - timedelta(hours=rt.settings.unassigned_flag_hours)
    pending = _pending_tasks(session, [r.id for r in rows if r.status == "executing"])
    items = [
        _queue_item(r, today, due_soon, cutoff).model_copy(
            update={"tasks_pending": pending.get(r.id or 0, 0)}
        )
        for r in rows
    ]
    next_cursor = _encode_cursor(rows[-1], f.sort) if more and rows else None
    return QueuePage(items=items, next_cursor=next_cursor)


_PENDING = ("open", "failed")


def _pending_tasks(session: Session, request_ids: list[int | None]) -> dict[int, int]:
    if not request_ids:
        return {}
    rows = session.exec(
        select(Task.request_id, func.count())
        .where(col(Task.request_id).in_(request_ids), col(Task.status).in_(_PENDING))
        .group_by(col(Task.request_id))
    ).all()
    return {rid: n for rid, n in rows}


def _assignee_clause(value: str, staff: Staff) -> Any:
    if value == "me":
        return Request.assignee_id == staff.id
    if value == "none":
        return col(Request.assignee_id).is_(None)
    if value.isdigit() and 1 <= int(value) <= MAX_ID:
        return Request.assignee_id == int(value)
    msg = "담당자는 me, none 또는 직원 번호여야 합니다."
    raise ValidationFailed(msg, errors=[FieldError("assignee", "invalid", msg)])


def _page(stmt: Any, f: QueueFilter) -> Any:
    """Keyset pagination: the cursor carries the last row's sort value and id."""
    last = _decode_cursor(f.cursor, f.sort) if f.cursor else None
    if f.sort == "legal_deadline":
        if last is not None:
            _, due, rid = last
            stmt = stmt.where(
                or_(
                    col(Request.legal_due_on) > due,
                    and_(col(Request.legal_due_on) == due, col(Request.id) > rid),
                )
            )
        return stmt.order_by(col(Request.legal_due_on), col(Request.id))
    if last is not None:
        _, at, rid = last
        stmt = stmt.where(
            or_(
                col(Request.received_at) < at,
                and_(col(Request.received_at) == at, col(Request.id) < rid),
            )
        )
    return stmt.order_by(col(Request.received_at).desc(), col(Request.id).desc())


def _encode_cursor(row: Request, sort: str) -> str:
    value = (
        row.legal_due_on.isoformat() if sort == "legal_deadline" else row.received_at.isoformat()
    )
    raw = json.dumps([sort, value, row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# What a cursor may decode to, per sort order: exactly [sort, value, id], strictly typed (no
# floats, strings or booleans for the id, a tz-aware instant, dates and ids within the bounds
# the database can compare). The cursor comes back from the client, so it is input like any
# other: anything else is 422 on `cursor`, never a 500 from the query.
_CURSOR_SHAPES: dict[str, TypeAdapter[tuple[str, date | datetime, int]]] = {
    "legal_deadline": TypeAdapter(
        tuple[Literal["legal_deadline"], Day, IdField], config=ConfigDict(strict=True)
    ),
    "-received_at": TypeAdapter(
        tuple[Literal["-received_at"], Instant, IdField], config=ConfigDict(strict=True)
    ),
}


def _decode_cursor(cursor: str, sort: str) -> tuple[str, date | datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return _CURSOR_SHAPES[sort].validate_json(raw)
    except ValueError:
        # pydantic's ValidationError is a ValueError, and so are binascii.Error (not base64)
        # and non-ASCII text in the cursor.
        msg = "페이지 커서가 올바르지 않습니다. 첫 페이지부터 다시 조회해 주세요."
        raise ValidationFailed(msg, errors=[FieldError("cursor", "invalid", msg)]) from None


def _queue_item(r: Request, today: date, due_soon_days: int, cutoff: datetime) -> QueueItem:
    return QueueItem(
        reference=r.reference,
        type=r.type,
        service=r.service,
        channel=r.channel,
        status=r.status,
        received_at=r.received_at,
        legal_deadline=r.legal_due_on,
        target_date=r.target_due_on,
        sla=sla_state(
            status=r.status,
            legal_due_on=r.legal_due_on,
            closed_on=r.closed_on,
            today=today,
            due_soon_days=due_soon_days,
        ),
        assignee=r.assignee_id,
        unassigned_too_long=(
            r.assignee_id is None and r.status not in CLOSED and r.received_at < cutoff
        ),
    )


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
    correction = v.decrypt_opt(request.correction_enc, field="request.correction")
    return StaffRequestDetail(
        **base.model_dump(),
        outcome=request.outcome,
        version=request.version,
        deadline_unconfirmed=request.deadline_unconfirmed,
        period_days=request.period_days,
        items=request.items,
        delivery=request.delivery,
        notify_by=request.notify_by,
        details=v.decrypt_opt(request.details_enc, field="request.details"),
        correction=json.loads(correction) if correction else None,
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
    attachments = session.exec(
        select(Attachment).where(Attachment.request_id == request.id).order_by(col(Attachment.id))
    ).all()
    checks = session.exec(
        select(IdentityCheck)
        .where(IdentityCheck.request_id == request.id)
        .order_by(col(IdentityCheck.id))
    ).all()
    otp = session.exec(select(Verification).where(Verification.request_id == request.id)).first()
    return {
        "next_action": identity.next_action(session, request),
        "missing": identity.missing(session, request),
        "attachments": [
            AttachmentOut(
                **a.model_dump(exclude={"request_id", "blob_key", "filename_enc"}),
                filename=v.decrypt_opt(a.filename_enc, field="attachment.filename"),
            )
            for a in attachments
        ],
        "identity_checks": [
            IdentityCheckOut(
                method=c.method,
                result=c.result,
                actor=c.actor,
                checked_at=c.checked_at,
                note=v.decrypt_opt(c.note_enc, field="identity_check.note"),
            )
            for c in checks
        ],
        "verification": (
            VerificationOut(
                **otp.model_dump(exclude={"id", "request_id", "code_hash", "window_started_at"})
            )
            if otp
            else None
        ),
        "replies": [ReplyOut(**r) for r in identity.replies_of(session, rt, request)],
        "decision": decisions.decision_summary(session, rt, request)
        or _pending_decision(session, rt, request),
        "postponements": [
            {
                "reason": v.decrypt(p.reason_enc, field="postponement.reason"),
                "started_at": p.started_at,
                "original_due_on": p.original_due_on,
                "expected_end": p.expected_end,
                "ended_on": p.ended_on,
                "new_due_on": p.new_due_on,
            }
            for p in decisions.postponements(session, request)
        ],
        "internal_notes": [
            {
                "staff_id": n.staff_id,
                "at": n.created_at,
                "note": v.decrypt(n.body_enc, field="internal_note.body"),
            }
            for n in session.exec(
                select(InternalNote)
                .where(InternalNote.request_id == request.id)
                .order_by(col(InternalNote.id))
            ).all()
        ],
    }


def _pending_decision(session: Session, rt: Runtime, request: Request) -> dict[str, Any] | None:
    """A draft waiting for the officer, with who drafted it (the officer may not approve it)."""
    d = decisions.latest_decision(session, request)
    if d is None or d.state != "awaiting_approval":
        return None
    return {
        "state": d.state,
        "outcome": d.outcome,
        "grounds": d.grounds,
        "reason": rt.vault.decrypt_opt(d.reason_enc, field="decision.reason"),
        "items_granted": d.items_granted,
        "items_withheld": d.items_withheld,
        "retention": d.retention,
        "drafted_by": d.drafted_by,
        "drafted_at": d.drafted_at,
    }


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
