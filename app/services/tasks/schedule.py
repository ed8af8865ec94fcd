"""The steps that come after a decision is carried out, tracked as tasks of their own.

- Retention ends (art. 21(1), 21(3)): each item a deletion or withdrawal kept under a statute
  gets a `scheduled` destruction task per holder, opening the day after its `keep_until`.
- The art. 37(5) follow-up: once a suspension is carried out, the holders destroy (or otherwise
  deal with) the suspended data; the subject hears the result (표준지침 33②: within 10 days).

The request completes when its decision is carried out; these tasks do not hold it in
`executing`. The worker opens a scheduled task on its day (`open_due`): it becomes `open`, the
holder gets the instruction and the owner (assignee, else the team) a reminder; once overdue
the ordinary overdue reminder follows (app/services/tasks/links.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from app.models.decision import Decision
from app.models.request import Request
from app.models.staff import Staff
from app.models.task import Task
from app.models.vocab import TaskKind, TaskStatus
from app.policy import Holder
from app.runtime import Runtime
from app.services.audit.timeline import note
from app.services.notices.queue import queue_internal, queue_notice
from app.services.notices.render import render_internal
from app.services.tasks.links import (
    holder_context,
    identifiers_for,
    send_to_holder,
    team_address,
)
from app.workflows import tasks as rules
from app.workflows.assignment import assignee_on_opening
from app.workflows.console_links import tasks_board_url
from app.workflows.deadlines import deadline_from_date, kst_date
from app.workflows.notice_extras import SuspensionFollowupExtra
from app.workflows.notices import NoticeKind
from app.workflows.tasks import FOLLOWUP_DAYS, Instruction


def _new_task(request: Request, d: Decision, holder: Holder, rt: Runtime, **fields: object) -> Task:
    now = rt.clock()
    assert request.id is not None and d.id is not None
    return Task(
        request_id=request.id,
        decision_id=d.id,
        holder_code=holder.code,
        holder_kind=holder.kind,
        holder_name=holder.name or holder.code,
        contact_email=holder.email,
        # The request's owner owns its tasks too (app/workflows/assignment.py).
        assignee_id=request.assignee_id,
        created_at=now,
        updated_at=now,
        **fields,  # type: ignore[arg-type]
    )


def schedule_retention_ends(
    session: Session, rt: Runtime, request: Request, d: Decision, *, actor: str
) -> list[Task]:
    """A scheduled destruction for every item the decision keeps under a statute."""
    kept = [(p.item, p.keep_until) for p in d.retention or [] if p.action == "keep"]
    dated = [(item, until) for item, until in kept if until is not None]
    if not dated:
        return []
    holders = rt.policy.holders_of(request.service, [item for item, _ in dated])
    plans = rules.plan_retention_ends(
        dated, holders, destroy_days=rt.settings.retention_destroy_days
    )
    by_code = {h.code: h for h in holders}
    # A holder the officer waived for an item (it never held it) has nothing to destroy.
    waived = {
        (t.holder_code, i["item"])
        for t in session.exec(
            select(Task).where(
                Task.request_id == request.id,
                Task.kind == TaskKind.DECISION,
                Task.status == TaskStatus.WAIVED,
            )
        )
        for i in t.instructions
    }
    created = []
    for plan in plans:
        items = tuple(i for i in plan.items if (plan.holder_code, i) not in waived)
        if not items:
            continue
        task = _new_task(
            request,
            d,
            by_code[plan.holder_code],
            rt,
            kind=TaskKind.RETENTION_END,
            status=TaskStatus.SCHEDULED,
            instructions=[
                {"item": i, "instruction": Instruction.DESTROY_AT_END.value} for i in items
            ],
            opens_on=plan.opens_on,
            due_on=plan.due_on,
        )
        session.add(task)
        created.append(task)
    session.flush()
    if not created:
        return []
    note(
        session,
        rt,
        request,
        "retention_end_scheduled",
        actor=actor,
        tasks=[t.id for t in created],
        opens_on=sorted({t.opens_on.isoformat() for t in created if t.opens_on}),
    )
    return created


def open_suspension_followup(
    session: Session,
    rt: Runtime,
    request: Request,
    d: Decision,
    items: Sequence[str],
    *,
    actor: str,
) -> list[Task]:
    """Art. 37(5): the suspension is carried out; each holder of the suspended items is asked
    to destroy them (or the officer waives the task, saying how they were dealt with)."""
    holders = rt.policy.holders_of(request.service, list(items))
    today = kst_date(rt.clock())
    due = deadline_from_date(today, FOLLOWUP_DAYS, rt.calendar).due_on
    created = []
    for holder in holders:
        mine = [i for i in holder.items if i in items]
        if not mine:
            continue
        task = _new_task(
            request,
            d,
            holder,
            rt,
            kind=TaskKind.SUSPENSION_FOLLOWUP,
            instructions=[
                {"item": i, "instruction": Instruction.DESTROY_SUSPENDED.value} for i in mine
            ],
            due_on=due,
        )
        session.add(task)
        created.append((task, holder))
    session.flush()
    if not created:
        return []
    note(
        session,
        rt,
        request,
        "suspension_followup_opened",
        actor=actor,
        tasks=[t.id for t, _ in created],
        due_on=due.isoformat(),
    )
    for task, holder in created:
        _announce(session, rt, request, task, holder, actor=actor)
    return [t for t, _ in created]


def followup_settled(session: Session, rt: Runtime, request: Request, *, actor: str) -> bool:
    """Every follow-up task done or waived: the subject hears what became of the suspended data
    (표준지침 33②). Sent once."""
    followups = list(
        session.exec(
            select(Task).where(
                Task.request_id == request.id, Task.kind == TaskKind.SUSPENSION_FOLLOWUP
            )
        )
    )
    if not followups or any(t.status not in rules.SETTLED for t in followups):
        return False

    def codes(status: TaskStatus) -> list[str]:
        return list(
            dict.fromkeys(
                i["item"] for t in followups if t.status == status for i in t.instructions
            )
        )

    # An item any holder did not destroy is reported as kept, with the officer's reason.
    kept = codes(TaskStatus.WAIVED)
    reasons = [
        r
        for t in followups
        if t.status == TaskStatus.WAIVED
        and (r := rt.vault.decrypt_opt(t.reason_enc, field="task.reason"))
    ]
    extra = SuspensionFollowupExtra(
        destroyed=[c for c in codes(TaskStatus.DONE) if c not in kept],
        kept=kept,
        kept_reason=" ".join(dict.fromkeys(reasons)) or None,
    )
    queue_notice(
        session,
        rt,
        request,
        NoticeKind.SUSPENSION_FOLLOWUP,
        extra=extra,
        actor=actor,
        dedupe=f"suspension_followup:{request.id}",
    )
    return True


# --- opening scheduled tasks (the worker) -------------------------------------------------------


def open_due(rt: Runtime) -> int:
    """Open every scheduled task whose day has come (KST): the holder gets its instruction, the
    owner a reminder. Returns how many were opened."""
    from app.db import transaction

    today = kst_date(rt.clock())
    opened = 0
    with transaction(rt.engine) as session:
        due = session.exec(
            select(Task)
            .where(Task.status == TaskStatus.SCHEDULED, col(Task.opens_on) <= today)
            .order_by(col(Task.opens_on), col(Task.id))
            .limit(500)
            .with_for_update(skip_locked=True)
        ).all()
        for task in due:
            request = session.get(Request, task.request_id)
            assert request is not None
            rules.check_task_move(task.status, TaskStatus.OPEN)
            task.status, task.updated_at = TaskStatus.OPEN, rt.clock()
            task.assignee_id = assignee_on_opening(task.assignee_id, request.assignee_id)
            note(
                session,
                rt,
                request,
                "scheduled_task_opened",
                actor="sla",
                task_id=task.id,
                holder=task.holder_code,
            )
            holder = next(
                (h for h in rt.policy.holders(request.service) if h.code == task.holder_code),
                None,
            )
            _announce(session, rt, request, task, holder, actor="sla")
            opened += 1
    return opened


def _announce(
    session: Session,
    rt: Runtime,
    request: Request,
    task: Task,
    holder: Holder | None,
    *,
    actor: str,
) -> None:
    """The holder's instruction (when it has an address) and the owner's reminder."""
    context = {
        **holder_context(rt, request, task),
        "followup": task.kind == TaskKind.SUSPENSION_FOLLOWUP,
        "link": f"직원 콘솔 작업 목록: {tasks_board_url(rt.settings.public_base_url)}",
        "identifiers": identifiers_for(session, rt, request, holder) if holder else [],
    }
    if task.contact_email:
        send_to_holder(
            session,
            rt,
            request,
            task,
            "task_scheduled_instruction",
            context,
            actor=actor,
            kind="task_destruction",
        )
    owner = _staff_owner(session, rt, task)
    if owner is not None and owner != task.contact_email:
        subject, body = render_internal("task_opened", context)
        queue_internal(
            session,
            rt,
            request,
            kind="task_opened",
            to=owner,
            key=f"{request.reference}:task:{task.id}:opened",
            subject=subject,
            body=body,
        )
        note(session, rt, request, "task_reminder_queued", actor=actor, task_id=task.id)


def _staff_owner(session: Session, rt: Runtime, task: Task) -> str | None:
    if task.assignee_id is not None:
        staff = session.get(Staff, task.assignee_id)
        if staff is not None and staff.email:
            return staff.email
    return team_address(rt)
