"""The console's queue: the staff queue (app/services/requests/queue.py, the same filters and
order as GET /v1/staff/requests), each row with its next step and who must take it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlmodel import Session, col, select

from app.models.request import Request
from app.models.request_api import QueueItem
from app.models.staff import Role, Staff
from app.runtime import Runtime
from app.services.requests.queue import QueueQuery, list_queue
from app.workflows.next_step import NextStep, needs, next_step


@dataclass(frozen=True)
class QueueRow:
    item: QueueItem
    step: NextStep
    needs_me: bool
    assignee_name: str | None
    # The version the row was read at: a bulk action's If-Match for this request.
    version: int = 0


@dataclass(frozen=True)
class QueueView:
    rows: list[QueueRow]
    next_cursor: str | None


def queue_view(
    session: Session,
    rt: Runtime,
    query: QueueQuery,
    staff: Staff,
    *,
    needs_me: bool,
    may_triage: bool,
) -> QueueView:
    f = replace(
        query.filter(default_limit=rt.settings.console_page_size),
        sort="legal_deadline",
        needs_me=needs_me,
        may_triage=may_triage,
    )
    page = list_queue(session, rt, f, staff)
    names = staff_names(session, {i.assignee for i in page.items if i.assignee is not None})
    versions = dict(
        session.exec(
            select(Request.reference, Request.version).where(
                col(Request.reference).in_([i.reference for i in page.items])
            )
        ).all()
    )
    rows = []
    for item in page.items:
        step = next_step(
            item.status,
            assigned=item.assignee is not None,
            tasks_pending=item.tasks_pending,
            tasks_overdue=item.tasks_overdue,
        )
        mine = needs(
            step, is_officer=staff.role == Role.OFFICER, is_assignee=item.assignee == staff.id,
            may_triage=may_triage,
        )  # fmt: skip
        row = QueueRow(item, step, mine, names.get(item.assignee or 0))
        rows.append(replace(row, version=versions.get(item.reference, 0)))
    return QueueView(rows, page.next_cursor)


def staff_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(Staff.id, Staff.name).where(col(Staff.id).in_(ids))).all()
    return {sid: name for sid, name in rows if sid is not None}


def case_workers(session: Session) -> list[tuple[int, str]]:
    """Active staff who may hold a case, for the assignee filter."""
    roles = [Role.AGENT.value, Role.SECURITY.value, Role.OFFICER.value]
    rows = session.exec(
        select(Staff.id, Staff.name)
        .where(col(Staff.active).is_(True), col(Staff.role).in_(roles))
        .order_by(col(Staff.name))
    ).all()
    return [(sid, name) for sid, name in rows if sid is not None]
