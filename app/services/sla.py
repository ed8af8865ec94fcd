"""SLA operations: the dashboard summary, assignment and the reminder sweep."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, col, select

from app.db import transaction
from app.errors import BusinessRuleViolation
from app.models.notice import Notice
from app.models.request import Request
from app.models.staff import InternalNote, Role, Staff
from app.notice_render import render_internal
from app.runtime import Runtime
from app.services.events import note
from app.workflows.deadlines import kst_date
from app.workflows.lifecycle import CLOSED
from app.workflows.notices import date_text, kst_datetime_text
from app.workflows.sla import Sla, sla_column
from app.workflows.vocab import TYPE_LABELS_KO

log = logging.getLogger("rightsdesk.sla")

_CLOSED = [s.value for s in CLOSED]
_OPEN = col(Request.status).not_in(_CLOSED)


def _sla_expr(rt: Runtime, today: date) -> Any:
    return sla_column(
        status=col(Request.status),
        legal_due_on=col(Request.legal_due_on),
        closed_on=col(Request.closed_on),
        today=today,
        due_soon_days=rt.settings.due_soon_days,
    )


def summary(session: Session, rt: Runtime) -> dict[str, Any]:
    """Counts by SLA state × type × service, what is overdue and due now, and how the team
    has done over the last 30 and 90 days."""
    now = rt.clock()
    today = kst_date(now)
    state = _sla_expr(rt, today)
    rows = session.exec(
        select(state, Request.type, Request.service, func.count()).group_by(
            state, Request.type, Request.service
        )
    ).all()
    by_state: Counter[str] = Counter()
    cells = []
    for sla, rtype, service, n in rows:
        by_state[sla] += n
        cells.append({"sla": sla, "type": rtype, "service": service, "count": n})
    oldest = session.exec(
        select(Request)
        .where(_OPEN, col(Request.legal_due_on) < today)
        .order_by(col(Request.legal_due_on), col(Request.id))
        .limit(5)
    ).all()
    return {
        "today": today,
        "totals": {s.value: by_state.get(s.value, 0) for s in Sla},
        "counts": cells,
        "oldest_overdue": [
            {
                "reference": r.reference,
                "type": r.type,
                "legal_deadline": r.legal_due_on,
                "days_overdue": (today - r.legal_due_on).days,
                "assignee": r.assignee_id,
            }
            for r in oldest
        ],
        "due_today": _due_on(session, today),
        "due_tomorrow": _due_on(session, today + timedelta(days=1)),
        "unassigned_too_long": _unassigned_count(session, rt, now),
        "last_30_days": _performance(session, today, 30),
        "last_90_days": _performance(session, today, 90),
    }


def _due_on(session: Session, day: date) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Request.reference, Request.type, Request.assignee_id)
        .where(_OPEN, col(Request.legal_due_on) == day)
        .order_by(col(Request.id))
        .limit(200)
    ).all()
    return [{"reference": r, "type": t, "assignee": a} for r, t, a in rows]


def unassigned_cutoff(rt: Runtime, now: datetime) -> datetime:
    return now - timedelta(hours=rt.settings.unassigned_flag_hours)


def _unassigned_count(session: Session, rt: Runtime, now: datetime) -> int:
    return session.exec(
        select(func.count())
        .select_from(Request)
        .where(
            _OPEN,
            col(Request.assignee_id).is_(None),
            col(Request.received_at) < unassigned_cutoff(rt, now),
        )
    ).one()


def _performance(session: Session, today: date, days: int) -> dict[str, Any]:
    """On-time rate and median days to close of requests closed in the window; the median is
    taken from a histogram the database computes, so no rows travel."""
    since = today - timedelta(days=days)
    hist = session.exec(
        select(
            Request.days_to_close,
            func.count(),
            func.sum(case((col(Request.closed_on) <= col(Request.legal_due_on), 1), else_=0)),
        )
        .where(col(Request.closed_on) > since)
        .group_by(col(Request.days_to_close))
        .order_by(col(Request.days_to_close))
    ).all()
    closed = sum(n for _, n, _ in hist)
    met = sum(int(m or 0) for _, _, m in hist)
    median = _median_from_histogram([(d, n) for d, n, _ in hist], closed)
    return {
        "closed": closed,
        "on_time": met,
        "on_time_rate": round(met / closed, 4) if closed else None,
        "median_days_to_close": median,
    }


def _median_from_histogram(hist: list[tuple[int | None, int]], total: int) -> float | None:
    """The median of values given as sorted (value, count) pairs; the mean of the two middle
    values when the count is even."""
    if not total:
        return None
    wanted = sorted({(total + 1) // 2, total // 2 + 1})
    found: list[int] = []
    seen = 0
    for value, n in hist:
        seen += n
        while wanted and seen >= wanted[0]:
            wanted.pop(0)
            found.append(value or 0)
    return sum(found) / len(found)


def assign(
    session: Session, rt: Runtime, request: Request, *, fields: dict[str, Any], staff: Staff
) -> None:
    """PATCH: assignee (a case handler's id, or null) and/or an internal note."""
    actor = f"staff:{staff.id}"
    if "assignee" in fields:
        new = fields["assignee"]
        if new is not None:
            target = session.get(Staff, new)
            handlers = {Role.AGENT.value, Role.SECURITY.value, Role.OFFICER.value}
            if target is None or not target.active or target.role not in handlers:
                raise BusinessRuleViolation(
                    "unknown_assignee", "assignee", "요청을 맡을 수 있는 직원이 아닙니다."
                )
        if new != request.assignee_id:
            request.assignee_id = new
            request.version += 1
            request.updated_at = rt.clock()
            note(session, rt, request, "assigned", actor=actor, assignee=new)
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


# --- reminders --------------------------------------------------------------------------------


@dataclass
class SweepResult:
    due_soon: int = 0
    overdue: int = 0
    unassigned: int = 0
    examined: int = 0
    queued: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "due_soon": self.due_soon,
            "overdue": self.overdue,
            "unassigned": self.unassigned,
            "examined": self.examined,
        }


