"""What the team may decide, on which legal ground, and who must approve it. Pure.

PIPA art. 35(4) (access), art. 36(1) proviso (deletion), art. 37(2) (suspension and consent
withdrawal); Decree arts. 41(5), 42, 43(3), 44(2), 47; law rules 6-18 and 26-28.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from app.errors import BusinessRuleViolation, FieldError, InvalidTransition, ValidationFailed
from app.models.vocab import DecisionState
from app.workflows.grounds import GROUNDS
from app.workflows.lifecycle import Outcome, Status
from app.workflows.retention import ItemPlan


@dataclass(frozen=True)
class DraftDecision:
    request_type: str  # for an objection: the type of the request objected to
    outcome: Outcome
    grounds: Sequence[str]
    items_requested: Sequence[str]
    items_granted: Sequence[str]
    items_withheld: Sequence[str]
    subject_stated_termination: bool | None


# A decision's own states. Policy §6③1 (and rules 8, 12, 16): a refusal, a partial grant and
# every decision that destroys data are approved by the officer, who may instead send the draft
# back; a decision that needs no approval is final at once. Approved, sent back and final are
# never changed again: a new decision is drafted instead (rule 27 for objections).
DECISION_TRANSITIONS: dict[DecisionState, frozenset[DecisionState]] = {
    DecisionState.AWAITING_APPROVAL: frozenset(
        {DecisionState.APPROVED, DecisionState.SENT_BACK, DecisionState.FINAL}
    ),
    DecisionState.APPROVED: frozenset(),
    DecisionState.SENT_BACK: frozenset(),
    DecisionState.FINAL: frozenset(),
}


class HasDecisionState(Protocol):
    state: DecisionState


def move_decision(decision: HasDecisionState, to: DecisionState) -> None:
    """Move `decision` to `to`, or raise InvalidTransition and change nothing."""
    current = DecisionState(decision.state)
    if to not in DECISION_TRANSITIONS[current]:
        raise InvalidTransition(f"결정을 '{current}' 상태에서 '{to}' 상태로 바꿀 수 없습니다.")
    decision.state = to


def _not_applicable(code: str, message: str) -> BusinessRuleViolation:
    return BusinessRuleViolation("ground_not_applicable", "grounds", f"{code}: {message}")


def check_grounds(d: DraftDecision, *, public_institution: bool) -> None:
    """A refusal or partial grant cites at least one ground that fits the request (rules 8,
    12, 16); a full grant cites none."""
    if d.outcome == Outcome.GRANTED:
        if d.grounds:
            msg = "전부 인용하는 결정에는 제한 사유를 적지 않습니다."
            raise ValidationFailed(msg, errors=[FieldError("grounds", "not_applicable", msg)])
        return
    if not d.grounds:
        raise BusinessRuleViolation(
            "ground_not_applicable",
            "grounds",
            "일부 인용이나 거절에는 법적 근거를 하나 이상 적어야 합니다.",
        )
    for code in d.grounds:
        ground = GROUNDS.get(code)
        if ground is None:
            raise _not_applicable(code, "알 수 없는 근거입니다.")
        if ground.public_only and not public_institution:
            # Art. 35(4)3 and 37(2)3 are for public institutions only.
            raise _not_applicable(code, "공공기관만 쓸 수 있는 근거입니다.")
        if d.request_type not in ground.applies_to:
            raise _not_applicable(code, "이 요구 유형에는 적용되지 않는 근거입니다.")
        if ground.requires_no_termination and d.subject_stated_termination is not False:
            # Art. 37(2)4: only while the subject has not clearly stated termination.
            raise _not_applicable(
                code,
                "정보주체가 계약 해지 의사를 밝히지 않았다는 기록"
                "(subject_stated_termination: false)이 있어야 합니다.",
            )


def check_items(d: DraftDecision, service_items: frozenset[str]) -> None:
    """Decree art. 42(1): only what falls under a ground is withheld; the rest is provided."""
    for field, items in (("items_granted", d.items_granted), ("items_withheld", d.items_withheld)):
        for i, item in enumerate(items):
            if item not in service_items:
                raise BusinessRuleViolation(
                    "unknown_item", f"{field}.{i}", "이 서비스에서 처리하지 않는 항목입니다."
                )
    overlap = set(d.items_granted) & set(d.items_withheld)
    if overlap:
        raise _items_invalid("items_withheld", "같은 항목을 인용과 제한에 함께 넣을 수 없습니다.")
    if d.items_requested:
        outside = (set(d.items_granted) | set(d.items_withheld)) - set(d.items_requested)
        if outside:
            raise _items_invalid("items_granted", "요구하지 않은 항목이 들어 있습니다.")
    if d.outcome == Outcome.PARTIALLY_GRANTED and not (d.items_granted and d.items_withheld):
        raise _items_invalid(
            "items_withheld", "일부 인용에는 인용한 항목과 제한한 항목이 모두 있어야 합니다."
        )
    if d.outcome == Outcome.GRANTED and d.items_withheld:
        raise _items_invalid("items_withheld", "전부 인용하는 결정에는 제한 항목이 없습니다.")
    if d.outcome == Outcome.REFUSED and d.items_granted:
        raise _items_invalid("items_granted", "거절하는 결정에는 인용 항목이 없습니다.")


def _items_invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field, "inconsistent", message)])


# Art. 36(1) proviso: what another statute makes the controller keep is withheld from a
# deletion on this ground (and stored separately, art. 21(3)).
DELETION_HOLD_GROUND = "36-1-proviso"


@dataclass(frozen=True)
class DeletionSplit:
    granted: list[str]
    withheld: list[str]
    outcome: Outcome
    grounds: list[str]


def split_deletion(
    plans: Sequence[ItemPlan], *, outcome: Outcome, grounds: Sequence[str]
) -> DeletionSplit:
    """A deletion is decided by its retention plan: the outcome must match it, and kept items
    rest on the art. 36(1) proviso (added when the staff did not name it)."""
    granted = [p.item for p in plans if p.action == "delete"]
    withheld = [p.item for p in plans if p.action == "keep"]
    expected = (
        Outcome.GRANTED
        if not withheld
        else Outcome.REFUSED
        if not granted
        else Outcome.PARTIALLY_GRANTED
    )
    if outcome is not expected:
        raise BusinessRuleViolation(
            "retention_conflict",
            "outcome",
            f"보존 기간 확인 결과로는 '{expected.value}' 결정이어야 합니다"
            f"(지금 파기 {len(granted)}개, 법령에 따른 보관 {len(withheld)}개).",
        )
    cited = list(grounds)
    if withheld and DELETION_HOLD_GROUND not in cited:
        cited.append(DELETION_HOLD_GROUND)
    return DeletionSplit(granted, withheld, expected, cited)


def check_fee(*, fee_krw: int, postage_krw: int, method: str, caused_by_controller: bool) -> None:
    """Decree art. 47: actual cost only; postage only for a mailed copy; nothing at all when
    the controller caused the request."""
    if fee_krw < 0 or postage_krw < 0:
        raise _items_invalid("access.fee_krw", "수수료는 0원 이상이어야 합니다.")
    if postage_krw and method != "mail":
        raise BusinessRuleViolation(
            "fee_not_allowed", "access.postage_krw", "우송료는 사본을 우편으로 보낼 때만 받습니다."
        )
    if caused_by_controller and (fee_krw or postage_krw):
        raise BusinessRuleViolation(
            "fee_not_allowed",
            "access.fee_krw",
            "회사에 원인이 있는 요구에는 수수료와 우송료를 받지 않습니다(시행령 제47조제2항).",
        )


# Refusals, partial grants and every decision that destroys data need the officer (policy
# §6③1: destruction is approved by the 개인정보보호책임자).
_DESTROYS_DATA = frozenset({"deletion", "consent_withdrawal", "suspension"})


def needs_approval(request_type: str, outcome: Outcome, *, approval_for_all: bool) -> bool:
    if approval_for_all or outcome is not Outcome.GRANTED:
        return True
    return request_type in _DESTROYS_DATA


def postponement_allowed(request_type: str, *, today: date, legal_due_on: date) -> str | None:
    """Art. 35(3), Decree art. 42(2): access only, and notified before the deadline passes.
    Returns why not, or None."""
    if request_type != "access":
        return "열람 연기는 열람 요구에만 할 수 있습니다(개인정보 보호법 제35조제3항)."
    if today > legal_due_on:
        return "처리기한이 지난 뒤에는 열람을 연기할 수 없습니다(시행령 제42조제2항)."
    return None


def objection_allowed(parent_status: Status, parent_outcome: Outcome | None) -> bool:
    """Art. 38(5): an objection lies against a partial grant or a refusal (rule 27)."""
    return parent_status == Status.COMPLETED and parent_outcome in (
        Outcome.PARTIALLY_GRANTED,
        Outcome.REFUSED,
    )
