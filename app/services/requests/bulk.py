"""Bulk actions on a queue selection: each request is its own write (its own savepoint, its
own version check), so one failure never undoes the others, and each gets its result.

The actions call the services the single-request routes call: assignment and internal notes
(`assignment.assign`), the 보완 요청 (`info_requests`), the identity refusal's lifecycle move
and notice. The rules of what each action may touch are app/workflows/bulk.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from app.errors import Conflict, DomainError, FieldError, ValidationFailed
from app.models.identity import InfoRequest
from app.models.request import Request
from app.models.staff import Staff
from app.models.vocab import Status
from app.runtime import Runtime
from app.services.audit.timeline import move, note
from app.services.notices.queue import queue_notice
from app.services.requests import assignment
from app.services.requests.detail import check_version, request_by_reference
from app.workflows.bulk import BulkAction, may_remind, unverified_too_long
from app.workflows.deadlines import kst_date
from app.workflows.notice_extras import IdentityRejectedExtra, InfoRequestExtra, NoticeKind


@dataclass(frozen=True)
class Selected:
    reference: str
    version: int


@dataclass(frozen=True)
class ItemResult:
    reference: str
    ok: bool
    message: str


@dataclass(frozen=True)
class BulkOptions:
    assignee: int | None = None
    note: str | None = None


def run_bulk(
    session: Session,
    rt: Runtime,
    staff: Staff,
    action: BulkAction,
    selected: list[Selected],
    options: BulkOptions,
) -> list[ItemResult]:
    """Runs `action` on every selected request; a refused item is reported, not raised."""
    _check_options(session, rt, action, options, len(selected))
    results = []
    for item in selected:
        savepoint = session.begin_nested()
        try:
            req = request_by_reference(session, item.reference, for_update=True)
            check_version(req, item.version)
            message = _one(session, rt, staff, action, req, options)
        except DomainError as exc:
            savepoint.rollback()
            message = _stale(item) if exc.code == "version_mismatch" else exc.detail
            results.append(ItemResult(item.reference, False, message))
            continue
        savepoint.commit()
        results.append(ItemResult(item.reference, True, message))
    return results


def _stale(item: Selected) -> str:
    return (
        f"그사이 다른 사람이 이 요청을 변경했습니다(대기열에서 고를 때 버전 {item.version}). "
        "요청 화면에서 바뀐 내용을 확인한 뒤 다시 고르세요."
    )


def _check_options(
    session: Session, rt: Runtime, action: BulkAction, options: BulkOptions, count: int
) -> None:
    """What is wrong with the whole form (then nothing is done), named on its field."""
    if count == 0:
        _refuse("selected", "nothing_selected", "처리할 요청을 하나 이상 고르세요.")
    if count > rt.settings.bulk_max_items:
        limit = rt.settings.bulk_max_items
        _refuse("selected", "too_many", f"한 번에 {limit}건까지 처리할 수 있습니다.")
    if action is BulkAction.ASSIGN:
        if options.assignee is None:
            _refuse("assignee", "assignee_required", "지정할 담당자를 고르세요.")
        else:
            assignment.check_case_handler(session, options.assignee, field="assignee")
    if action is BulkAction.NOTE and not (options.note or "").strip():
        _refuse("note", "note_required", "남길 메모를 입력하세요.")
    if action is BulkAction.CLOSE_UNVERIFIED and rt.settings.unverified_close_after_days is None:
        _refuse(
            "action",
            "unverified_close_off",
            "본인 확인이 오래 안 된 요청의 일괄 종결은 꺼져 있습니다"
            "(설정 UNVERIFIED_CLOSE_AFTER_DAYS).",
        )


def _refuse(field: str, rule: str, message: str) -> None:
    raise ValidationFailed(message, errors=[FieldError(field, rule, message)])


def _one(
    session: Session, rt: Runtime, staff: Staff, action: BulkAction, req: Request,
    options: BulkOptions,
) -> str:  # fmt: skip
    actor = f"staff:{staff.id}"
    match action:
        case BulkAction.ASSIGN:
            assignment.assign(session, rt, req, fields={"assignee": options.assignee}, staff=staff)
            return "담당자를 지정했습니다."
        case BulkAction.NOTE:
            assignment.assign(session, rt, req, fields={"note": options.note}, staff=staff)
            return "메모를 남겼습니다."
        case BulkAction.INFO_REMINDER:
            return _remind(session, rt, req, actor)
        case BulkAction.CLOSE_UNVERIFIED:
            return _close_unverified(session, rt, req, actor)


def _remind(session: Session, rt: Runtime, req: Request, actor: str) -> str:
    question = session.exec(
        select(InfoRequest)
        .where(InfoRequest.request_id == req.id)
        .order_by(col(InfoRequest.id).desc())
    ).first()
    if not may_remind(Status(req.status)) or question is None:
        raise Conflict("보완 요청에 대한 답을 기다리는 요청이 아닙니다.", code="not_awaiting")
    message = rt.vault.decrypt(question.message_enc, field="info_request.message")
    today = kst_date(rt.clock())
    queue_notice(
        session, rt, req, NoticeKind.INFO_REQUEST, actor=actor,
        extra=InfoRequestExtra(message=message, respond_by=question.respond_by),
        # One reminder a day at most, however many times the form is sent.
        dedupe=f"info_reminder:{question.id}:{today.isoformat()}",
    )  # fmt: skip
    note(session, rt, req, "info_request_reminded", actor=actor)
    return "보완 요청을 다시 보냈습니다."


def _close_unverified(session: Session, rt: Runtime, req: Request, actor: str) -> str:
    days = rt.settings.unverified_close_after_days
    today: date = kst_date(rt.clock())
    resume = Status(req.resume_status) if req.resume_status else None
    received_on = kst_date(req.received_at)
    if not unverified_too_long(Status(req.status), resume, received_on, today, days):
        raise Conflict(
            f"본인 확인을 기다린 지 {days}일이 지나지 않았거나 본인 확인 단계가 아닌 요청입니다.",
            code="not_unverified_too_long",
        )
    move(session, rt, req, Status.REJECTED, actor=actor, unverified_days=days)
    queue_notice(
        session, rt, req, NoticeKind.IDENTITY_REJECTED, actor=actor,
        extra=IdentityRejectedExtra(
            reason=f"접수일부터 {days}일이 지나도록 본인 확인(인증번호 입력 또는 요청드린 "
            "자료 제출)이 완료되지 않았습니다."
        ),
    )  # fmt: skip
    return "본인 확인 미완료로 종결하고 요구인에게 알렸습니다."
