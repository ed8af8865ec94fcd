"""Drafting a decision: the grounds, the items, the retention plan and the access terms."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from app.errors import (
    BusinessRuleViolation,
    Conflict,
    FieldError,
    InvalidTransition,
    ValidationFailed,
)
from app.models.decision import Decision, DecisionAccess, RetentionEntry
from app.models.request import Request
from app.models.staff import Staff
from app.models.vocab import GRANTING, DecisionState, Delivery
from app.policy import Service
from app.runtime import Runtime
from app.services.audit.timeline import move
from app.services.clinics.forwarding import forward_of
from app.services.closing import _parent
from app.services.decisions.approval import _complete
from app.services.identity.checks import verified_methods
from app.workflows import automated as ad_rules
from app.workflows import decisions as rules
from app.workflows import identity as identity_rules
from app.workflows.deadlines import kst_date
from app.workflows.lifecycle import Outcome, Status
from app.workflows.pseudonymized import in_scope
from app.workflows.retention import (
    ItemPlan,
    RecordDateMissing,
    consent_items,
    missing_record_dates,
    not_reached,
    plan_deletion,
    plan_withdrawal,
    retention_summary,
)


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
    # Art. 37-2: a granted refusal's measure; an explanation's or a review's result.
    measure: str | None = None
    explanation: ad_rules.Explanation | None = None


def _invalid(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field_name, "required", message)])


def _not_the_clinics(session: Session, request: Request) -> None:
    """Processor mode (art. 26(8)): a request forwarded to a clinic is decided by the clinic;
    staff apply its instruction (POST …/clinic-instruction/apply), not a decision of ours."""
    forward = forward_of(session, request)
    if forward is not None:
        msg = (
            f"이 요청은 개인정보처리자인 {forward.clinic_name}에 전달되어 병원이 결정합니다. "
            "병원의 지시를 받은 뒤 POST /v1/staff/requests/{reference}/clinic-instruction/apply로 "
            "적용해 주세요."
        )
        raise Conflict(
            msg, code="clinic_decides", errors=[FieldError("outcome", "clinic_decides", msg)]
        )


def draft(
    session: Session, rt: Runtime, request: Request, body: DecisionInput, staff: Staff
) -> Decision:
    if request.status != Status.IN_REVIEW:
        raise InvalidTransition("검토 중인 요청에만 결정을 내릴 수 있습니다.")
    _not_the_clinics(session, request)
    granted, withheld, grounds, plans = _checked(session, rt, request, body)
    v = rt.vault
    decision = Decision(
        request_id=request.id,  # type: ignore[arg-type]
        outcome=body.outcome,
        grounds=grounds,
        items_granted=granted,
        items_withheld=withheld,
        reason_enc=v.encrypt_opt(body.reason, field="decision.reason"),
        changes_enc=v.encrypt_opt(body.changes, field="decision.changes"),
        access=_access_record(body.access),
        retention=[_plan_record(p) for p in plans] if plans is not None else None,
        subject_stated_termination=body.subject_stated_termination,
        ad_measure=body.measure,
        ad_explanation_enc=_explanation_enc(rt, body.explanation),
        state=DecisionState.AWAITING_APPROVAL,
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


def _checked(
    session: Session, rt: Runtime, request: Request, body: DecisionInput
) -> tuple[list[str], list[str], list[str], list[ItemPlan] | None]:
    """The decision's items and grounds checked against the law and the policy (a deletion's
    items split by what a statute keeps), and the retention plan of a deletion."""
    rules.check_outcome(request.type, body.outcome)
    identity_rules.check_record_match(
        body.outcome,
        request.type,
        verified_methods(session, request),
        required=rt.settings.identity_require_record_match,
    )
    parent = _parent(session, request)
    ground_type = parent.type if parent is not None else request.type
    granted, withheld, grounds = (
        list(body.items_granted),
        list(body.items_withheld),
        list(body.grounds),
    )
    plans: list[ItemPlan] | None = None
    if request.type in _PLANNED and body.outcome is not Outcome.NO_DATA_HELD:
        plans, split = _retention_split(rt, request, body)
        granted, withheld, grounds = split.granted, split.withheld, split.grounds
    draft_rules = rules.DraftDecision(
        request_type=ground_type,
        outcome=body.outcome,
        grounds=grounds,
        items_requested=_requested(rt, request),
        items_granted=granted,
        items_withheld=withheld,
        subject_stated_termination=body.subject_stated_termination,
    )
    rules.check_grounds(draft_rules, public_institution=rt.policy.controller.public_institution)
    if ad_rules.is_automated_type(request.type):
        # Art. 37-2: about a decision, not about items; the explanation names the data used.
        _check_automated(rt, request, body)
        granted, withheld = [], []
    elif request.type != "objection":
        decided = rules.check_items(draft_rules, rt.policy.item_codes(request.service))
        granted, withheld = decided.granted, decided.withheld
    if body.outcome in _REASON_REQUIRED and not body.reason:
        raise _invalid(
            "reason", "일부 인용, 거절과 정정하지 않는 결정에는 정보주체가 읽을 사유가 필요합니다."
        )
    _check_type_specifics(request, body, granted)
    return granted, withheld, grounds, plans


def body_errors(
    session: Session, rt: Runtime, request: Request, body: DecisionInput, skip: frozenset[str]
) -> list[FieldError]:
    """The domain rules that can still be checked on a decision body whose other fields
    (`skip`) failed validation, so the 422 names everything at once: grounds that do not
    apply, items the service does not process, missing record dates. (The rest, e.g. the
    account-record match or the access terms, need a valid body and come after.)"""
    errors: list[FieldError] = []
    parent = _parent(session, request)
    ground_type = parent.type if parent is not None else request.type
    granted = [] if "items_granted" in skip else body.items_granted
    withheld = [] if "items_withheld" in skip else body.items_withheld
    draft_rules = rules.DraftDecision(
        request_type=ground_type,
        outcome=body.outcome,
        grounds=body.grounds,
        items_requested=[],
        items_granted=granted,
        items_withheld=withheld,
        subject_stated_termination=body.subject_stated_termination,
    )
    # A deletion's or withdrawal's grounds are completed by its retention plan: not here.
    if request.type not in _PLANNED and "grounds" not in skip:
        public = rt.policy.controller.public_institution
        errors += rules.ground_errors(draft_rules, public_institution=public)
    if request.type != "objection":
        errors += rules.unknown_item_errors(draft_rules, rt.policy.item_codes(request.service))
    planned = request.type in _PLANNED and body.outcome is not Outcome.NO_DATA_HELD
    if planned and "record_dates" not in skip:
        service = rt.policy.service(request.service)
        assert service is not None
        items = request.items or [i.code for i in service.items]
        if request.type == "consent_withdrawal":
            items = [
                i for i in (request.items or consent_items(service)) if i in consent_items(service)
            ]
        missing = missing_record_dates(items, service, rt.policy, body.record_dates)
        if missing:
            errors += record_dates_missing(missing).errors
    return errors


# The subject reads why they did not get all they asked for (Decree arts. 41(5), 42(2), 43(3),
# 44(2)); `no_data_held` has its own sentence in the notice, a reason is optional.
_REASON_REQUIRED = frozenset({Outcome.PARTIALLY_GRANTED, Outcome.REFUSED, Outcome.UNCHANGED})


def _requested(rt: Runtime, request: Request) -> list[str]:
    """The items a decision must account for (named, the correction's, or all the service's),
    less the pseudonymized ones (art. 28-7: arts. 35, 35-2, 36 and 37 do not apply to them)."""
    service = rt.policy.service(request.service)
    assert service is not None
    return in_scope(_asked(rt, request, service), service)


def _asked(rt: Runtime, request: Request, service: Service) -> list[str]:
    if request.type == "consent_withdrawal" and not request.items:
        return consent_items(service)
    correction_item = None
    if request.type == "correction" and request.correction_enc:
        fields = json.loads(rt.vault.decrypt(request.correction_enc, field="request.correction"))
        correction_item = fields.get("item")
    return rules.requested_items(
        request.items,
        [i.code for i in service.items],
        correction_item,
        correction=request.type == "correction",
    )


# A deletion and a consent withdrawal destroy data: the retention plan decides them (arts.
# 21(1) proviso, 36(1) proviso, 37(3) proviso).
_PLANNED = frozenset({"deletion", "consent_withdrawal"})


def _retention_split(
    rt: Runtime, request: Request, body: DecisionInput
) -> tuple[list[ItemPlan], rules.DeletionSplit]:
    service = rt.policy.service(request.service)
    assert service is not None
    if request.type == "deletion":
        asked = in_scope(request.items or [i.code for i in service.items], service)  # art. 28-7
        plans = _retention_plan(rt, request, body, asked)
        return plans, rules.split_deletion(plans, outcome=body.outcome, grounds=body.grounds)
    # Art. 37(3): a withdrawal reaches only consent-based items; one naming no items means
    # every consent-based item, never every item.
    items = in_scope(request.items or consent_items(service), service)  # art. 28-7
    plans = _retention_plan(rt, request, body, items, withdrawal=True)
    unreached = [(i.code, i.basis) for i in not_reached(items, service)]
    split = rules.split_withdrawal(
        plans,
        unreached,
        outcome=body.outcome,
        grounds=body.grounds,
        withheld_by_staff=body.items_withheld,
    )
    # Items staff withheld on a ground of their own are neither destroyed nor separated.
    acted = set(split.granted)
    return [p for p in plans if p.action == "keep" or p.item in acted], split


def _retention_plan(
    rt: Runtime,
    request: Request,
    body: DecisionInput,
    items: list[str],
    *,
    withdrawal: bool = False,
) -> list[ItemPlan]:
    service = rt.policy.service(request.service)
    assert service is not None
    plan = plan_withdrawal if withdrawal else plan_deletion
    reached = [i for i in items if i in consent_items(service)] if withdrawal else items
    missing = missing_record_dates(reached, service, rt.policy, body.record_dates)
    if missing:
        raise record_dates_missing(missing)
    try:
        return plan(items, service, rt.policy, body.record_dates, kst_date(rt.clock()))
    except RecordDateMissing as exc:
        msg = (
            f"'{exc.item}' 항목은 법령상 보존 의무('{exc.rule}')가 있을 수 있습니다. "
            "그 기록이 만들어진 날짜를, 기록이 없으면 null을 record_dates에 적어 주세요."
        )
        raise ValidationFailed(
            msg, errors=[FieldError(f"record_dates.{exc.rule}", "required", msg)]
        ) from None


def record_dates_missing(missing: dict[str, list[str]]) -> ValidationFailed:
    """One answer naming every retention rule whose record date is missing."""
    errors = [
        FieldError(
            f"record_dates.{rule}",
            "required",
            f"{', '.join(repr(i) for i in items)} 항목은 법령상 보존 의무('{rule}')가 있을 수 "
            "있습니다. 그 기록이 만들어진 날짜를, 기록이 없으면 null을 적어 주세요.",
        )
        for rule, items in missing.items()
    ]
    rules_named = ", ".join(missing)
    return ValidationFailed(
        f"record_dates에 다음 보존 규칙의 기록 날짜(없으면 null)를 모두 적어 주세요: {rules_named}",
        errors=errors,
    )


def _check_type_specifics(request: Request, body: DecisionInput, granted: list[str]) -> None:
    giving = body.outcome in GRANTING
    if request.type == "access" and giving:
        if body.access is None:
            raise _invalid("access", "열람 방법과 일시·장소(또는 전자적 방법)를 적어 주세요.")
        if not granted:
            raise _invalid("items_granted", "열람하게 할 개인정보 항목을 적어 주세요.")
        a = body.access
        if a.available_at is not None and rules.access_after_deadline(
            kst_date(a.available_at), request.legal_due_on
        ):
            raise BusinessRuleViolation(
                "access_after_deadline",
                "access.available_at",
                f"열람 일시는 처리기한({request.legal_due_on.isoformat()}) 안이어야 합니다. "
                "그 뒤에야 열람하게 할 수 있다면 열람을 연기해 주세요(법 제35조제3항).",
            )
        rules.check_fee(
            fee_krw=a.fee_krw,
            postage_krw=a.postage_krw,
            method=a.method,
            caused_by_controller=a.caused_by_controller,
        )
    if request.type == "correction" and giving and not body.changes:
        raise _invalid("changes", "무엇을 어떻게 정정했는지 적어 주세요.")


def _check_automated(rt: Runtime, request: Request, body: DecisionInput) -> None:
    code = request.automated_decision
    decision = rt.policy.automated_decision(code) if code else None
    ad_rules.check_automated_draft(
        ad_rules.AutomatedDraft(
            request_type=request.type,
            outcome=body.outcome,
            grounds=body.grounds,
            decision=decision,
            measure=body.measure,
            explanation=body.explanation,
        ),
        service_items=rt.policy.item_codes(request.service),
    )


def _explanation_enc(rt: Runtime, x: ad_rules.Explanation | None) -> str | None:
    if x is None:
        return None
    data = {"result": x.result, "criteria": x.criteria, "data_types": list(x.data_types)}
    return rt.vault.encrypt(json.dumps(data, ensure_ascii=False), field="decision.ad_explanation")


def _access_record(a: AccessTerms | None) -> DecisionAccess | None:
    if a is None:
        return None
    return DecisionAccess(
        method=Delivery(a.method),
        available_at=a.available_at,
        place=a.place,
        fee_krw=a.fee_krw,
        postage_krw=a.postage_krw,
        caused_by_controller=a.caused_by_controller,
    )


def _plan_record(p: ItemPlan) -> RetentionEntry:
    return RetentionEntry(
        item=p.item,
        item_name=p.item_name,
        action=p.action,
        keep_until=p.keep_until,
        rule=p.rule,
        statute=p.statute,
        article=p.article,
        reason=p.reason_ko,
    )
