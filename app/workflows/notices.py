"""What each message to a requester says: the facts, checked and formatted for the templates.

Pure: no clock, no files, no environment. `notice_context` turns the facts of one notice and the
policy in force into a flat dict of ready-to-print Korean values; the sentences themselves live
in app/templates/notices (rendered by app.services.notices.render). A notice the law requires to say
something (a reason, a ground, an objection method, a statute) cannot be built without it:
a missing or malformed `extra` value raises ValueError naming the key (the models of
app.workflows.notice_extras).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.models.vocab import AUTOMATED_DECISION_TYPES, GRANTING, TYPE_LABELS_KO
from app.policy import Contact, Policy, Service
from app.workflows import automated
from app.workflows.deadlines import KST, period_for
from app.workflows.grounds import GROUNDS
from app.workflows.lifecycle import Outcome
from app.workflows.notice_extras import (
    AccessCodeExtra,
    AccessResultExtra,
    ActionResultExtra,
    AutomatedDecisionResultExtra,
    ClinicResultExtra,
    DeadlineExtensionExtra,
    DuplicateClosedExtra,
    IdentityRejectedExtra,
    InfoRequestExtra,
    NoticeExtra,
    NoticeKind,
    ObjectionReceiptExtra,
    ObjectionResultExtra,
    PostponementExtra,
    ReceiptExtra,
    StatusUpdateExtra,
    SuspensionFollowupExtra,
    VerificationCodeExtra,
    WithdrawalExtra,
    parse_extra,
)
from app.workflows.remedies import objection_method, remedy_lines


@dataclass(frozen=True)
class NoticeFacts:
    """The facts of one notice about one request.

    `extra` holds what only the kind needs: its model from app.workflows.notice_extras, or
    a mapping validated into it when the context is built (`parse_extra`).

    Never put the requester's access code in `extra`: notice_context refuses it.
    """

    reference: str
    request_type: str
    service_code: str
    received_at: datetime  # tz-aware
    legal_due_on: date
    recipient_name: str | None = None
    # The deadline reached past the confirmed holiday calendar (law rule 5): the notice says
    # the date may still move when the government designates holidays for that year.
    deadline_unconfirmed: bool = False
    # Filed by staff from a letter, call or fax: the access code reached the requester through
    # staff, not on a screen, and the notice must say so.
    filed_by_staff: bool = False
    # Filed in a Channel Talk chat: the requester hears back in the chat, has no access code
    # and types one-time codes into the chat.
    chat: bool = False
    extra: NoticeExtra | Mapping[str, Any] = field(default_factory=dict)
    # The day the notice is written (KST): the body carries it, as a signed letter does.
    written_on: date | None = None

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None or self.received_at.utcoffset() is None:
            raise ValueError("received_at must be timezone-aware")


__all__ = [
    "CHAT_NEXT_ACTIONS",
    "NEXT_ACTIONS",
    "NoticeExtra",
    "NoticeFacts",
    "NoticeKind",
    "date_text",
    "fee_text",
    "kst_datetime_text",
    "notice_context",
    "parse_extra",
    "pick_contact",
    "postage_text",
]

_WEEKDAYS_KO = "월화수목금토일"

# The period each type is counted under, where a statute fixes one. Consent withdrawal (art.
# 37(3): 지체 없이) and objections (art. 38(5): no period) run on the company's own cap instead.
_DEADLINE_BASIS = {
    "access": "개인정보 보호법 시행령 제41조제4항",
    "correction": "개인정보 보호법 시행령 제43조제3항",
    "deletion": "개인정보 보호법 시행령 제43조제3항",
    "suspension": "개인정보 보호법 시행령 제44조제2항",
    "automated_decision_refusal": "개인정보 보호법 시행령 제44조의3",
    "automated_decision_explanation": "개인정보 보호법 시행령 제44조의3",
    "automated_decision_review": "개인정보 보호법 시행령 제44조의3",
}

# Receipt: what the requester does next, by intake.next_action; the sentences are in
# app/templates/notices/_next_steps.txt.j2 (an SMS only points to the status page). A chat
# request has no status page and no access code, so it has steps of its own.
NEXT_ACTIONS: tuple[str, ...] = (
    "verify_contact",  # Decree art. 46(1): the subject proves control of the contact given
    # Decree art. 45(2) / 46(1): an agent shows their authority and identity.
    "submit_identity_document",
    "submit_proof_of_representation",
    "submit_power_of_attorney",
    "provide_information",
    "wait",
    "none",
)
CHAT_NEXT_ACTIONS: tuple[str, ...] = (
    "verify_contact",
    "verify_by_staff",
    "provide_information",
    "wait",
    "none",
)

_ACTION_TYPES = frozenset({"correction", "deletion", "suspension", "consent_withdrawal"})
# Transmission (art. 35-2) has no prescribed form; its result reads like form No. 10.
_ACTION_TYPES |= {"transmission"}


def pick_contact(people: Sequence[tuple[bool, bool]], notify_by: str) -> tuple[int, str] | None:
    """Whoever filed hears back: the representative when one filed, else the subject; on the
    chosen channel if that person has it, otherwise on the other.

    `people`: (has e-mail, has phone) of the requester, if any, then the subject. Returns the
    index of the person and the channel."""
    prefer = ["sms", "email"] if notify_by == "sms" else ["email", "sms"]
    for channel in prefer:
        for i, (email, phone) in enumerate(people):
            if email if channel == "email" else phone:
                return i, channel
    return None


def date_text(d: date) -> str:
    """2026-12-28 -> "2026년 12월 28일(월)"."""
    return f"{d.year}년 {d.month}월 {d.day}일({_WEEKDAYS_KO[d.weekday()]})"


def kst_datetime_text(instant: datetime) -> str:
    """An aware instant in Korea time: "2026년 12월 15일(화) 10:00"."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be timezone-aware")
    local = instant.astimezone(KST)
    return f"{date_text(local.date())} {local:%H:%M}"


