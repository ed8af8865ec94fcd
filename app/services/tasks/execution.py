"""Tasks: an approved decision that changes, deletes or stops data, or grants access, fans
out to every holder.

The request stays `executing` until each holder's task is done (with evidence) or waived by
the officer; then it completes and the result notice goes out (app/services/closing.py). An
access grant asks each holder for an extract and, once every extract is in, waits for the
package's release (app/services/access/): it completes only when the person can see the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from app.errors import BusinessRuleViolation, Forbidden, NotFound
from app.models.decision import Decision
from app.models.request import Request
from app.models.staff import Role, Staff
from app.models.task import Task
from app.models.vocab import GRANTING, TaskKind
from app.runtime import Runtime
from app.services.audit.timeline import move, note
from app.services.tasks import schedule
from app.services.tasks.links import queue_instruction
from app.services.tasks.sources import open_source_notices, source_answered
from app.services.transmission import log as transmission_log
from app.workflows import tasks as rules
from app.workflows.deadlines import kst_date, target_date
from app.workflows.lifecycle import Status
from app.workflows.pseudonymized import in_scope
from app.workflows.tasks import Performed, TaskStatus
from app.workflows.transmission import uses_package


def affected_items(rt: Runtime, request: Request, d: Decision) -> tuple[list[str], list[str]]:
    """(items acted on, items kept under a statute and so separated). Empty unless the
    decision grants something (a refusal, `no_data_held` and `unchanged` change nothing).
    Art. 28-7: a pseudonymized item is never acted on."""
    service = rt.policy.service(request.service)
    assert service is not None
    acted, kept = _affected_items(rt, request, d)
    return in_scope(acted, service), in_scope(kept, service)


def _affected_items(rt: Runtime, request: Request, d: Decision) -> tuple[list[str], list[str]]:
    if d.outcome not in GRANTING:
        return [], []
    if d.retention is not None:  # deletion: the retention plan says item by item
        acted = [p.item for p in d.retention if p.action == "delete"]
        kept = [p.item for p in d.retention if p.action == "keep"]
        return acted, kept
    service = rt.policy.service(request.service)
    assert service is not None
    if d.items_granted:
        return list(d.items_granted), []
    if request.type == "correction" and request.correction_enc:
        import json

        item = json.loads(rt.vault.decrypt(request.correction_enc, field="request.correction"))
        if service.item(item.get("item", "")) is not None:
            return [item["item"]], []
    return list(request.items) or [i.code for i in service.items], []


def start_execution(
    session: Session, rt: Runtime, request: Request, d: Decision, *, actor: str
) -> bool:
    """Create one task per holder of the affected items and move to `executing`. False when
    the decision asks nothing of any holder (refusals): the caller completes."""
    acted, kept = affected_items(rt, request, d)
    if not acted and not kept:
        return False
    holders = rt.policy.holders_of(request.service, [*acted, *kept])
    plans = rules.plan_tasks(
        request.type,
        acted_on=acted,
        kept=kept,
        holders=holders,
        transmission_to=request.transmission_to,
    )
    if not plans:
        return False
    assert request.id is not None and d.id is not None
    now = rt.clock()
    target = target_date(request.legal_due_on, rt.settings.task_days_before_deadline, rt.calendar)
    due = rules.task_due_on(target, kst_date(now))
    by_code = {h.code: h for h in holders}
    created = []
    for plan in plans:
        holder = by_code[plan.holder_code]
        task = Task(
            request_id=request.id,
            decision_id=d.id,
            holder_code=holder.code,
            holder_kind=holder.kind,
            holder_name=holder.name or holder.code,
            contact_email=holder.email,
            instructions=[{"item": i, "instruction": ins.value} for i, ins in plan.instructions],
            due_on=due,
            # The request's owner owns its tasks too (app/workflows/assignment.py).
            assignee_id=request.assignee_id,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        created.append((task, holder))
    session.flush()
    move(
        session,
        rt,
        request,
        Status.EXECUTING,
        actor=actor,
        decision_id=d.id,
        tasks=[t.id for t, _ in created],
        holders=[h.code for _, h in created],
    )
    for task, holder in created:
        if task.contact_email:
            queue_instruction(session, rt, request, task, holder, actor=actor)
    # Decree art. 43(2): the sources of the corrected or deleted items are told.
    open_source_notices(session, rt, request, d, acted, due_on=due, actor=actor)
    if uses_package(request.type, request.transmission_to):
        from app.services.access.package import access_granted

        access_granted(session, rt, request, d, actor=actor)
    return True


# --- reading ----------------------------------------------------------------------------------


def tasks_of(session: Session, request: Request) -> list[Task]:
    return list(
        session.exec(select(Task).where(Task.request_id == request.id).order_by(col(Task.id)))
    )


def task_of(session: Session, request: Request, task_id: int, *, lock: bool = False) -> Task:
    query = select(Task).where(Task.id == task_id, Task.request_id == request.id)
    task = session.exec(query.with_for_update() if lock else query).first()
    if task is None:
        raise NotFound("작업을 찾을 수 없습니다.")
    return task


# --- writing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    performed: Sequence[Performed]
    note: str | None
    performed_at: datetime | None
    by: str  # staff:<id> | holder:<code>
    # An extract task is done by its file only (app/services/access/extracts.py sets this).
    extract_file: bool = False


def complete(session: Session, rt: Runtime, request: Request, task: Task, c: Completion) -> None:
    """Record what the holder did, then finish the request if this was the last task."""
    rules.check_task_move(task.status, TaskStatus.DONE)
    instructions = [i["instruction"] for i in task.instructions]
    if rules.needs_extract(instructions) and not c.extract_file:
        raise BusinessRuleViolation(
            "extract_required",
            "files",
            "열람용 사본 작업은 추출 파일을 올려야 끝납니다"
            f"(POST /v1/staff/requests/{request.reference}/access-package/files).",
        )
    rules.check_evidence(instructions, c.performed)
    now = rt.clock()
    performed_at = c.performed_at or now
    if performed_at > now or performed_at < task.created_at:
        raise BusinessRuleViolation(
            "performed_at_out_of_range",
            "performed_at",
            "조치 일시는 작업이 만들어진 뒤부터 지금까지여야 합니다.",
        )
    task.status = TaskStatus.DONE
    task.performed = [{"action": p.action.value, "method": p.method.value} for p in c.performed]
    task.note_enc = rt.vault.encrypt_opt(c.note, field="task.note")
    task.completed_by, task.performed_at, task.completed_at = c.by, performed_at, now
    task.updated_at = now
    _record(session, rt, request, task, "task_done", actor=c.by, performed=task.performed)
    _log_transmission(session, rt, request, task, "transmitted")
    _after_settled(session, rt, request, task, actor=c.by)


def fail(
    session: Session, rt: Runtime, request: Request, task: Task, reason: str, *, actor: str
) -> None:
    rules.check_task_move(task.status, TaskStatus.FAILED)
    task.status, task.updated_at = TaskStatus.FAILED, rt.clock()
    task.reason_enc = rt.vault.encrypt(reason, field="task.reason")
    _record(session, rt, request, task, "task_failed", actor=actor)
    _log_transmission(session, rt, request, task, "failed")


def _log_transmission(
    session: Session, rt: Runtime, request: Request, task: Task, result: str
) -> None:
    """Decree art. 42-6(11): a holder's sending to the recipient goes into the log."""
    items = [i["item"] for i in task.instructions if i["instruction"] == rules.Instruction.TRANSMIT]
    if items:
        transmission_log.record(
            session, rt, request, items=items, result=result, holder_code=task.holder_code
        )


