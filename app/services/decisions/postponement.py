"""Postponing access (art. 35(3)) and ending the postponement."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from app.errors import (
    BusinessRuleViolation,
    FieldError,
    InvalidTransition,
    ValidationFailed,
)
from app.models.decision import Postponement
from app.models.request import Request
from app.runtime import Runtime
from app.services.audit.timeline import move
from app.services.notices.queue import queue_notice
from app.workflows import decisions as rules
from app.workflows.deadlines import deadline_from_date, kst_date, target_date
from app.workflows.lifecycle import Status
from app.workflows.notice_extras import PostponementExtra
from app.workflows.notices import NoticeKind


def postpone(
    session: Session,
    rt: Runtime,
    request: Request,
    *,
    reason: str,
    expected_end: date | None,
    actor: str,
) -> None:
    why = rules.postponement_allowed(
        request.type, today=kst_date(rt.clock()), legal_due_on=request.legal_due_on
    )
    if why:
        raise BusinessRuleViolation("postponement_not_allowed", "reason", why)
    if request.status != Status.IN_REVIEW:
        raise InvalidTransition("검토 중인 요청만 연기할 수 있습니다.")
    session.add(
        Postponement(
            request_id=request.id,  # type: ignore[arg-type]
            reason_enc=rt.vault.encrypt(reason, field="postponement.reason"),
            started_at=rt.clock(),
            original_due_on=request.legal_due_on,
            expected_end=expected_end,
        )
    )
    move(
        session,
        rt,
        request,
        Status.POSTPONED,
        actor=actor,
        original_due_on=request.legal_due_on.isoformat(),
    )
    queue_notice(
        session,
        rt,
        request,
        NoticeKind.POSTPONEMENT,
        actor=actor,
        extra=PostponementExtra(reason=reason, expected_end=expected_end),
        dedupe=f"postponement:{request.version}",
    )


def end_postponement(
    session: Session, rt: Runtime, request: Request, *, ended_on: date | None, actor: str
) -> None:
    """표준지침 art. 31(1): access within 10 days (Civil-Act count) of the day the reason ended."""
    if request.status != Status.POSTPONED:
        raise InvalidTransition("연기된 요청이 아닙니다.")
    today = kst_date(rt.clock())
    ended = ended_on or today
    if ended > today:
        raise ValidationFailed(
            "사유가 끝난 날은 미래일 수 없습니다.",
            errors=[FieldError("ended_on", "future_date", "사유가 끝난 날은 미래일 수 없습니다.")],
        )
    p = session.exec(
        select(Postponement)
        .where(Postponement.request_id == request.id)
        .order_by(col(Postponement.id).desc())
    ).first()
    assert p is not None
    new = deadline_from_date(ended, request.period_days, rt.calendar)
    p.ended_on, p.new_due_on = ended, new.due_on
    request.legal_due_on = new.due_on
    request.target_due_on = target_date(new.due_on, rt.settings.target_days_before, rt.calendar)
    request.deadline_unconfirmed = new.beyond_calendar
    move(
        session,
        rt,
        request,
        Status.IN_REVIEW,
        actor=actor,
        original_due_on=p.original_due_on.isoformat(),
        new_due_on=new.due_on.isoformat(),
        reason_ended_on=ended.isoformat(),
        explain=[{"date": s.date.isoformat(), "note": s.note} for s in new.explain],
    )


def postponements(session: Session, request: Request) -> list[Postponement]:
    return list(
        session.exec(
            select(Postponement)
            .where(Postponement.request_id == request.id)
            .order_by(col(Postponement.id))
        ).all()
    )
