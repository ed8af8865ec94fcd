"""The staff queue: filters, keyset pages and the row of each request."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, col, select

from app.errors import FieldError, ValidationFailed
from app.models.bounds import MAX_ID, Day, IdField, Instant
from app.models.request import Request
from app.models.request_api import (
    QueueItem,
    QueuePage,
    SlaState,
    SortKey,
)
from app.models.staff import Role, Staff
from app.models.task import Task
from app.models.vocab import RequestType, TaskStatus
from app.runtime import Runtime
from app.services.clinics.views import clinic_columns
from app.workflows import next_step
from app.workflows.deadlines import kst_date
from app.workflows.lifecycle import CLOSED, Status
from app.workflows.sla import Sla, sla_condition, sla_state


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
    # Only what waits on the viewer (app/workflows/next_step.py `needs`); `may_triage` says
    # whether unassigned requests are theirs to pick up.
    needs_me: bool = False
    may_triage: bool = False


class QueueQuery(BaseModel):
    """The queue's query parameters (GET /v1/staff/requests), validated as one model: a bad
    value is a 422 naming its parameter."""

    status: list[Status] | None = None
    type: RequestType | None = None
    service: str | None = Field(default=None, max_length=64)
    sla: SlaState | None = None
    assignee: str | None = Field(default=None, max_length=32)
    due_before: Day | None = None
    due_after: Day | None = None
    q: str | None = Field(default=None, max_length=32)
    blocked_on_tasks: bool = False
    sort: SortKey = "legal_deadline"
    limit: int | None = Field(default=None, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)

    def filter(self, *, default_limit: int) -> QueueFilter:
        return QueueFilter(
            status=[s.value for s in self.status or []],
            type=self.type.value if self.type else None,
            service=self.service,
            sla=self.sla,
            assignee=self.assignee,
            due_before=self.due_before,
            due_after=self.due_after,
            q=self.q,
            blocked_on_tasks=self.blocked_on_tasks,
            sort=self.sort,
            limit=self.limit or default_limit,
            cursor=self.cursor,
        )


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
    if f.needs_me:
        stmt = stmt.where(_needs_me_clause(staff, may_triage=f.may_triage))
    if f.blocked_on_tasks:
        stmt = stmt.where(
            Request.status == Status.EXECUTING,
            col(Request.id).in_(select(Task.request_id).where(col(Task.status).in_(_PENDING))),
        )
    stmt = _page(stmt, f)
    rows = list(session.exec(stmt.limit(f.limit + 1)).all())
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    cutoff = rt.clock() - timedelta(hours=rt.settings.unassigned_flag_hours)
    pending = _pending_tasks(session, [r.id for r in rows if r.status == Status.EXECUTING], today)
    scheduled = scheduled_tasks(session, [r.id for r in rows if r.status == Status.COMPLETED])
    clinics = clinic_columns(session, [r.id for r in rows], today=today)
    items = [
        _queue_item(r, today, due_soon, cutoff).model_copy(
            update={
                "tasks_pending": pending.get(r.id or 0, (0, 0))[0],
                "tasks_overdue": pending.get(r.id or 0, (0, 0))[1],
                "next_scheduled_on": scheduled.get(r.id or 0),
                **clinics.get(r.id or 0, {}),
            }
        )
        for r in rows
    ]
    next_cursor = _encode_cursor(rows[-1], f.sort) if more and rows else None
    return QueuePage(items=items, next_cursor=next_cursor)


_PENDING = ("open", "failed")


def scheduled_tasks(session: Session, request_ids: list[int | None]) -> dict[int, date]:
    """Request -> the earliest day one of its scheduled tasks opens."""
    if not request_ids:
        return {}
    rows = session.exec(
        select(Task.request_id, func.min(Task.opens_on))
        .where(col(Task.request_id).in_(request_ids), Task.status == TaskStatus.SCHEDULED)
        .group_by(col(Task.request_id))
    ).all()
    return {rid: day for rid, day in rows if day is not None}


def _pending_tasks(
    session: Session, request_ids: list[int | None], today: date
) -> dict[int, tuple[int, int]]:
    """Request -> (its pending tasks, of them past their due day)."""
    if not request_ids:
        return {}
    late = func.sum(case((col(Task.due_on) < today, 1), else_=0))
    rows = session.exec(
        select(Task.request_id, func.count(), late)
        .where(col(Task.request_id).in_(request_ids), col(Task.status).in_(_PENDING))
        .group_by(col(Task.request_id))
    ).all()
    return {rid: (n, int(overdue or 0)) for rid, n, overdue in rows}


def _assignee_clause(value: str, staff: Staff) -> Any:
    if value == "me":
        return Request.assignee_id == staff.id
    if value == "none":
        return col(Request.assignee_id).is_(None)
    if value.isdigit() and 1 <= int(value) <= MAX_ID:
        return Request.assignee_id == int(value)
    msg = "담당자는 me, none 또는 직원 번호여야 합니다."
    raise ValidationFailed(msg, errors=[FieldError("assignee", "invalid", msg)])


def _needs_me_clause(staff: Staff, *, may_triage: bool) -> Any:
    """The SQL twin of next_step.needs: the viewer's own cases at a step of theirs, the
    officer's approvals, and (for whoever triages) open requests nobody has picked up."""
    clauses = [
        and_(
            col(Request.assignee_id) == staff.id,
            col(Request.status).in_([s.value for s in next_step.ASSIGNEE_STATUSES]),
        )
    ]
    if staff.role == Role.OFFICER:
        clauses.append(col(Request.status).in_([s.value for s in next_step.OFFICER_STATUSES]))
    if may_triage:
        clauses.append(
            and_(
                col(Request.assignee_id).is_(None),
                col(Request.status).in_([s.value for s in next_step.TEAM_STATUSES]),
            )
        )
    return or_(*clauses)


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
        deadline_unconfirmed=r.deadline_unconfirmed,
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