def reopen(session: Session, rt: Runtime, request: Request, task: Task, *, actor: str) -> None:
    rules.check_task_move(task.status, TaskStatus.OPEN)
    task.status, task.updated_at, task.reminded_at = TaskStatus.OPEN, rt.clock(), None
    _record(session, rt, request, task, "task_reopened", actor=actor)


def waive(
    session: Session, rt: Runtime, request: Request, task: Task, reason: str, *, officer: Staff
) -> None:
    """Only the privacy officer decides that a holder need not act, and says why."""
    if officer.role != Role.OFFICER:
        raise Forbidden("작업 면제는 개인정보 보호책임자만 할 수 있습니다.")
    rules.check_task_move(task.status, TaskStatus.WAIVED)
    now = rt.clock()
    task.status, task.updated_at, task.completed_at = TaskStatus.WAIVED, now, now
    task.reason_enc = rt.vault.encrypt(reason, field="task.reason")
    task.waived_by = officer.id
    actor = f"staff:{officer.id}"
    _record(session, rt, request, task, "task_waived", actor=actor)
    _after_settled(session, rt, request, task, actor=actor)


def _after_settled(
    session: Session, rt: Runtime, request: Request, task: Task, *, actor: str
) -> None:
    if task.kind == TaskKind.SUSPENSION_FOLLOWUP:
        schedule.followup_settled(session, rt, request, actor=actor)
        return
    if task.kind == TaskKind.NOTIFY_SOURCE:
        source_answered(session, rt, request, task, actor=actor)
    if task.kind in rules.HOLDS_REQUEST:
        finish_if_settled(session, rt, request, actor=actor)


