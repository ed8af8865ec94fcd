"""Automated decisions (PIPA art. 37-2; Decree arts. 44-2 to 44-4; PIPC 고시 「자동화된 결정에
대한 개인정보처리자의 조치 기준」 of 2024-09-26). Pure: values in, values out.

Three requests: 거부 (refuse a fully automated decision with a significant effect), 설명
(explain any automated decision) and 검토 (the subject's views considered and the decision
reconsidered). Each names one decision the policy publishes, or `unknown` for staff to resolve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.errors import (
    BusinessRuleViolation,
    Conflict,
    FieldError,
    InvalidTransition,
    ValidationFailed,
)
from app.models.vocab import AUTOMATED_DECISION_TYPES, Outcome, Status
from app.policy import AutomatedDecision, Policy
from app.workflows.deadlines import Deadline, HolidayCalendar, deadline_from_date

UNKNOWN = "unknown"  # the subject does not know which decision: staff resolve it

REFUSAL = "automated_decision_refusal"
EXPLANATION = "automated_decision_explanation"
REVIEW = "automated_decision_review"

# Art. 37-2(1) proviso: a decision made under art. 15(1)1, 2 or 4 cannot be refused.
REFUSAL_BARRED_BASES = frozenset({"15-1-1", "15-1-2", "15-1-4"})
PROVISO_GROUND = "art37-2-1-proviso"
# Art. 37-2(1) main text: only a fully automated decision with a significant effect can be
# refused; this ground says the decision named is not one.
NOT_REFUSABLE_GROUND = "art37-2-1"

# Art. 37-2(3): what a granted refusal does — the decision is not applied to the subject, or a
# person processes the matter again.
MEASURES: tuple[str, ...] = ("not_applied", "human_reprocessing")
MEASURE_KO: dict[str, str] = {
    "not_applied": "귀하에게 이 자동화된 결정을 적용하지 않기로 하였습니다.",
    "human_reprocessing": "담당자가 직접 다시 처리(인적 개입에 의한 재처리)하였습니다.",
}

# Decree art. 44-3: 30 days, extendable twice by 30 days, each with a notice of the reason.
EXTENSION_DAYS = 30
MAX_EXTENSIONS = 2
ORDINAL_KO: dict[int, str] = {1: "첫 번째", 2: "두 번째"}

# The states in which the period still runs (a closed or withdrawn request has no deadline).
_OPEN = frozenset(
    {
        Status.IDENTITY_PENDING,
        Status.AWAITING_REQUESTER,
        Status.IN_REVIEW,
        Status.AWAITING_APPROVAL,
        Status.EXECUTING,
    }
)

# Outcomes of the three types: done (granted), refused on a ground, or nothing of the subject
# was decided that way (no_data_held).
OUTCOMES: frozenset[Outcome] = frozenset({Outcome.GRANTED, Outcome.REFUSED, Outcome.NO_DATA_HELD})


def is_automated_type(request_type: str) -> bool:
    return request_type in AUTOMATED_DECISION_TYPES


def _invalid(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field, code, message)])


def named_decision(
    request_type: str, code: str | None, *, service: str, policy: Policy
) -> str | None:
    """The code a filing stores: an art. 37-2 request names a decision of its service, or
    `unknown` (also when it names none); any other type names none."""
    if not is_automated_type(request_type):
        if code is not None:
            raise _invalid(
                "automated_decision",
                "not_applicable",
                "자동화된 결정은 자동화된 결정의 거부·설명·검토 요구에만 고릅니다.",
            )
        return None
    if code is None or code == UNKNOWN:
        return UNKNOWN
    check_decision_code(code, service=service, policy=policy, field="automated_decision")
    return code


def check_views(request_type: str, details: str | None) -> None:
    """A review (고시: 검토) is the subject's views on the decision: they are the request."""
    if request_type == REVIEW and not (details and details.strip()):
        raise _invalid(
            "details",
            "required",
            "자동화된 결정에 대한 의견(다시 검토해 달라는 이유)을 적어 주세요.",
        )


def decision_codes(service: str, policy: Policy) -> list[str]:
    """The decisions published for a service, in file order."""
    return [d.code for d in policy.automated_decisions if service in d.services]


def check_decision_code(code: str, *, service: str, policy: Policy, field: str) -> None:
    allowed = decision_codes(service, policy)
    if code not in allowed:
        names = ", ".join([*allowed, UNKNOWN])
        raise BusinessRuleViolation(
            "unknown_automated_decision",
            field,
            f"이 서비스의 자동화된 결정이 아닙니다. 고를 수 있는 값: {names}",
            allowed=[*allowed, UNKNOWN],
            value=code,
        )


def refusal_barred(decision: AutomatedDecision) -> bool:
    """Art. 37-2(1) proviso: the decision rests on consent, a statute or a contract."""
    return bool(REFUSAL_BARRED_BASES & set(decision.legal_basis))


def basis_article_text(basis: str) -> str:
    """ "15-1-4" -> "개인정보 보호법 제15조제1항제4호"."""
    article, paragraph, item = basis.split("-")
    return f"개인정보 보호법 제{article}조제{paragraph}항제{item}호"


# --- the extension (Decree art. 44-3) -----------------------------------------------------


