"""The reminder sweep: due-soon, overdue and unassigned requests, each reminded once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, tuple_
from sqlmodel import Session, col, select

from app.db import transaction
from app.models.notice import Notice
from app.models.request import Request
from app.models.staff import Staff
from app.models.vocab import TYPE_LABELS_KO
from app.runtime import Runtime
from app.services.audit.timeline import note
from app.services.notices.queue import queue_internal
from app.services.notices.render import render_internal
from app.services.sla.summary import _OPEN, unassigned_cutoff
from app.workflows.console_links import request_page_url
from app.workflows.deadlines import kst_date
from app.workflows.notices import date_text, kst_datetime_text

log = logging.getLogger("rightsdesk.sla")


@dataclass
class SweepResult:
    due_soon: int = 0
    overdue: int = 0
    unassigned: int = 0
    examined: int = 0
    # How many reminders this run queued (a count, not the keys: memory stays bounded).
    queued: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "due_soon": self.due_soon,
            "overdue": self.overdue,
            "unassigned": self.unassigned,
            "examined": self.examined,
        }


def sweep(rt: Runtime, *, page_size: int = 500) -> SweepResult:
    """Queue each SLA reminder once. Walks open requests in pages (bounded memory) in the order
    of the open requests' partial index (deadline, id), so the work follows the open requests,
    not the table; a reminder is keyed by request, kind, deadline and recipient, so re-running
    queues nothing new."""
    result = SweepResult()
    now = rt.clock()
    today = kst_date(now)
    soon = today + timedelta(days=rt.settings.due_soon_days)
    cutoff = unassigned_cutoff(rt, now)
    due, rid = col(Request.legal_due_on), col(Request.id)
    after: tuple[date, int] | None = None
    while True:
        with transaction(rt.engine) as session:
            query = select(Request).where(
                _OPEN,
                or_(
                    due <= soon,
                    and_(col(Request.assignee_id).is_(None), col(Request.received_at) < cutoff),
                ),
            )
            if after is not None:
                query = query.where(tuple_(due, rid) > tuple_(*after))
            page = list(session.exec(query.order_by(due, rid).limit(page_size)).all())
            if not page:
                if result.queued:
                    log.info("sla sweep queued %d reminder(s)", result.queued)
                return result
            after = (page[-1].legal_due_on, page[-1].id or 0)
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
        result.queued += 1


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
        "link": f"직원 콘솔에서 보기: {request_page_url(rt.settings.public_base_url, r.reference)}",
    }
    subject, body = render_internal(f"reminder_{kind}", context)
    queue_internal(
        session,
        rt,
        r,
        kind=f"reminder_{kind}",
        to=to,
        key=key,
        subject=subject,
        body=body,
    )
    note(session, rt, r, "reminder_queued", actor="sla", reminder=kind)
