"""Reading tasks: the staff view, the team's task queue, the certificate; evidence files."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter
from sqlmodel import Session, and_, col, or_, select

from app.errors import Conflict, FieldError, ValidationFailed
from app.evidence.multipart import UploadedFile
from app.models.bounds import Day, IdField
from app.models.identity import Attachment
from app.models.request import Request
from app.models.staff import Staff
from app.models.task import Task
from app.models.vocab import TYPE_LABELS_KO, Status, TaskKind, TaskStatus
from app.runtime import Runtime
from app.services.closing import latest_decision
from app.services.identity import evidence as identity_evidence
from app.services.requests.assignment import check_case_handler
from app.services.tasks.certificate import Certificate, CertificateTask, EvidenceFile, KeptItem
from app.workflows.deadlines import kst_date
from app.workflows.tasks import (
    ACTION_LABELS_KO,
    HOLDS_REQUEST,
    INSTRUCTION_LABELS_KO,
    METHOD_LABELS_KO,
    Action,
    Instruction,
    Method,
)

_OUTCOME_KO = {
    "granted": "전부 인용",
    "partially_granted": "일부 인용",
    "refused": "거절",
    "no_data_held": "보유 개인정보 없음",
    "unchanged": "정정하지 않음",
}


def check_assignee(session: Session, staff_id: int) -> None:
    check_case_handler(session, staff_id, field="assignee_id")


def evidence_of(session: Session, task_ids: Sequence[int | None]) -> dict[int, list[Attachment]]:
    """Evidence files of many tasks in one query."""
    found: dict[int, list[Attachment]] = {}
    rows = session.exec(
        select(Attachment)
        .where(col(Attachment.task_id).in_([i for i in task_ids if i is not None]))
        .order_by(col(Attachment.id))
    )
    for a in rows:
        found.setdefault(a.task_id or 0, []).append(a)
    return found


def task_view(
    session: Session,
    rt: Runtime,
    request: Request,
    t: Task,
    files: Sequence[Attachment] | None = None,
) -> dict[str, Any]:
    v = rt.vault
    if files is None:
        files = evidence_of(session, [t.id]).get(t.id or 0, [])
    return {
        "id": t.id,
        "reference": request.reference,
        "holder_code": t.holder_code,
        "holder_kind": t.holder_kind,
        "holder_name": t.holder_name,
        "contact_email": t.contact_email,
        "instructions": t.instructions,
        "kind": t.kind,
        "status": t.status,
        "opens_on": t.opens_on,
        "due_on": t.due_on,
        "overdue": t.status in (TaskStatus.OPEN, TaskStatus.FAILED)
        and t.due_on < kst_date(rt.clock()),
        "assignee_id": t.assignee_id,
        "performed": t.performed,
        "note": v.decrypt_opt(t.note_enc, field="task.note"),
        "completed_by": t.completed_by,
        "performed_at": t.performed_at,
        "completed_at": t.completed_at,
        "reason": v.decrypt_opt(t.reason_enc, field="task.reason"),
        "waived_by": t.waived_by,
        "evidence": [
            {
                "attachment_id": a.id,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
            }
            for a in files
        ],
    }


def queue(
    session: Session,
    rt: Runtime,
    *,
    statuses: Sequence[str],
    overdue: bool,
    holder: str | None,
    assignee: int | Literal["none"] | None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Tasks of every request, earliest due first: what the team and the holders owe. Keyset
    pages like the request queue: the rows and the cursor of the next page (None at the end)."""
    query = (
        select(Task, Request)
        .join(Request, col(Request.id) == col(Task.request_id))
        .where(col(Task.status).in_(list(statuses)))
    )
    if set(statuses) <= {"open", "failed", "scheduled"}:
        # What is owed: a withdrawn request's remaining tasks are moot; a retention end or a
        # 37(5) follow-up is owed after its request completed.
        query = query.where(
            or_(Request.status == Status.EXECUTING, col(Task.kind).notin_(HOLDS_REQUEST))
        )
    if overdue:
        query = query.where(col(Task.due_on) < kst_date(rt.clock()))
    if holder:
        query = query.where(Task.holder_code == holder)
    if assignee == "none":
        query = query.where(col(Task.assignee_id).is_(None))
    elif assignee is not None:
        query = query.where(Task.assignee_id == assignee)
    if cursor is not None:
        after_due, after_id = decode_task_cursor(cursor)
        query = query.where(
            or_(
                col(Task.due_on) > after_due,
                and_(col(Task.due_on) == after_due, col(Task.id) > after_id),
            )
        )
    found = list(
        session.exec(query.order_by(col(Task.due_on), col(Task.id)).limit(limit + 1)).all()
    )
    rows = found[:limit]
    files = evidence_of(session, [task.id for task, _ in rows])
    items = [
        {
            **task_view(session, rt, request, task, files.get(task.id or 0, [])),
            "request_status": request.status,
        }
        for task, request in rows
    ]
    last = rows[-1][0] if rows else None
    more = len(found) > limit and last is not None
    return items, (encode_task_cursor(last.due_on, last.id or 0) if more and last else None)


# The task queue's cursor: [due_on, id] of the last row, strictly typed when it comes back.
_TASK_CURSOR = TypeAdapter(tuple[Day, IdField], config=ConfigDict(strict=True))


