"""Re-derive the legal deadlines of open requests after the holiday calendar changed.

A deadline counted past the confirmed calendar years (law rule 5) is flagged unconfirmed; once
CALENDAR_LAST_YEAR is raised or the override file gains a 임시공휴일, the stored date may be
wrong. `rightsdesk calendar recompute` counts every open request again (민법 제157조·제161조) from
the same start (receipt, or the day a postponement's reason ended) and records each change on
the request's timeline. Closed requests keep the deadline they were handled against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from app.db import transaction
from app.models.decision import Postponement
from app.models.request import Request
from app.services.audit.timeline import note
from app.workflows.deadlines import Deadline, deadline_from_date, legal_deadline, target_date
from app.workflows.lifecycle import OPEN

if TYPE_CHECKING:
    from app.runtime import Runtime

ACTOR = "system:calendar"


@dataclass(frozen=True)
class RecomputeResult:
    examined: int
    changed: int
    still_unconfirmed: int

    def as_dict(self) -> dict[str, int]:
        return {
            "examined": self.examined,
            "changed": self.changed,
            "still_unconfirmed": self.still_unconfirmed,
        }


def recompute_deadlines(rt: Runtime) -> RecomputeResult:
    """Count every open request's deadline again with the calendar now loaded."""
    examined = changed = unconfirmed = 0
    with transaction(rt.engine) as session:
        ids = list(
            session.exec(
                select(Request.id)
                .where(col(Request.status).in_(list(OPEN)))
                .order_by(col(Request.id))
            ).all()
        )
    for request_id in ids:
        with transaction(rt.engine) as session:
            request = session.get(Request, request_id)
            if request is None or request.status not in OPEN:
                continue
            examined += 1
            changed += _recompute_one(session, rt, request)
            unconfirmed += request.deadline_unconfirmed
    return RecomputeResult(examined=examined, changed=changed, still_unconfirmed=unconfirmed)


def _recompute_one(session: Session, rt: Runtime, request: Request) -> int:
    ended = _ended_postponement(session, request)
    if ended is not None:
        # 표준지침 31(1): 10 days from the day the postponement's reason ended.
        new = deadline_from_date(ended.ended_on or date.min, request.period_days, rt.calendar)
    else:
        new = legal_deadline(request.received_at, request.period_days, rt.calendar)
    if (new.due_on, new.beyond_calendar) == (request.legal_due_on, request.deadline_unconfirmed):
        return 0
    old_due, old_flag = request.legal_due_on, request.deadline_unconfirmed
    _apply(rt, request, new)
    if ended is not None:
        ended.new_due_on = new.due_on
    request.version += 1
    note(
        session,
        rt,
        request,
        "deadline_recomputed",
        actor=ACTOR,
        old_deadline=old_due.isoformat(),
        new_deadline=new.due_on.isoformat(),
        was_unconfirmed=old_flag,
        deadline_unconfirmed=new.beyond_calendar,
        calendar_last_year=rt.calendar.last_year,
        explain=[{"date": s.date.isoformat(), "note": s.note} for s in new.explain],
    )
    return 1


def _apply(rt: Runtime, request: Request, new: Deadline) -> None:
    request.legal_due_on = new.due_on
    request.target_due_on = target_date(new.due_on, rt.settings.target_days_before, rt.calendar)
    request.deadline_unconfirmed = new.beyond_calendar
    request.updated_at = rt.clock()


def _ended_postponement(session: Session, request: Request) -> Postponement | None:
    latest = session.exec(
        select(Postponement)
        .where(Postponement.request_id == request.id)
        .order_by(col(Postponement.id).desc())
    ).first()
    return latest if latest is not None and latest.ended_on is not None else None
