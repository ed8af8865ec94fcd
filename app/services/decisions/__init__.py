"""Deciding a request: draft, approval, completion with its result notice, postponement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from app.errors import (
    BusinessRuleViolation,
    FieldError,
    Forbidden,
    InvalidTransition,
    ValidationFailed,
)
from app.models.decision import Decision, Postponement
from app.models.request import Request
from app.models.staff import Staff
from app.runtime import Runtime
from app.services.audit.timeline import move
from app.services.notices.queue import queue_notice
from app.workflows import decisions as rules
from app.workflows.deadlines import deadline_from_date, kst_date, target_date
from app.workflows.lifecycle import Outcome, Status
from app.workflows.notices import NoticeKind
from app.workflows.retention import ItemPlan, RecordDateMissing, plan_deletion, retention_summary


@dataclass(frozen=True)
class AccessTerms:
    method: str
    available_at: datetime | None = None
    place: str | None = None
    fee_krw: int = 0
    postage_krw: int = 0
    caused_by_controller: bool = False


@dataclass(frozen=True)
class DecisionInput:
    outcome: Outcome
    grounds: list[str]
    reason: str | None
    items_granted: list[str]
    items_withheld: list[str]
    changes: str | None = None
    access: AccessTerms | None = None
    record_dates: dict[str, date | None] = field(default_factory=dict)
    subject_stated_termination: bool | None = None
    statute: str | None = None


def _invalid(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field_name, "required", message)])


def _parent(session: Session, request: Request) -> Request | None:
    return session.get(Request, request.parent_id) if request.parent_id else None


def draft(
    session: Session, rt: Runtime, request: Request, body: DecisionInput, staff: Staff
) -> Decision:
    if request.status != Status.IN_REVIEW:
        raise InvalidTransition("검토 중인 요청에만 결정을 내릴 수 있습니다.")
    parent = _parent(session, request)
    ground_type = parent.type if parent is not None else request.type
    service_items = rt.policy.item_codes(request.service)
    granted, withheld, grounds = (
        list(body.items_granted),
        list(body.items_withheld),
        list(body.grounds),
    )
    plans: list[ItemPlan] | None = None
    if request.type == "deletion":
        plans = _retention_plan(rt, request, body)
        split = rules.split_deletion(plans, outcome=body.outcome, grounds=grounds)
        granted, withheld, grounds = split.granted, split.withheld, split.grounds
    draft_rules = rules.DraftDecision(
        request_type=ground_type,
        outcome=body.outcome,
        grounds=grounds,
        items_requested=request.items,
        items_granted=granted,
        items_withheld=withheld,
        subject_stated_termination=body.subject_stated_termination,
    )
    rules.check_grounds(draft_rules, public_institution=rt.policy.controller.public_institution)
    if request.type != "objection":
        rules.check_items(draft_rules, service_items)
    if body.outcome is not Outcome.GRANTED and not body.reason:
        raise _invalid("reason", "일부 인용이나 거절에는 정보주체가 읽을 사유가 필요합니다.")
    _check_type_specifics(request, body, granted)
    v = rt.vault
    decision = Decision(
        request_id=request.id,  # type: ignore[arg-type]
        outcome=body.outcome.value,
        grounds=grounds,
        items_granted=granted,
        items_withheld=withheld,
        reason_enc=v.encrypt_opt(body.reason, field="decision.reason"),
        changes_enc=v.encrypt_opt(body.changes, field="decision.changes"),
        access=_access_json(body.access),
        retention=[_plan_json(p) for p in plans] if plans is not None else None,
        subject_stated_termination=body.subject_stated_termination,
        state="awaiting_approval",
        drafted_by=staff.id,  # type: ignore[arg-type]
        drafted_at=rt.clock(),
    )
    session.add(decision)
    session.flush()
    actor = f"staff:{staff.id}"
    summary: dict[str, Any] = {
        "decision_id": decision.id,
        "outcome": decision.outcome,
        "grounds": grounds,
    }
    if plans is not None:
        summary["retention"] = retention_summary(plans)  # counts and dates, no personal data
    if rules.needs_approval(
        request.type, body.outcome, approval_for_all=rt.settings.approval_for_all
    ):
        move(session, rt, request, Status.AWAITING_APPROVAL, actor=actor, **summary)
    else:
        _complete(session, rt, request, decision, actor)
    return decision


def _retention_plan(rt: Runtime, request: Request, body: DecisionInput) -> list[ItemPlan]:
    service = rt.policy.service(request.service)
    assert service is not None
    items = request.items or [i.code for i in service.items]
    try:
        return plan_deletion(items, service, rt.policy, body.record_dates, kst_date(rt.clock()))
    except RecordDateMissing as exc:
        msg = (
            f"'{exc.item}' 항목은 법령상 보존 의무('{exc.rule}')가 있을 수 있습니다. "
            "그 기록이 만들어진 날짜를, 기록이 없으면 null을 record_dates에 적어 주세요."
        )
        raise ValidationFailed(
            msg, errors=[FieldError(f"record_dates.{exc.rule}", "required", msg)]
        ) from None


def _check_type_specifics(request: Request, body: DecisionInput, granted: list[str]) -> None:
    giving = body.outcome is not Outcome.REFUSED
    if request.type == "access" and giving:
        if body.access is None:
            raise _invalid("access", "열람 방법과 일시·장소(또는 전자적 방법)를 적어 주세요.")
        if not granted:
            raise _invalid("items_granted", "열람하게 할 개인정보 항목을 적어 주세요.")
        a = body.access
        rules.check_fee(
            fee_krw=a.fee_krw,
            postage_krw=a.postage_krw,
            method=a.method,
            caused_by_controller=a.caused_by_controller,
        )
    if request.type == "correction" and giving and not body.changes:
        raise _invalid("changes", "무엇을 어떻게 정정했는지 적어 주세요.")


def _access_json(a: AccessTerms | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "method": a.method,
        "available_at": a.available_at.isoformat() if a.available_at else None,
        "place": a.place,
        "fee_krw": a.fee_krw,
        "postage_krw": a.postage_krw,
        "caused_by_controller": a.caused_by_controller,
    }


def _plan_json(p: ItemPlan) -> dict[str, Any]:
    return {
        "item": p.item,
        "item_name": p.item_name,
        "action": p.action,
        "keep_until": p.keep_until.isoformat() if p.keep_until else None,
        "rule": p.rule,
        "statute": p.statute,
        "reason": p.reason_ko,
    }


def latest_decision(session: Session, request: Request) -> Decision | None:
    return session.exec(
        select(Decision).where(Decision.request_id == request.id).order_by(col(Decision.id).desc())
    ).first()


def approve(
    session: Session,
    rt: Runtime,
    request: Request,
    officer: Staff,
    *,
    approve: bool,
    note: str | None,
) -> None:
    decision = latest_decision(session, request)
    if request.status != Status.AWAITING_APPROVAL or decision is None:
        raise InvalidTransition("승인을 기다리는 결정이 없습니다.")
    if decision.drafted_by == officer.id:
        raise Forbidden("자신이 작성한 결정은 승인하거나 반려할 수 없습니다.")
    actor = f"staff:{officer.id}"
    decision.approval_note_enc = rt.vault.encrypt_opt(note, field="decision.approval_note")
    decision.approved_by = officer.id
    if approve:
        decision.state = "approved"
        _complete(session, rt, request, decision, actor)
    else:
        decision.state = "sent_back"
        move(
            session,
            rt,
            request,
            Status.IN_REVIEW,
            actor=actor,
            decision_id=decision.id,
            sent_back=True,
        )


def _complete(
    session: Session, rt: Runtime, request: Request, decision: Decision, actor: str
) -> None:
    """The decision is final. When it changes, deletes or stops data somewhere, every holder
    gets a task and the request waits in `executing` (app/services/tasks/execution.py); otherwise it
    completes now."""
    decision.decided_at = rt.clock()
    decision.state = "final" if decision.state == "awaiting_approval" else decision.state
    request.outcome = decision.outcome
    if request.type != "objection":
        from app.services.tasks.execution import start_execution

        if start_execution(session, rt, request, decision, actor=actor):
            return
    complete_request(session, rt, request, actor=actor)


def complete_request(session: Session, rt: Runtime, request: Request, *, actor: str) -> None:
    """Close the request under its decision and send the result notice (form No. 9 / 10)."""
    decision = latest_decision(session, request)
    assert decision is not None
    move(
        session,
        rt,
        request,
        Status.COMPLETED,
        actor=actor,
        decision_id=decision.id,
        outcome=decision.outcome,
        grounds=decision.grounds,
    )
    kind, extra = _result_notice(session, rt, request, decision)
    if request.type == "objection" and decision.outcome == Outcome.GRANTED:
        from app.services.decisions.objections import reopen_after_objection

        extra["reopened_reference"] = reopen_after_objection(session, rt, request, actor).reference
    queue_notice(
        session, rt, request, kind, extra=extra, actor=actor, dedupe=f"result:{decision.id}"
    )


def _result_notice(
    session: Session, rt: Runtime, request: Request, d: Decision
) -> tuple[NoticeKind, dict[str, Any]]:
    v = rt.vault
    reason = v.decrypt_opt(d.reason_enc, field="decision.reason")
    if request.type == "objection":
        parent = _parent(session, request)
        return NoticeKind.OBJECTION_RESULT, {
            "outcome": d.outcome,
            "reason": reason,
            "objected_reference": parent.reference if parent else None,
        }
    if request.type == "access":
        extra: dict[str, Any] = {"outcome": d.outcome}
        if d.outcome != Outcome.REFUSED:
            a = d.access or {}
            extra.update(
                items_granted=d.items_granted,
                method=a.get("method"),
                available_at=a.get("available_at"),
                place=a.get("place"),
                fee_krw=a.get("fee_krw", 0) + a.get("postage_krw", 0),
            )
        if d.outcome != Outcome.GRANTED:
            extra.update(grounds=d.grounds, reason=reason)
            if d.items_withheld:
                extra["items_withheld"] = d.items_withheld
        return NoticeKind.ACCESS_RESULT, extra
    extra = {"outcome": d.outcome}
    if d.outcome != Outcome.REFUSED:
        extra["action"] = _action_text(rt, request, d)
    if d.outcome != Outcome.GRANTED:
        kept = [p for p in d.retention or [] if p["action"] == "keep"]
        holds = "\n".join(f"{p['item_name']}: {p['reason']}" for p in kept)
        extra.update(grounds=d.grounds, reason="\n".join(x for x in (reason, holds) if x))
        statutes = sorted({p["statute"] for p in kept if p["statute"]})
        if statutes:
            extra["statute"] = ", ".join(statutes)
    return NoticeKind.ACTION_RESULT, extra


def _action_text(rt: Runtime, request: Request, d: Decision) -> str:
    if request.type == "correction":
        # A chat is no place for the corrected values: the chat hears only that it was done.
        changes = (
            ""
            if request.notify_by == "chat"
            else rt.vault.decrypt_opt(d.changes_enc, field="decision.changes") or ""
        )
        return f"요구하신 대로 개인정보를 정정했습니다. {changes}".strip()
    if request.type == "suspension":
        return "요구하신 개인정보의 처리를 정지했습니다(개인정보 보호법 제37조제2항)."
    deleted = [p["item_name"] for p in d.retention or [] if p["action"] == "delete"]
    what = ", ".join(deleted) if deleted else "요구하신 개인정보"
    verb = "동의 철회에 따라 " if request.type == "consent_withdrawal" else ""
    # Art. 36(3) / 37(3): destroyed so that it cannot be restored or regenerated.
    return f"{verb}{what}을(를) 복구·재생할 수 없도록 파기했습니다."


# --- postponement of access (art. 35(3)) ----------------------------------------------------


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
        extra={"reason": reason, "expected_end": expected_end},
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


def decision_summary(session: Session, rt: Runtime, request: Request) -> dict[str, Any] | None:
    """The requester's view of a final decision: outcome, grounds in Korean, how to object."""
    from app.catalog import objection_method
    from app.workflows.grounds import GROUNDS

    d = latest_decision(session, request)
    if request.status != Status.COMPLETED or d is None:
        return None
    return {
        "outcome": d.outcome,
        "decided_at": d.decided_at,
        "grounds": [
            {"code": g, "article": GROUNDS[g].article, "text": GROUNDS[g].text_ko}
            for g in d.grounds
        ],
        "reason": rt.vault.decrypt_opt(d.reason_enc, field="decision.reason"),
        "items_granted": d.items_granted,
        "items_withheld": d.items_withheld,
        "retention": [
            {k: p[k] for k in ("item", "item_name", "action", "keep_until", "statute")}
            for p in d.retention or []
        ],
        "objection_method": (objection_method(rt.policy) if d.outcome != Outcome.GRANTED else None),
    }
