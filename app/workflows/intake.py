"""Who may file what: the rules checked when a request arrives. Pure: no clock, no I/O."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.core.text import normalize
from app.errors import BusinessRuleViolation, FieldError, ValidationFailed
from app.models.request_api import RequestCreate
from app.models.vocab import SCOPE_FOR_TYPE, NotifyBy, Relationship
from app.workflows import rrn, transmission

# PIPA art. 38(2) and the Carelabs policy §7①※: under 14, only a legal representative files.
CHILD_AGE_LIMIT = 14


@dataclass(frozen=True)
class IntakeLimits:
    max_text_chars: int
    max_items: int
    # False when the configured e-mail delivery cannot carry a non-ASCII mailbox name
    # (Settings.utf8_mailboxes): such an address is refused rather than never written to.
    utf8_mailboxes: bool = True


def age_on(birth_date: date, on: date) -> int:
    """Age in full years (만 나이) on a day; a 29 February birthday completes on 1 March."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - int(before_birthday)


# A value shaped like a catalog code: it may be named back in an error (free text never is).
_CODE_SHAPE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def unknown_item(field: str, item: str, item_codes: Iterable[str]) -> BusinessRuleViolation:
    """`unknown_item` naming the refused item (when it has a code's shape) and the service's
    items (GET /v1/catalog)."""
    named = item if _CODE_SHAPE.fullmatch(item) else None
    head = f"'{named}'은(는) " if named else ""
    return BusinessRuleViolation(
        "unknown_item",
        field,
        f"{head}이 서비스에서 처리하지 않는 개인정보 항목입니다. "
        "항목 코드는 GET /v1/catalog의 이 서비스 항목 중 하나여야 합니다.",
        allowed=sorted(item_codes),
        value=named,
    )


def catalog_errors(
    raw: Mapping[str, Any],
    skip: Collection[str],
    *,
    services: Collection[str],
    item_codes: Callable[[str], frozenset[str]],
) -> list[FieldError]:
    """The catalog rules (`unknown_service`, `unknown_item`) on a filing body that failed
    validation elsewhere, so one answer names every problem. Fields in `skip` (those with
    validation errors) and values of the wrong type are left to the validation errors."""
    service = raw.get("service")
    if "service" in skip or not isinstance(service, str):
        return []
    if service not in services:
        msg = "개인정보 처리방침에 없는 서비스입니다."
        return [FieldError("service", "unknown_service", msg, tuple(services))]
    codes = item_codes(service)
    errors = []
    items = raw.get("items")
    if "items" not in skip and isinstance(items, list):
        errors += [
            unknown_item(f"items.{i}", item, codes).errors[0]
            for i, item in enumerate(items)
            if isinstance(item, str) and item not in codes
        ]
    correction = raw.get("correction")
    if "correction" not in skip and isinstance(correction, dict):
        item = correction.get("item")
        if isinstance(item, str) and item not in codes:
            errors.append(unknown_item("correction.item", item, codes).errors[0])
    return errors


def _invalid(field: str, code: str, message: str, limit: int | None = None) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field, code, message, limit=limit)])


def check_intake(
    payload: RequestCreate,
    *,
    received_on: date,
    item_codes: frozenset[str] | None,
    limits: IntakeLimits,
    collects_birth_date: bool = True,
    transmission_from: date | None = None,
) -> None:
    """Raise the first rule the request breaks; `item_codes` is None for an unknown service.
    `collects_birth_date`: whether the service collected birth dates (policy);
    `transmission_from`: the day the controller became a 정보전송자 (policy), if any."""
    transmission.check_transmission(
        payload, received_on=received_on, transmission_from=transmission_from
    )
    _check_payload(payload, received_on=received_on, limits=limits)
    if item_codes is None:
        raise BusinessRuleViolation(
            "unknown_service", "service", "개인정보 처리방침에 없는 서비스입니다."
        )
    _check_birth_date(payload, collects_birth_date)
    for i, item in enumerate(payload.items):
        if item not in item_codes:
            raise unknown_item(f"items.{i}", item, item_codes)
    if payload.correction and payload.correction.item not in item_codes:
        raise unknown_item("correction.item", payload.correction.item, item_codes)
    if payload.access_scope and payload.type != "access":
        # Decree art. 41(1) 1-5 are the parts of an access request only.
        raise BusinessRuleViolation(
            "access_scope_not_applicable", "access_scope", "열람 범위는 열람 요구에만 고릅니다."
        )
    _check_authority(payload, received_on=received_on)
    _check_contact(payload)
    if not limits.utf8_mailboxes:
        _check_mailboxes(payload)


