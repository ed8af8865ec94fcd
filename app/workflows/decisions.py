"""What the team may decide, on which legal ground, and who must approve it. Pure.

PIPA art. 35(4) (access), art. 36(1) proviso (deletion), art. 37(2) (suspension and consent
withdrawal); Decree arts. 41(5), 42, 43(3), 44(2), 47; law rules 6-18 and 26-28.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from app.errors import BusinessRuleViolation, FieldError, InvalidTransition, ValidationFailed
from app.models.vocab import DecisionState
from app.workflows.grounds import GROUNDS
from app.workflows.intake import unknown_item
from app.workflows.lifecycle import Outcome, Status
from app.workflows.retention import STATUTORY_HOLD_GROUND, WITHDRAWAL_HOLD_GROUND, ItemPlan


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


def applicable_grounds(request_type: str, *, public_institution: bool) -> list[str]:
    """The ground codes a decision on this type may cite for this controller (the catalog's
    table; public-institution grounds only for a public institution)."""
    return [
        g.code
        for g in GROUNDS.values()
        if request_type in g.applies_to and (public_institution or not g.public_only)
    ]


def _not_applicable(code: str | None, message: str, allowed: Sequence[str]) -> FieldError:
    # The field stays `grounds` (the contract's); `value` names the ground refused.
    names = ", ".join(allowed) or "없음"
    text = f"{code + ': ' if code else ''}{message} 이 요구 유형에 쓸 수 있는 근거: {names}"
    return FieldError("grounds", "ground_not_applicable", text, tuple(allowed), value=code)


# Which outcomes each request type may take (api.md "Outcomes, completed"). `no_data_held`
# answers any filed type (nothing of this subject is held); `unchanged` is a correction's
# answer when the data was checked and is accurate (art. 36(2): correct what is wrong). An
# objection is upheld or not (art. 38(5)).
_FILED_OUTCOMES = frozenset(
    {Outcome.GRANTED, Outcome.PARTIALLY_GRANTED, Outcome.REFUSED, Outcome.NO_DATA_HELD}
)
OUTCOMES_BY_TYPE: dict[str, frozenset[Outcome]] = {
    "access": _FILED_OUTCOMES,
    "correction": _FILED_OUTCOMES | {Outcome.UNCHANGED},
    "deletion": _FILED_OUTCOMES,
    "suspension": _FILED_OUTCOMES,
    "consent_withdrawal": _FILED_OUTCOMES,
    "objection": frozenset({Outcome.GRANTED, Outcome.REFUSED}),
    # Art. 37-2: done, refused on a ground, or no such decision about the subject.
    "automated_decision_refusal": frozenset(
        {Outcome.GRANTED, Outcome.REFUSED, Outcome.NO_DATA_HELD}
    ),
    "automated_decision_explanation": frozenset(
        {Outcome.GRANTED, Outcome.REFUSED, Outcome.NO_DATA_HELD}
    ),
    "automated_decision_review": frozenset(
        {Outcome.GRANTED, Outcome.REFUSED, Outcome.NO_DATA_HELD}
    ),
}

# Outcomes that rest on no ground of refusal: nothing is withheld under art. 35(4), 36(1)
# or 37(2) (a full grant; nothing held; accurate data left as it is).
_NO_GROUNDS = frozenset({Outcome.GRANTED, Outcome.NO_DATA_HELD, Outcome.UNCHANGED})


def check_outcome(request_type: str, outcome: Outcome) -> None:
    allowed = OUTCOMES_BY_TYPE.get(request_type, _FILED_OUTCOMES)
    if outcome not in allowed:
        values = tuple(o.value for o in Outcome if o in allowed)
        msg = f"이 요구 유형에 쓸 수 있는 결정은 {', '.join(values)}입니다."
        raise ValidationFailed(
            msg, errors=[FieldError("outcome", "not_applicable", msg, values, value=outcome.value)]
        )


def check_grounds(d: DraftDecision, *, public_institution: bool) -> None:
    """A refusal or partial grant cites at least one ground that fits the request (rules 8,
    12, 16); a full grant, `no_data_held` and `unchanged` cite none."""
    if d.outcome in _NO_GROUNDS:
        if d.grounds:
            msg = "이 결정에는 제한·거절 사유(법적 근거)를 적지 않습니다."
            raise ValidationFailed(msg, errors=[FieldError("grounds", "not_applicable", msg)])
        return
    errors = ground_errors(d, public_institution=public_institution)
    if errors:
        raise BusinessRuleViolation(
            "ground_not_applicable", errors[0].field, errors[0].message, errors=errors
        )


def ground_errors(d: DraftDecision, *, public_institution: bool) -> list[FieldError]:
    """Every cited ground that does not fit, each naming the grounds that do (one answer)."""
    allowed = applicable_grounds(d.request_type, public_institution=public_institution)
    if d.outcome in _NO_GROUNDS:
        return []
    if not d.grounds:
        msg = "일부 인용이나 거절에는 법적 근거를 하나 이상 적어야 합니다."
        return [_not_applicable(None, msg, allowed)]
    errors = []
    for code in d.grounds:
        ground = GROUNDS.get(code)
        if ground is None:
            # An unknown code is named back only when it has a code's shape.
            shown = code if _GROUND_SHAPE.fullmatch(code) else "?"
            errors.append(_not_applicable(shown, "알 수 없는 근거입니다.", allowed))
        elif ground.public_only and not public_institution:
            # Art. 35(4)3 and 37(2)3 are for public institutions only.
            errors.append(_not_applicable(code, "공공기관만 쓸 수 있는 근거입니다.", allowed))
        elif d.request_type not in ground.applies_to:
            msg = "이 요구 유형에는 적용되지 않는 근거입니다."
            errors.append(_not_applicable(code, msg, allowed))
        elif ground.requires_no_termination and d.subject_stated_termination is not False:
            # Art. 37(2)4: only while the subject has not clearly stated termination.
            msg = (
                "정보주체가 계약 해지 의사를 밝히지 않았다는 기록"
                "(subject_stated_termination: false)이 있어야 합니다."
            )
            errors.append(_not_applicable(code, msg, allowed))
    return errors


_GROUND_SHAPE = re.compile(r"[0-9]{2}(-[0-9a-z]{1,12}){1,4}")


def requested_items(
    named: Sequence[str],
    service_items: Sequence[str],
    correction_item: str | None = None,
    *,
    correction: bool = False,
) -> list[str]:
    """What the decision must account for (api.md "Outcomes, completed"): the items the
    subject named; for a correction naming none, the item to correct when the catalog knows
    it; otherwise every item of the service. A correction described only in words (a chat, a
    letter) names no item: none is returned, and staff name the items the words concern."""
    if named:
        return list(dict.fromkeys(named))
    if correction_item is not None and correction_item in service_items:
        return [correction_item]
    return [] if correction else list(service_items)


def unknown_item_errors(d: DraftDecision, service_items: frozenset[str]) -> list[FieldError]:
    """Every granted or withheld item the service does not process, each named."""
    return [
        unknown_item(f"{field}.{i}", item, service_items).errors[0]
        for field, items in (
            ("items_granted", d.items_granted),
            ("items_withheld", d.items_withheld),
        )
        for i, item in enumerate(items)
        if item not in service_items
    ]


@dataclass(frozen=True)
class ItemsDecided:
    granted: list[str]
    withheld: list[str]


def check_items(d: DraftDecision, service_items: frozenset[str]) -> ItemsDecided:
    """Decree art. 42(1) (law rule 9): only what falls under a ground is withheld, and the rest
    is provided, so a decision accounts for every requested item (`d.items_requested`, as
    `requested_items` gives them). A full grant that names no items grants them all."""
    unknown = unknown_item_errors(d, service_items)
    if unknown:
        raise BusinessRuleViolation(
            "unknown_item", unknown[0].field, unknown[0].message, errors=unknown
        )
    granted, withheld = list(d.items_granted), list(d.items_withheld)
    if set(granted) & set(withheld):
        raise _items_invalid("items_withheld", "같은 항목을 인용과 제한에 함께 넣을 수 없습니다.")
    described_only = not d.items_requested  # a correction in words: staff name the items
    if not described_only and (set(granted) | set(withheld)) - set(d.items_requested):
        raise _items_invalid("items_granted", "요구하지 않은 항목이 들어 있습니다.")
    if d.outcome in (Outcome.NO_DATA_HELD, Outcome.UNCHANGED):
        if granted or withheld:
            raise _items_invalid("items_granted", "이 결정에는 인용·제한 항목이 없습니다.")
        return ItemsDecided([], [])
    if d.outcome == Outcome.GRANTED:
        if withheld:
            raise _items_invalid("items_withheld", "전부 인용하는 결정에는 제한 항목이 없습니다.")
        granted = granted or list(d.items_requested)
        if not granted:
            raise _invalid_required("items_granted", "정정한 항목을 items_granted에 적어 주세요.")
    if d.outcome == Outcome.REFUSED and granted:
        raise _items_invalid("items_granted", "거절하는 결정에는 인용 항목이 없습니다.")
    if d.outcome == Outcome.PARTIALLY_GRANTED and not (granted and withheld):
        raise _items_invalid(
            "items_withheld", "일부 인용에는 인용한 항목과 제한한 항목이 모두 있어야 합니다."
        )
    # A refusal naming no items refuses everything requested.
    if not described_only and not (d.outcome == Outcome.REFUSED and not withheld):
        _check_accounted(d.outcome, d.items_requested, granted, withheld)
    return ItemsDecided(granted, withheld)


def _check_accounted(
    outcome: Outcome, requested: Sequence[str], granted: Sequence[str], withheld: Sequence[str]
) -> None:
    """Law rule 9: items_granted ∪ items_withheld equals the requested items; 422
    `items_unaccounted` with one entry per missing item, naming it."""
    missing = [i for i in requested if i not in set(granted) | set(withheld)]
    if not missing:
        return
    field = "items_granted" if outcome == Outcome.GRANTED else "items_withheld"
    errors = [
        FieldError(field, "items_unaccounted", f"'{item}': 인용하거나 제한할 항목에 넣어 주세요.")
        for item in missing
    ]
    exc = BusinessRuleViolation(
        "items_unaccounted",
        field,
        f"요구받은 항목 {len(missing)}개의 결정이 빠졌습니다({', '.join(missing)}): "
        "요구받은 모든 항목을 인용 또는 제한 중 하나에 넣어 주세요(시행령 제42조제1항).",
    )
    exc.errors = errors
    raise exc


def _invalid_required(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field, "required", message)])


def _items_invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field, "inconsistent", message)])


def access_after_deadline(available_on: date, legal_due_on: date) -> bool:
    """Decree art. 41(5): access is given within the period (until 24:00 KST of its last
    day); a later date is a postponement (art. 35(3)), with its own notice and reason."""
    return available_on > legal_due_on


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
    return _split(granted, withheld, [DELETION_HOLD_GROUND] if withheld else [], outcome, grounds)


def split_withdrawal(
    plans: Sequence[ItemPlan],
    unreached: Sequence[tuple[str, str]],
    *,
    outcome: Outcome,
    grounds: Sequence[str],
    withheld_by_staff: Sequence[str] = (),
) -> DeletionSplit:
    """A consent withdrawal (art. 37(3)) is decided by its retention plan over the consent-based
    items, plus the named items it does not reach (`unreached`: item code and basis). Whatever
    is left rests on art. 37(3) proviso with the art. 37(2) ground that fits: a statutory duty
    (37(2)1) or the subject's contract (37(2)4). Staff may withhold more of the destroyable
    items on a ground they cite (e.g. 37(2)2); a refusal naming none withholds them all."""
    destroyable = [p.item for p in plans if p.action == "delete"]
    extra = [i for i in withheld_by_staff if i in destroyable]
    if outcome is Outcome.REFUSED and not withheld_by_staff:
        extra = destroyable
    granted = [i for i in destroyable if i not in extra]
    kept = [p.item for p in plans if p.action == "keep"]
    needed = [STATUTORY_HOLD_GROUND] if kept else []
    needed += [WITHDRAWAL_HOLD_GROUND[basis] for _, basis in unreached]
    withheld = kept + [code for code, _ in unreached] + extra
    return _split(granted, withheld, list(dict.fromkeys(needed)), outcome, grounds)


def _split(
    granted: list[str],
    withheld: list[str],
    needed: list[str],
    outcome: Outcome,
    grounds: Sequence[str],
) -> DeletionSplit:
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
            f"보존 기간과 처리 근거를 확인한 결과로는 '{expected.value}' 결정이어야 합니다"
            f"(지금 파기 {len(granted)}개, 보관 {len(withheld)}개).",
        )
    cited = list(grounds)
    cited += [g for g in needed if g not in cited]
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
    """Everything but a full grant needs the officer: a refusal and a partial grant (policy
    §6③1), `unchanged` like a refusal (api.md), and `no_data_held`, which ends the request
    with nothing given (docs/decisions.md); a grant too when it destroys or stops data."""
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


# Art. 38(5), law rule 27: every outcome that leaves the subject short of what was asked, and
# whose notice therefore offers the objection method.
OBJECTABLE: frozenset[Outcome] = frozenset(
    {Outcome.PARTIALLY_GRANTED, Outcome.REFUSED, Outcome.NO_DATA_HELD, Outcome.UNCHANGED}
)

# Art. 38(5) ("거절 등 조치"), Decree 42(2): a postponement of access and a rejection for
# unproven identity or authority (Decree 46(1)) are measures against the request too, and
# their notices (form No. 9's 열람연기; the identity notice) print the objection method.
OBJECTABLE_STATUSES: frozenset[Status] = frozenset({Status.POSTPONED, Status.REJECTED})


def objection_allowed(parent_status: Status, parent_outcome: Outcome | None) -> bool:
    """Art. 38(5): an objection lies against a partial grant, a refusal, `no_data_held` and
    `unchanged` (rule 27), a postponement and an identity rejection: every notice that
    prints the objection method."""
    if parent_status in OBJECTABLE_STATUSES:
        return True
    return parent_status == Status.COMPLETED and parent_outcome in OBJECTABLE