def check_extension(
    request_type: str, status: Status, extensions: int, *, today: date, due_on: date
) -> None:
    """Only the three art. 37-2 types, only while open, at most twice, and only before the
    deadline has passed: Decree art. 44-3 extends a running period, it does not revive one
    that ended (`today` is the KST date; the deadline's own day still counts)."""
    if not is_automated_type(request_type):
        raise InvalidTransition(
            "처리기간 연장은 자동화된 결정에 관한 요구에만 할 수 있습니다(시행령 제44조의3)."
        )
    if status not in _OPEN:
        raise InvalidTransition("끝난 요청의 처리기간은 연장할 수 없습니다.")
    if extensions >= MAX_EXTENSIONS:
        raise Conflict(
            f"처리기간은 {MAX_EXTENSIONS}번까지만 연장할 수 있습니다(시행령 제44조의3).",
            code="extension_limit",
        )
    if today > due_on:
        raise Conflict(
            f"처리기한({due_on.isoformat()})이 지나 연장할 수 없습니다. 연장은 기한 안에, "
            "사유를 알리며 해야 합니다(시행령 제44조의3).",
            code="deadline_passed",
        )


def extended_deadline(current_due: date, calendar: HolidayCalendar) -> Deadline:
    """30 more days counted the Civil-Act way from the current deadline: that day is not
    counted (민법 제157조), a last day on a Saturday or 공휴일 moves on (제161조)."""
    return deadline_from_date(current_due, EXTENSION_DAYS, calendar)


# --- the decision --------------------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """Decree art. 44-3(2): the result, its main criteria and procedure, the data types used.
    For a review: the reconsidered result (criteria and data optional)."""

    result: str
    criteria: str | None
    data_types: Sequence[str]


@dataclass(frozen=True)
class AutomatedDraft:
    request_type: str
    outcome: Outcome
    grounds: Sequence[str]
    decision: AutomatedDecision | None  # None while the request names `unknown`
    measure: str | None
    explanation: Explanation | None


def check_automated_draft(d: AutomatedDraft, *, service_items: frozenset[str]) -> None:
    """What each art. 37-2 outcome needs; the grounds themselves are checked like any other
    (app.workflows.decisions.check_grounds)."""
    if d.decision is None and d.outcome is not Outcome.NO_DATA_HELD:
        raise BusinessRuleViolation(
            "automated_decision_unresolved",
            "automated_decision",
            "어떤 자동화된 결정에 관한 요구인지 먼저 정해 주세요(POST …/automated-decision).",
        )
    granted = d.outcome is Outcome.GRANTED
    _check_measure(d, granted)
    _check_explanation(d, granted, service_items)
    if PROVISO_GROUND in d.grounds and (d.decision is None or not refusal_barred(d.decision)):
        raise BusinessRuleViolation(
            "ground_not_applicable",
            "grounds",
            f"{PROVISO_GROUND}: 이 자동화된 결정은 개인정보 보호법 제15조제1항제1호·제2호·"
            "제4호에 따라 이루어지는 결정이 아닙니다.",
        )
    if NOT_REFUSABLE_GROUND in d.grounds and (d.decision is None or d.decision.refusable):
        raise BusinessRuleViolation(
            "ground_not_applicable",
            "grounds",
            f"{NOT_REFUSABLE_GROUND}: 이 자동화된 결정은 완전히 자동화된 결정이며 정보주체의 "
            "권리 또는 의무에 중대한 영향을 미치는 결정으로 공개되어 있어 거부할 수 있는 "
            "결정입니다(개인정보 보호법 제37조의2제1항 본문).",
        )


def _check_measure(d: AutomatedDraft, granted: bool) -> None:
    if d.request_type == REFUSAL and granted:
        if d.measure not in MEASURES:
            raise _invalid(
                "measure",
                "required",
                f"거부 요구를 받아들인 조치를 골라 주세요: {', '.join(MEASURES)}",
            )
    elif d.measure is not None:
        raise _invalid("measure", "not_applicable", "조치는 받아들인 거부 요구에만 적습니다.")


def _check_explanation(d: AutomatedDraft, granted: bool, service_items: frozenset[str]) -> None:
    """Granted explanations and reviews need theirs; a granted refusal may add one (the
    result of a person's re-processing); nothing that is not granted carries one."""
    x = d.explanation
    if granted and d.measure == "human_reprocessing" and (x is None or not x.result.strip()):
        # Art. 37-2(3): a person processed the matter again; the subject hears what came of it.
        raise _invalid(
            "explanation.result",
            "required",
            "담당자가 다시 처리한 결과를 적어 주세요(인적 개입에 의한 재처리의 결과).",
        )
    if not granted or d.request_type == REFUSAL:
        if x is not None and not granted:
            raise _invalid(
                "explanation", "not_applicable", "받아들이지 않은 요구에는 설명을 적지 않습니다."
            )
        if x is None:
            return
    elif x is None or not x.result.strip():
        field = "explanation.result" if x is not None else "explanation"
        what = "다시 검토한 결과" if d.request_type == REVIEW else "결정의 결과"
        raise _invalid(field, "required", f"{what}를 적어 주세요(시행령 제44조의3).")
    elif d.request_type == EXPLANATION:
        # Decree art. 44-3(2): all three items of the explanation.
        if not (x.criteria and x.criteria.strip()):
            raise _invalid(
                "explanation.criteria", "required", "결정의 주요 기준과 절차를 적어 주세요."
            )
        if not x.data_types:
            raise _invalid(
                "explanation.data_types", "required", "결정에 이용된 개인정보의 유형을 골라 주세요."
            )
    for i, code in enumerate(x.data_types):
        if code not in service_items:
            raise BusinessRuleViolation(
                "unknown_item",
                f"explanation.data_types.{i}",
                "이 서비스에서 처리하지 않는 개인정보 항목입니다.",
            )