def encode_task_cursor(due_on: date, task_id: int) -> str:
    raw = json.dumps([due_on.isoformat(), task_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_task_cursor(cursor: str) -> tuple[date, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return _TASK_CURSOR.validate_json(raw)
    except ValueError:
        msg = "페이지 커서가 올바르지 않습니다. 첫 페이지부터 다시 조회해 주세요."
        raise ValidationFailed(msg, errors=[FieldError("cursor", "invalid", msg)]) from None


def attach_evidence(
    session: Session,
    rt: Runtime,
    request: Request,
    task: Task,
    files: Sequence[UploadedFile],
    *,
    actor: str,
) -> None:
    if task.status == TaskStatus.WAIVED:
        raise Conflict("면제된 작업에는 증빙을 붙이지 않습니다.", code="task_waived")
    assert task.id is not None
    identity_evidence.attach(
        session, rt, request, files, ["task_evidence"] * len(files), actor=actor, task_id=task.id
    )


# --- the certificate -----------------------------------------------------------------------------


def certificate_of(
    session: Session, rt: Runtime, request: Request, *, issued_by: Staff
) -> Certificate:
    tasks = session.exec(
        select(Task).where(Task.request_id == request.id).order_by(col(Task.id))
    ).all()
    decision = latest_decision(session, request)
    if not tasks or decision is None:
        raise Conflict(
            "이 요청에는 보유처별 조치 작업이 없어 확인서를 만들 수 없습니다.", code="no_tasks"
        )
    service = rt.policy.service(request.service)
    assert service is not None
    staff_names = _staff_names(session, tasks)
    destroyed = _destroyed_at(tasks)
    kept = tuple(
        KeptItem(
            item_name=p.item_name,
            statute=p.statute or "",
            until=p.keep_until,
            destroyed_at=destroyed.get(p.item),
        )
        for p in decision.retention or []
        if p.action == "keep" and p.keep_until
    )
    officer = rt.policy.controller.privacy_officer
    return Certificate(
        controller_name=rt.policy.controller.signed_as,
        reference=request.reference,
        request_type_label=TYPE_LABELS_KO.get(request.type, request.type),
        service_name=service.name,
        received_at=request.received_at,
        legal_due_on=request.legal_due_on,
        decided_at=decision.decided_at,
        completed_at=request.closed_at if request.status == Status.COMPLETED else None,
        outcome_label=_OUTCOME_KO.get(decision.outcome, decision.outcome),
        kept=kept,
        tasks=tuple(_cert_task(session, rt, t, service.item, staff_names) for t in tasks),
        issued_at=rt.clock(),
        issued_by=f"{issued_by.name} (#{issued_by.id})",
        officer=f"{officer.role} {officer.name or ''}".strip(),
    )


def _destroyed_at(tasks: Sequence[Task]) -> dict[str, Any]:
    """Item -> when its retention end was carried out, once every holder's task is done."""
    ends: dict[str, list[Task]] = {}
    for t in tasks:
        if t.kind == TaskKind.RETENTION_END:
            for i in t.instructions:
                ends.setdefault(i["item"], []).append(t)
    return {
        item: max(t.performed_at for t in ts if t.performed_at)
        for item, ts in ends.items()
        if all(t.status == TaskStatus.DONE and t.performed_at for t in ts)
    }


def _cert_task(
    session: Session, rt: Runtime, t: Task, item_of: Any, staff_names: dict[int, str]
) -> CertificateTask:
    v = rt.vault
    kinds = sorted({Instruction(i["instruction"]) for i in t.instructions})
    # With two kinds (delete and separate) each item says which it was.
    items = tuple(
        (item.name if (item := item_of(i["item"])) else i["item"])
        + (f": {INSTRUCTION_LABELS_KO[Instruction(i['instruction'])]}" if len(kinds) > 1 else "")
        for i in t.instructions
    )
    performed = t.performed or []
    files = session.exec(select(Attachment).where(Attachment.task_id == t.id)).all()
    return CertificateTask(
        holder_name=t.holder_name,
        holder_kind=t.holder_kind,
        items=items,
        instruction=", ".join(INSTRUCTION_LABELS_KO[k] for k in kinds),
        status=t.status,
        opens_on=t.opens_on if t.status == TaskStatus.SCHEDULED else None,
        action=", ".join(ACTION_LABELS_KO[Action(p["action"])] for p in performed) or None,
        method=", ".join(METHOD_LABELS_KO[Method(p["method"])] for p in performed) or None,
        performed_by=_who(t.completed_by, staff_names, t.holder_name),
        performed_at=t.performed_at,
        note=v.decrypt_opt(t.note_enc, field="task.note"),
        waived_reason=v.decrypt_opt(t.reason_enc, field="task.reason")
        if t.status == TaskStatus.WAIVED
        else None,
        waived_by=staff_names.get(t.waived_by) if t.waived_by else None,
        evidence=tuple(
            EvidenceFile(
                name=v.decrypt_opt(a.filename_enc, field="attachment.filename") or f"#{a.id}",
                sha256=a.sha256,
                size=a.size,
            )
            for a in files
        ),
    )


def _staff_names(session: Session, tasks: Sequence[Task]) -> dict[int, str]:
    ids = {t.waived_by for t in tasks if t.waived_by}
    for t in tasks:
        if t.completed_by and t.completed_by.startswith("staff:"):
            ids.add(int(t.completed_by.removeprefix("staff:")))
    if not ids:
        return {}
    rows = session.exec(select(Staff).where(col(Staff.id).in_(ids))).all()
    return {s.id: f"{s.name} (#{s.id})" for s in rows if s.id is not None}


def _who(completed_by: str | None, names: dict[int, str], holder: str) -> str | None:
    if not completed_by:
        return None
    if completed_by.startswith("staff:"):
        return names.get(int(completed_by.removeprefix("staff:")), completed_by)
    return f"{holder} (확인 링크로 회신)"
