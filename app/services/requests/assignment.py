"""Assigning a request to a case handler."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from app.errors import BusinessRuleViolation
from app.models.request import Request
from app.models.staff import InternalNote, Role, Staff
from app.models.task import Task
from app.runtime import Runtime
from app.services.audit.timeline import note
from app.workflows.assignment import follows_reassignment


def check_case_handler(session: Session, staff_id: int, *, field: str) -> None:
    """An assignee must be an active staff member who handles requests."""
    target = session.get(Staff, staff_id)
    handlers = {Role.AGENT.value, Role.SECURITY.value, Role.OFFICER.value}
    if target is None or not target.active or target.role not in handlers:
        raise BusinessRuleViolation(
            "unknown_assignee", field, "요청을 맡을 수 있는 직원이 아닙니다."
        )


def _move_tasks(session: Session, rt: Runtime, request: Request, new: int | None) -> list[int]:
    """The request's owed tasks still with its previous assignee follow it to `new`."""
    moved = []
    for task in session.exec(select(Task).where(Task.request_id == request.id)).all():
        if follows_reassignment(task.status, task.assignee_id, request.assignee_id):
            task.assignee_id, task.updated_at = new, rt.clock()
            moved.append(task.id or 0)
    return moved


def assign(
    session: Session, rt: Runtime, request: Request, *, fields: dict[str, Any], staff: Staff
) -> None:
    """PATCH: assignee (a case handler's id, or null) and/or an internal note."""
    actor = f"staff:{staff.id}"
    if "assignee" in fields:
        new = fields["assignee"]
        if new is not None:
            check_case_handler(session, new, field="assignee")
        if new != request.assignee_id:
            moved = _move_tasks(session, rt, request, new)
            request.assignee_id = new
            request.version += 1
            request.updated_at = rt.clock()
            note(session, rt, request, "assigned", actor=actor, assignee=new)
            if moved:
                note(session, rt, request, "tasks_reassigned", actor=actor, tasks=moved)
    if fields.get("note"):
        session.add(
            InternalNote(
                request_id=request.id,  # type: ignore[arg-type]
                staff_id=staff.id,  # type: ignore[arg-type]
                body_enc=rt.vault.encrypt(fields["note"], field="internal_note.body"),
                created_at=rt.clock(),
            )
        )
        request.version += 1
        note(session, rt, request, "note_added", actor=actor)
    session.flush()