def update(
    session: Session,
    rt: Runtime,
    request: Request,
    task: Task,
    *,
    changes: dict[str, Any],
    actor: str,
) -> None:
    """Assignee and due date; the due date stays inside the legal deadline."""
    if "due_on" in changes:
        due: date | None = changes["due_on"]
        if due is None:
            raise BusinessRuleViolation(
                "due_on_required", "due_on", "작업 기한을 비울 수 없습니다. 날짜를 적어 주세요."
            )
        # A retention end or a 37(5) follow-up runs after the request's deadline.
        latest = request.legal_due_on if task.kind in rules.HOLDS_REQUEST else date.max
        if due > latest or due < kst_date(rt.clock()):
            raise BusinessRuleViolation(
                "due_on_out_of_range",
                "due_on",
                f"작업 기한은 오늘부터 법정 처리기한({request.legal_due_on})까지로 정해 주세요.",
            )
        task.due_on = due
    if "assignee_id" in changes:
        task.assignee_id = changes["assignee_id"]
    task.updated_at = rt.clock()
    fields = sorted(changes)
    _record(session, rt, request, task, "task_updated", actor=actor, fields=fields)


def finish_if_settled(session: Session, rt: Runtime, request: Request, *, actor: str) -> bool:
    """Every holder done or waived: the request completes and the result notice goes out.
    Access waits for the package's release (or access given in person) instead."""
    own = [t for t in tasks_of(session, request) if t.kind in rules.HOLDS_REQUEST]
    statuses = {t.status for t in own}
    if request.status != Status.EXECUTING or not statuses <= rules.SETTLED:
        return False
    if uses_package(request.type, request.transmission_to):
        note(session, rt, request, "access_extracts_complete", actor=actor)
        return False
    from app.services.closing import complete_request, latest_decision

    complete_request(session, rt, request, actor=actor)
    d = latest_decision(session, request)
    if d is not None:
        # Art. 21(1): what is kept under a statute is destroyed when its period ends (a request
        # withdrawn before it was carried out schedules nothing).
        schedule.schedule_retention_ends(session, rt, request, d, actor=actor)
    if request.type == "suspension":
        # Art. 37(5): the suspended data is then destroyed or otherwise dealt with.
        done = {i["item"] for t in own if t.status == TaskStatus.DONE for i in t.instructions}
        if d is not None and done:
            schedule.open_suspension_followup(session, rt, request, d, sorted(done), actor=actor)
    return True


def _record(
    session: Session,
    rt: Runtime,
    request: Request,
    task: Task,
    kind: str,
    *,
    actor: str,
    **data: Any,
) -> None:
    note(session, rt, request, kind, actor=actor, task_id=task.id, holder=task.holder_code, **data)
    session.flush()