def fee_text(fee_krw: int) -> str:
    # Decree art. 47(1): a fee, if any, stays within actual cost; 0 means nothing is charged.
    return "수수료 없음" if fee_krw == 0 else f"{fee_krw:,}원"


def postage_text(postage_krw: int) -> str:
    # Art. 38(3): postage only where a mailed copy was asked for, shown apart from the fee.
    return "우송료 없음" if postage_krw == 0 else f"{postage_krw:,}원"


def notice_context(kind: NoticeKind, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    """Everything the `kind` templates print, formatted in Korean (`extra` checked by
    app.workflows.notice_extras.parse_extra)."""
    kind = NoticeKind(kind)
    extra = parse_extra(kind, facts.extra)
    context = _common(kind, extra, facts, policy)
    context.update(_by_kind(extra, facts, policy))
    return context


def _common(
    kind: NoticeKind, extra: NoticeExtra, facts: NoticeFacts, policy: Policy
) -> dict[str, Any]:
    label = TYPE_LABELS_KO.get(facts.request_type)
    if label is None:
        raise ValueError(f"unknown request type: {facts.request_type!r}")
    service = _service(policy, facts.service_code)
    local = facts.received_at.astimezone(KST)
    contact = _contact(policy, policy.rights.intake_contact)
    status_url = extra.status_url
    return {
        "kind": kind.value,
        "reference": facts.reference,
        # The sender is the legal person (the 개인정보처리자); the unit acts for it.
        "controller_name": policy.controller.name,
        "controller_unit": policy.controller.unit,
        "written_on_text": date_text(facts.written_on) if facts.written_on else None,
        # Only the name, as "○○○ 님"; nothing else personal goes into a notice.
        "recipient": f"{facts.recipient_name.strip()} 님" if facts.recipient_name else "고객님",
        "type_code": facts.request_type,
        "type_label": label,
        "request_name": _request_name(facts.request_type, label),
        "service_name": service.name,
        "received_at_text": kst_datetime_text(facts.received_at),
        # 민법 제157조 단서: a period starting at 00:00 counts its first day.
        "received_at_midnight": (local.hour, local.minute, local.second, local.microsecond)
        == (0, 0, 0, 0),
        "legal_due_text": date_text(facts.legal_due_on),
        "deadline_unconfirmed": facts.deadline_unconfirmed,
        "period_days": period_for(facts.request_type),
        "deadline_basis": _DEADLINE_BASIS.get(facts.request_type),
        "contact": contact,
        "status_url": status_url or None,
        "filed_by_staff": facts.filed_by_staff,
        "chat": facts.chat,
        "objection_method": objection_method(policy, include_remedies=False, chat=facts.chat),
        "remedies": remedy_lines(policy),
    }


def _request_name(request_type: str, label: str) -> str:
    if request_type == "consent_withdrawal":
        return "개인정보 처리 동의 철회"  # art. 37(1) withdraws consent; nothing is "demanded"
    if request_type == "objection":
        return "이의제기"
    if request_type in AUTOMATED_DECISION_TYPES:
        return f"{label} 요구"  # art. 37-2: about a decision, not about the data itself
    return f"개인정보 {label} 요구"  # the statute's 열람ㆍ정정ㆍ삭제ㆍ처리정지 "요구"


def _service(policy: Policy, code: str) -> Service:
    service = policy.service(code)
    if service is None:
        raise ValueError(f"unknown service: {code!r}")
    return service


def _contact(policy: Policy, code: str) -> dict[str, str | None]:
    contact: Contact | None = policy.contact(code)
    assert contact is not None  # Policy validation guarantees rights.* references
    return {
        "department": contact.department or contact.role,
        "email": contact.email,
        "phone": contact.phone,
    }


def _items(policy: Policy, service_code: str, codes: Sequence[str], key: str) -> list[str]:
    service = _service(policy, service_code)
    names = []
    for code in codes:
        item = service.item(code)
        if item is None:
            raise ValueError(f"extra[{key!r}]: unknown item {code!r} of service {service_code!r}")
        parts = f"({', '.join(item.components)})" if item.components else ""
        names.append(item.name + parts)
    return names


def _grounds(policy: Policy, request_type: str, codes: Sequence[str]) -> list[dict[str, Any]]:
    grounds = []
    for code in codes:
        ground = GROUNDS.get(code)
        if ground is None:
            raise ValueError(f"extra['grounds']: unknown ground {code!r}")
        if request_type not in ground.applies_to:
            raise ValueError(f"extra['grounds']: {code!r} does not apply to {request_type!r}")
        if ground.public_only and not policy.controller.public_institution:
            raise ValueError(f"extra['grounds']: {code!r} is for public institutions only")
        grounds.append(
            {
                "code": code,
                "article": ground.article,
                "text": ground.text_ko,
                "verbatim": ground.verbatim,
            }
        )
    return grounds


def _require_type(kind: NoticeKind, facts: NoticeFacts, allowed: frozenset[str]) -> None:
    if facts.request_type not in allowed:
        raise ValueError(f"{kind} notice does not apply to a {facts.request_type!r} request")


def _receipt(x: ReceiptExtra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    steps = CHAT_NEXT_ACTIONS if facts.chat else NEXT_ACTIONS
    if x.next_action not in steps:
        allowed = ", ".join(steps)
        raise ValueError(
            f"{x.kind} notice: extra['next_action'] must be one of {allowed}"
            f" (got {x.next_action!r})"
        )
    return {
        "next_action": x.next_action,
        "clinic_name": x.clinic_name,
        "clinic_contact": x.clinic_contact,
        "medical_records": x.medical_records,
    }


def _info_request(x: InfoRequestExtra) -> dict[str, Any]:
    return {
        "message": x.message,
        "respond_by_text": date_text(x.respond_by) if x.respond_by else None,
    }


def _postponement(x: PostponementExtra, facts: NoticeFacts) -> dict[str, Any]:
    # Art. 35(3) exists for access only. Decree art. 42(2): the notice states the reason and the
    # objection method (both always in the context; the template prints them).
    _require_type(x.kind, facts, frozenset({"access"}))
    return {
        "reason": x.reason,
        "expected_end_text": date_text(x.expected_end) if x.expected_end else None,
    }


def _access_result(x: AccessResultExtra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    # The model has checked what each outcome needs (Decree arts. 41(5), 42); here the items
    # and grounds are named from the policy.
    _require_type(x.kind, facts, frozenset({"access"}))
    context: dict[str, Any] = {
        "outcome": x.outcome.value,
        "items_granted": [],
        "items_withheld": [],
        "grounds": [],
        "reason": None,
        "method": None,
        "available_at_text": None,
        "place": None,
        "fee_krw": 0,
        "fee_text": None,
        "postage_krw": 0,
        "postage_text": None,
        "package_expires_text": None,
    }
    if x.outcome in GRANTING:
        assert x.method is not None and x.fee_krw is not None
        context.update(
            items_granted=_items(policy, facts.service_code, x.items_granted, "items_granted"),
            method=x.method.value,
            available_at_text=kst_datetime_text(x.available_at) if x.available_at else None,
            place=x.place,
            fee_krw=x.fee_krw,
            fee_text=fee_text(x.fee_krw),
            postage_krw=x.postage_krw or 0,
            postage_text=postage_text(x.postage_krw or 0) if x.method.value == "mail" else None,
            package_expires_text=(
                kst_datetime_text(x.package_expires_at) if x.package_expires_at else None
            ),
        )
    if x.outcome in (Outcome.PARTIALLY_GRANTED, Outcome.REFUSED):
        context.update(
            items_withheld=_items(policy, facts.service_code, x.items_withheld, "items_withheld"),
            grounds=_grounds(policy, facts.request_type, x.grounds),
            reason=x.reason,
        )
    if x.outcome is Outcome.NO_DATA_HELD:
        context["reason"] = x.reason
    context.update(_pseudonymized(x, facts, policy))
    return context


def _pseudonymized(
    x: AccessResultExtra | ActionResultExtra, facts: NoticeFacts, policy: Policy
) -> dict[str, list[str]]:
    """Art. 28-7: the names of the pseudonymized items and holders the request was not applied
    to (the template says why)."""
    service = _service(policy, facts.service_code)
    holders = []
    for code in x.pseudonymized_holders:
        holder = service.holder(code)
        if holder is None:
            raise ValueError(f"extra['pseudonymized_holders']: unknown holder {code!r}")
        holders.append(holder.name)
    return {
        "pseudonymized": _items(policy, facts.service_code, x.pseudonymized, "pseudonymized"),
        "pseudonymized_holders": holders,
    }


def _action_result(x: ActionResultExtra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    _require_type(x.kind, facts, _ACTION_TYPES)
    context: dict[str, Any] = {
        "outcome": x.outcome.value,
        "action": None,
        "grounds": [],
        "reason": None,
        "statute": None,
        "proviso_36_1": False,
    }
    if x.outcome is Outcome.UNCHANGED and facts.request_type != "correction":
        raise ValueError(f"{x.kind} notice: unchanged is an outcome of a correction only")
    if x.outcome in GRANTING:
        context["action"] = x.action
    if x.outcome in (Outcome.NO_DATA_HELD, Outcome.UNCHANGED):
        context["reason"] = x.reason
    if x.outcome in (Outcome.PARTIALLY_GRANTED, Outcome.REFUSED):
        context.update(
            grounds=_grounds(policy, facts.request_type, x.grounds),
            reason=x.reason,
            statute=x.statute,
            proviso_36_1="36-1-proviso" in x.grounds,
        )
    context.update(_pseudonymized(x, facts, policy))
    return context


def _objection_result(x: ObjectionResultExtra, facts: NoticeFacts) -> dict[str, Any]:
    _require_type(x.kind, facts, frozenset({"objection"}))
    return {
        "outcome": x.outcome.value,
        "reason": x.reason,
        "objected_reference": x.objected_reference,
        "reopened_reference": x.reopened_reference,
    }


def _suspension_followup(
    x: SuspensionFollowupExtra, facts: NoticeFacts, policy: Policy
) -> dict[str, Any]:
    # Art. 37(5): only a suspension has this follow-up.
    _require_type(NoticeKind.SUSPENSION_FOLLOWUP, facts, frozenset({"suspension"}))
    return {
        "destroyed": _items(policy, facts.service_code, x.destroyed, "destroyed"),
        "kept": _items(policy, facts.service_code, x.kept, "kept"),
        "kept_reason": x.kept_reason,
    }


def _automated_result(
    x: AutomatedDecisionResultExtra, facts: NoticeFacts, policy: Policy
) -> dict[str, Any]:
    # Art. 37-2; Decree art. 44-3(2): the explanation's three items, named from the policy.
    _require_type(x.kind, facts, AUTOMATED_DECISION_TYPES)
    decision = policy.automated_decision(x.decision) if x.decision else None
    if x.decision and decision is None:
        raise ValueError(f"extra['decision']: unknown automated decision {x.decision!r}")
    return {
        "outcome": x.outcome.value,
        "decision_name": decision.name if decision else None,
        "measure": x.measure,
        "measure_text": automated.MEASURE_KO.get(x.measure or ""),
        "result": x.result,
        "criteria": x.criteria,
        "data_types": _items(policy, facts.service_code, x.data_types, "data_types"),
        "grounds": _grounds(policy, facts.request_type, x.grounds)
        if x.outcome is Outcome.REFUSED
        else [],
        "reason": x.reason,
    }


def _objection_receipt(x: ObjectionReceiptExtra) -> dict[str, Any]:
    return {
        "objection_reference": x.objection_reference,
        "objection_due_text": date_text(x.objection_due_on),
        "objection_period_days": x.period_days or period_for("objection"),
    }


def _by_kind(x: NoticeExtra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    """The context of the kind's own values (`x` is already the kind's model)."""
    match x:
        case ReceiptExtra():
            return _receipt(x, facts, policy)
        case VerificationCodeExtra():
            return {"code": x.code, "valid_minutes": x.valid_minutes}
        case AccessCodeExtra():
            return {"new_code": x.new_code}
        case InfoRequestExtra():
            return _info_request(x)
        case PostponementExtra():
            return _postponement(x, facts)
        case AccessResultExtra():
            return _access_result(x, facts, policy)
        case ActionResultExtra():
            return _action_result(x, facts, policy)
        case WithdrawalExtra():
            return {"withdrawn_at_text": kst_datetime_text(x.withdrawn_at)}
        case StatusUpdateExtra():
            return {"message": x.message}
        case SuspensionFollowupExtra():
            return _suspension_followup(x, facts, policy)
        case IdentityRejectedExtra():
            return {"reason": x.reason}
        case DuplicateClosedExtra():
            return {"continuing_reference": x.continuing_reference}
        case ObjectionResultExtra():
            return _objection_result(x, facts)
        case ObjectionReceiptExtra():
            return _objection_receipt(x)
        case ClinicResultExtra():
            return {
                "instruction": x.instruction,
                "clinic_name": x.clinic_name,
                "clinic_contact": x.clinic_contact,
                "reason": x.reason,
                "items_done": x.items_done,
                "method": x.method,
                "package_expires_text": (
                    kst_datetime_text(x.package_expires_at) if x.package_expires_at else None
                ),
                "clinic_due_text": date_text(x.clinic_due_on) if x.clinic_due_on else None,
            }
        case DeadlineExtensionExtra():
            _require_type(x.kind, facts, AUTOMATED_DECISION_TYPES)
            return {
                "reason": x.reason,
                "previous_due_text": date_text(x.previous_due_on),
                "new_due_text": date_text(x.new_due_on),
                "extension_number": x.number,
                "extension_ordinal": automated.ORDINAL_KO.get(x.number, f"{x.number}번째"),
                "max_extensions": automated.MAX_EXTENSIONS,
            }
        case AutomatedDecisionResultExtra():
            return _automated_result(x, facts, policy)