def check_receipt_time(received_at: datetime, *, now: datetime) -> None:
    """Staff record when a letter, fax or call arrived; that cannot be later than now."""
    if received_at > now:
        raise _invalid("received_at", "future_date", "접수 시각은 미래일 수 없습니다.")


def _check_payload(payload: RequestCreate, *, received_on: date, limits: IntakeLimits) -> None:
    birth = payload.subject.birth_date
    if birth is not None and birth > received_on:
        raise _invalid("subject.birth_date", "future_date", "생년월일이 접수일보다 늦습니다.")
    if payload.details and len(payload.details) > limits.max_text_chars:
        raise _invalid(
            "details",
            "too_long",
            f"요청 내용은 {limits.max_text_chars}자 이내로 적어 주세요.",
            limits.max_text_chars,
        )
    if len(payload.items) > limits.max_items:
        raise _invalid(
            "items",
            "too_many",
            f"항목은 {limits.max_items}개까지 고를 수 있습니다.",
            limits.max_items,
        )
    if payload.type == "correction" and payload.correction is None:
        raise _invalid("correction", "required", "정정 요구에는 정정할 항목과 내용이 필요합니다.")
    rel = relationship_of(payload)
    if rel is not Relationship.SELF:
        assert payload.requester is not None
        if payload.requester.name is None:
            raise _invalid("requester.name", "required", "대리인의 이름이 필요합니다.")
        if payload.requester.birth_date is None:
            raise _invalid("requester.birth_date", "required", "대리인의 생년월일이 필요합니다.")
    if payload.delegation is not None:
        if rel is Relationship.SELF:
            raise _invalid(
                "delegation", "not_applicable", "본인이 요구할 때에는 위임장이 필요하지 않습니다."
            )
        if payload.delegation.signed_on > received_on:
            raise _invalid(
                "delegation.signed_on", "future_date", "위임장 작성일이 접수일보다 늦습니다."
            )


def _check_birth_date(payload: RequestCreate, collects_birth_date: bool) -> None:
    """Law rule 20 (art. 38(4)): a birth date is asked only where the service collected one.
    Without it the under-14 rule (art. 38(2), rule 23) needs the answer to "만 14세 미만입니까?"."""
    subject = payload.subject
    delegation = payload.delegation
    if collects_birth_date and delegation is not None and delegation.delegator_birth_date is None:
        raise _invalid(
            "delegation.delegator_birth_date", "required", "위임하는 사람의 생년월일이 필요합니다."
        )
    if subject.birth_date is not None:
        return
    if collects_birth_date:
        raise _invalid("subject.birth_date", "required", "정보주체의 생년월일이 필요합니다.")
    if subject.under_14 is None:
        raise _invalid("subject.under_14", "required", "정보주체가 만 14세 미만인지 알려 주세요.")


def is_child(payload: RequestCreate, received_on: date) -> bool:
    """Under 14 on the day of receipt (KST): by the birth date, else by the answer given."""
    birth = payload.subject.birth_date
    if birth is not None:
        return age_on(birth, received_on) < CHILD_AGE_LIMIT
    return bool(payload.subject.under_14)


def relationship_of(payload: RequestCreate) -> Relationship:
    return payload.requester.relationship if payload.requester else Relationship.SELF


