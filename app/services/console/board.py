"""The console's tasks board and dashboard: the task queue the API uses (GET /v1/staff/tasks)
and the SLA summary (GET /v1/staff/sla/summary), with what a page needs beside them: each
task's request version (the forms' If-Match), names for ids, and the dashboard's series."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import pairwise
from typing import Any, Literal

from sqlalchemy import case, func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from app.models.request import Request
from app.models.task import Task
from app.models.vocab import TYPE_LABELS_KO
from app.runtime import Runtime
from app.services.console.queue_view import staff_names
from app.services.sla.summary import _OPEN, summary
from app.services.tasks import views as task_views
from app.workflows.deadlines import KST, kst_date
from app.workflows.tasks import ACTION_FOR, METHODS_FOR, Action, Instruction, needs_extract

# --- the tasks board -----------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    task: dict[str, Any]  # the API's task view (app/services/tasks/views.py), as the API gives it
    version: int  # the request's version: what each form sends back as If-Match
    assignee_name: str | None
    # The actions this task asks for, each with the methods accepted for it (the complete form).
    actions: tuple[tuple[Action, tuple[str, ...]], ...]
    extract: bool  # done by its extract file on the request's page, not by a statement


@dataclass(frozen=True)
class Board:
    rows: list[BoardRow]
    next_cursor: str | None


def board(
    session: Session,
    rt: Runtime,
    *,
    statuses: list[str],
    overdue: bool,
    holder: str | None,
    assignee: int | Literal["none"] | None,
    cursor: str | None,
) -> Board:
    items, next_cursor = task_views.queue(
        session, rt, statuses=statuses, overdue=overdue, holder=holder, assignee=assignee,
        limit=rt.settings.console_page_size, cursor=cursor,
    )  # fmt: skip
    refs = {i["reference"] for i in items}
    versions = dict(
        session.exec(
            select(Request.reference, Request.version).where(col(Request.reference).in_(refs))
        ).all()
    ) if refs else {}  # fmt: skip
    names = staff_names(session, {i["assignee_id"] for i in items if i["assignee_id"]})
    rows = []
    for item in items:
        instructions = [i["instruction"] for i in item["instructions"]]
        wanted = sorted({ACTION_FOR[Instruction(i)] for i in instructions})
        rows.append(
            BoardRow(
                task=item,
                version=versions[item["reference"]],
                assignee_name=names.get(item["assignee_id"] or 0),
                actions=tuple((a, tuple(sorted(m.value for m in METHODS_FOR[a]))) for a in wanted),
                extract=needs_extract(instructions),
            )
        )
    return Board(rows, next_cursor)


def holders(rt: Runtime) -> list[tuple[str, str]]:
    """Every holder the policy names (code, name), for the board's filter."""
    seen: dict[str, str] = {}
    for service in rt.policy.services:
        for h in rt.policy.holders(service.code):
            seen.setdefault(h.code, h.name)
    return sorted(seen.items(), key=lambda h: h[1])


def task_now(session: Session, rt: Runtime, reference: str, task_id: int) -> dict[str, Any] | None:
    """A task as it is now (the "someone changed this request" page), None if not found."""
    found = session.exec(
        select(Task, Request)
        .join(Request, col(Request.id) == col(Task.request_id))
        .where(Task.id == task_id, Request.reference == reference)
    ).first()
    if found is None:
        return None
    task, request = found
    return {
        **task_views.task_view(session, rt, request, task),
        "request_status": request.status,
        "request_version": request.version,
    }


# --- the dashboard -------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    summary: dict[str, Any]  # exactly what GET /v1/staff/sla/summary answers
    months: list[str]  # "2026-07" .. this month (KST)
    by_type_month: dict[str, list[int]]  # type -> received per month, in `months` order
    overdue_by_assignee: list[tuple[str | None, int]]  # (staff name, None: unassigned), count


def dashboard(session: Session, rt: Runtime, *, months: int = 6) -> Dashboard:
    today = kst_date(rt.clock())
    return Dashboard(
        summary=summary(session, rt),
        **_by_type_month(session, today, months),
        overdue_by_assignee=_overdue_by_assignee(session, today),
    )


def _month_starts(today: date, n: int) -> list[date]:
    y, m = today.year, today.month
    out = []
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _kst_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=KST)


def _by_type_month(session: Session, today: date, n: int) -> dict[str, Any]:
    """Requests received per KST month and type: one grouped pass over the months' range,
    each month a conditional count (the same on SQLite and PostgreSQL)."""
    starts = _month_starts(today, n)
    bounds = [*map(_kst_start, starts), _kst_start(_next_month(starts[-1]))]
    received = col(Request.received_at)
    counts = [
        func.sum(case(((received >= lo) & (received < hi), 1), else_=0))
        for lo, hi in pairwise(bounds)
    ]
    statement = (
        sql_select(col(Request.type), *counts)
        .where(received >= bounds[0], received < bounds[-1])
        .group_by(col(Request.type))
    )
    found: dict[str, list[int]] = {}
    for row in session.connection().execute(statement).all():
        found[str(row[0])] = [int(c or 0) for c in row[1:]]
    return {
        "months": [d.strftime("%Y-%m") for d in starts],
        "by_type_month": {t: found[t] for t in TYPE_LABELS_KO if t in found},
    }


def _next_month(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def _overdue_by_assignee(session: Session, today: date) -> list[tuple[str | None, int]]:
    """Open requests past their legal deadline, by assignee (most first; unassigned too)."""
    rows = session.exec(
        select(Request.assignee_id, func.count())
        .where(_OPEN, col(Request.legal_due_on) < today)
        .group_by(col(Request.assignee_id))
    ).all()
    counts: Counter[int | None] = Counter({a: int(n) for a, n in rows})
    names = staff_names(session, {a for a in counts if a is not None})
    return sorted(
        ((names.get(a, f"#{a}") if a is not None else None, n) for a, n in counts.items()),
        key=lambda r: (-r[1], r[0] or ""),
    )