def sweep(rt: Runtime, *, page_size: int = 500) -> SweepResult:
    """Queue each SLA reminder once. Walks open requests in pages (bounded memory); a reminder
    is keyed by request, kind, deadline and recipient, so re-running queues nothing new."""
    result = SweepResult()
    now = rt.clock()
    today = kst_date(now)
    soon = today + timedelta(days=rt.settings.due_soon_days)
    cutoff = unassigned_cutoff(rt, now)
    last_id = 0
    while True:
        with transaction(rt.engine) as session:
            page = list(
                session.exec(
                    select(Request)
                    .where(
                        _OPEN,
                        col(Request.id) > last_id,
                        or_(
                            col(Request.legal_due_on) <= soon,
                            and_(
                                col(Request.assignee_id).is_(None),
                                col(Request.received_at) < cutoff,
                            ),
                        ),
                    )
                    .order_by(col(Request.id))
                    .limit(page_size)
                ).all()
            )
            if not page:
                return result
            last_id = page[-1].id or last_id
            result.examined += len(page)
            _remind_page(session, rt, page, today=today, soon=soon, cutoff=cutoff, result=result)


def _remind_page(
    session: Session,
    rt: Runtime,
    page: list[Request],
    *,
    today: date,
    soon: date,
    cutoff: datetime,
    result: SweepResult,
) -> None:
    wanted: list[tuple[Request, str, str, str]] = []  # request, kind, recipient, key
    assignees = {
        s.id: s
        for s in session.exec(
            select(Staff).where(col(Staff.id).in_({r.assignee_id for r in page if r.assignee_id}))
        ).all()
    }
    team, officer = _team_address(rt), _officer_address(rt)
    for r in page:
        mine = assignees.get(r.assignee_id) if r.assignee_id else None
        to_assignee = mine.email if mine and mine.email else team
        if r.legal_due_on < today:
            for who in dict.fromkeys([to_assignee, officer]):
                wanted.append(
                    (r, "overdue", who, f"{r.reference}:reminder:overdue:{r.legal_due_on}:{who}")
                )
        elif r.legal_due_on <= soon:
            wanted.append(
                (
                    r,
                    "due_soon",
                    to_assignee,
                    f"{r.reference}:reminder:due_soon:{r.legal_due_on}:{to_assignee}",
                )
            )
        if r.assignee_id is None and r.received_at < cutoff:
            wanted.append((r, "unassigned", team, f"{r.reference}:reminder:unassigned"))
    keys = [k for *_, k in wanted]
    existing = (
        set(session.exec(select(Notice.dedupe_key).where(col(Notice.dedupe_key).in_(keys))).all())
        if keys
        else set()
    )
    for r, kind, to, key in wanted:
        if key in existing:
            continue
        _queue_reminder(
            session,
            rt,
            r,
            kind,
            to,
            key,
            today,
            mine_name=_assignee_name(assignees.get(r.assignee_id) if r.assignee_id else None),
        )
        setattr(result, kind, getattr(result, kind) + 1)
        result.queued.append(key)
    if result.queued:
        log.info("sla sweep queued %d reminder(s)", len(result.queued))


def _assignee_name(staff: Staff | None) -> str:
    return staff.name if staff else "지정되지 않음"


def _team_address(rt: Runtime) -> str:
    if rt.settings.team_email:
        return rt.settings.team_email
    contact = rt.policy.contact(rt.policy.rights.intake_contact)
    assert contact is not None and contact.email is not None
    return contact.email


def _officer_address(rt: Runtime) -> str:
    return rt.settings.officer_email or rt.policy.controller.privacy_officer.email or ""


def _queue_reminder(
    session: Session,
    rt: Runtime,
    r: Request,
    kind: str,
    to: str,
    key: str,
    today: date,
    *,
    mine_name: str,
) -> None:
    service = rt.policy.service(r.service)
    context = {
        "greeting": "정보보안팀 담당자님,",
        "reference": r.reference,
        "type_label": TYPE_LABELS_KO.get(r.type, r.type),
        "service_name": service.name if service else r.service,
        "status": r.status,
        "received_text": kst_datetime_text(r.received_at),
        "due_text": date_text(r.legal_due_on),
        "target_text": date_text(r.target_due_on),
        "days_left": (r.legal_due_on - today).days,
        "days_over": (today - r.legal_due_on).days,
        "hours": int((rt.clock() - r.received_at).total_seconds() // 3600),
        "assignee": mine_name,
        "link": f"상세 조회: GET /v1/staff/requests/{r.reference}",
    }
    subject, body = render_internal(f"reminder_{kind}", context)
    v, now = rt.vault, rt.clock()
    session.add(
        Notice(
            request_id=r.id,  # type: ignore[arg-type]
            kind=f"reminder_{kind}",
            channel="email",
            audience="staff",
            dedupe_key=key,
            recipient_enc=v.encrypt(to, field="notice.recipient"),
            subject_enc=v.encrypt(subject, field="notice.subject"),
            body_enc=v.encrypt(body, field="notice.body"),
            next_attempt_at=now,
            created_at=now,
        )
    )
    note(session, rt, r, "reminder_queued", actor="sla", reminder=kind)