def _check_authority(payload: RequestCreate, *, received_on: date) -> None:
    rel = relationship_of(payload)
    subject = payload.subject
    # Art. 38(2); policy §7①※: the age that counts is the one on the day of receipt (KST).
    if is_child(payload, received_on) and rel is not Relationship.LEGAL_REPRESENTATIVE:
        raise BusinessRuleViolation(
            "legal_representative_required",
            "requester.relationship",
            "만 14세 미만 아동의 개인정보에 관한 요구는 법정대리인이 직접 해야 합니다. "
            "법정대리인으로 다시 신청해 주세요.",
        )
    if rel is Relationship.DELEGATE and payload.delegation is None:
        raise BusinessRuleViolation(
            "delegation_required",
            "delegation",
            "대리인이 요구할 때에는 위임장(개인정보 처리 방법에 관한 고시 별지 제11호)이 "
            "필요합니다.",
        )
    delegation = payload.delegation
    if delegation is None:
        return
    # Decree art. 45(2): the 위임장 must be the subject's own (the birth date compared where
    # the subject gave one).
    if normalize(delegation.delegator_name) != normalize(subject.name) or (
        None not in (subject.birth_date, delegation.delegator_birth_date)
        and delegation.delegator_birth_date != subject.birth_date
    ):
        raise BusinessRuleViolation(
            "delegation_subject_mismatch",
            "delegation.delegator_name",
            "위임장의 위임하는 사람이 정보주체와 다릅니다(성명·생년월일 확인).",
        )
    requester = payload.requester
    assert requester is not None and requester.name is not None
    if (
        normalize(delegation.delegate_name) != normalize(requester.name)
        or delegation.delegate_birth_date != requester.birth_date
    ):
        raise BusinessRuleViolation(
            "delegation_delegate_mismatch",
            "delegation.delegate_name",
            "위임장의 위임받는 사람이 신청인과 다릅니다(성명·생년월일 확인).",
        )
    needed = SCOPE_FOR_TYPE[payload.type]
    if needed not in delegation.scope:
        raise BusinessRuleViolation(
            "delegation_scope_mismatch",
            "delegation.scope",
            "위임장의 위임 범위에 이 요구가 포함되어 있지 않습니다.",
        )


def _check_contact(payload: RequestCreate) -> None:
    emails, phones = contacts(payload)
    if not emails and not phones:
        raise BusinessRuleViolation(
            "contact_required",
            "subject.email",
            "결과를 알려 드릴 이메일 또는 휴대전화 번호를 하나 이상 적어 주세요.",
        )
    if payload.notify_by is NotifyBy.EMAIL and not emails:
        raise BusinessRuleViolation(
            "contact_required", "notify_by", "이메일로 안내받으려면 이메일 주소가 필요합니다."
        )
    if payload.notify_by is NotifyBy.SMS and not phones:
        raise BusinessRuleViolation(
            "contact_required", "notify_by", "문자로 안내받으려면 휴대전화 번호가 필요합니다."
        )


def mailbox_deliverable(email: str, *, utf8_mailboxes: bool) -> bool:
    """Whether notices can reach `email`: a mailbox name (before the @) that is not ASCII
    needs a delivery that carries UTF-8 (Settings.utf8_mailboxes); an IDN domain always
    travels as IDNA A-labels."""
    return utf8_mailboxes or email.rpartition("@")[0].isascii()


def _check_mailboxes(payload: RequestCreate) -> None:
    people = [("subject", payload.subject), ("requester", payload.requester)]
    for role, person in people:
        email = person.email if person is not None else None
        if email and not mailbox_deliverable(email, utf8_mailboxes=False):
            raise BusinessRuleViolation(
                "email_not_deliverable",
                f"{role}.email",
                "@ 앞부분에 한글 등 영문이 아닌 글자가 있는 이메일 주소로는 안내를 보내 드릴 수 "
                "없습니다. 영문·숫자로 된 다른 이메일 주소나 휴대전화 번호를 적어 주세요.",
            )


def contacts(payload: RequestCreate) -> tuple[list[str], list[str]]:
    """Addresses that notices may go to: the subject's, and the representative's if any."""
    people = [payload.subject]
    if payload.requester and relationship_of(payload) is not Relationship.SELF:
        people.append(payload.requester)  # type: ignore[arg-type]
    emails = [p.email for p in people if p.email]
    phones = [p.phone for p in people if p.phone]
    return emails, phones


def default_notify_by(payload: RequestCreate) -> NotifyBy:
    if payload.notify_by is not None:
        return payload.notify_by
    emails, _ = contacts(payload)
    return NotifyBy.EMAIL if emails else NotifyBy.SMS


def mask_rrn(text: str) -> str:
    """Resident registration numbers are never stored (PIPA art. 24-2): see rrn.py."""
    return rrn.mask(text)
