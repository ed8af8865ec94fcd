"""The request form: flat HTML fields to a RequestCreate, and API errors back to inputs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.errors import FieldError, ValidationFailed, pydantic_field_errors
from app.models.request_api import RequestCreate
from app.models.vocab import AUTOMATED_DECISION_TYPES

# Text inputs of the form, kept as typed and shown again on a re-render.
TEXT_FIELDS = (
    "type",
    "service",
    "subject_name",
    "subject_birth_date",
    "subject_under_14",
    "subject_email",
    "subject_phone",
    "relationship",
    "requester_name",
    "requester_birth_date",
    "requester_email",
    "requester_phone",
    "delegator_phone",
    "delegator_address",
    "delegate_phone",
    "delegate_address",
    "relationship_to_subject",
    "signed_on",
    "correction_item",
    "correction_current",
    "correction_requested",
    "automated_decision",
    "details",
    "delivery",
    "notify_by",
    "controller",  # processor mode: the clinic whose patient data it is (art. 26(8))
    # Transmission (art. 35-2): where to, and the recipient institution.
    "transmission_to",
    "recipient_name",
    "recipient_code",
    "recipient_contact",
    # The button that files a transmission the controller does not offer as access instead.
    "switch_to_access",
)
LIST_FIELDS = ("scope", "items", "access_scope")
# What the first step asks: the right, the service, and who files.
CHOICE_FIELDS = ("type", "service", "relationship")
RELATIONSHIPS = ("self", "legal_representative", "delegate")
FILE_SLOTS = (1, 2, 3)

# API field paths -> the form input that shows the message.
FIELD_INPUT: dict[str, str] = {
    "type": "type",
    "service": "service",
    "subject": "subject_name",
    "subject.name": "subject_name",
    "subject.birth_date": "subject_birth_date",
    "subject.under_14": "subject_under_14",
    "subject.email": "subject_email",
    "subject.phone": "subject_phone",
    "requester": "relationship",
    "requester.relationship": "relationship",
    "requester.name": "requester_name",
    "requester.birth_date": "requester_birth_date",
    "requester.email": "requester_email",
    "requester.phone": "requester_phone",
    "delegation": "signed_on",
    "delegation.delegator_name": "subject_name",
    "delegation.delegator_birth_date": "subject_birth_date",
    "delegation.delegator_phone": "delegator_phone",
    "delegation.delegator_address": "delegator_address",
    "delegation.delegate_name": "requester_name",
    "delegation.delegate_birth_date": "requester_birth_date",
    "delegation.delegate_phone": "delegate_phone",
    "delegation.delegate_address": "delegate_address",
    "delegation.relationship_to_subject": "relationship_to_subject",
    "delegation.scope": "scope",
    "delegation.signed_on": "signed_on",
    "correction": "correction_requested",
    "correction.item": "correction_item",
    "correction.current_value": "correction_current",
    "correction.requested_value": "correction_requested",
    "details": "details",
    "items": "items",
    "access_scope": "access_scope",
    "automated_decision": "automated_decision",
    "delivery": "delivery",
    "notify_by": "notify_by",
    "attachments": "attachment_1",
    "attachment_kinds": "kind_1",
    "controller": "controller",
    "transmission": "transmission_to",
    "transmission.to": "transmission_to",
    "transmission.recipient": "recipient_name",
    "transmission.recipient.name": "recipient_name",
    "transmission.recipient.code": "recipient_code",
    "transmission.recipient.contact": "recipient_contact",
}

# The label of each input, for the error summary at the top.
INPUT_LABEL: dict[str, str] = {
    "controller": "병원",
    "type": "요구 종류",
    "service": "서비스",
    "subject_name": "정보주체 성명",
    "subject_birth_date": "정보주체 생년월일",
    "subject_under_14": "만 14세 미만 여부",
    "subject_email": "정보주체 이메일",
    "subject_phone": "정보주체 휴대전화",
    "relationship": "신청하는 사람",
    "requester_name": "신청인 성명",
    "requester_birth_date": "신청인 생년월일",
    "requester_email": "신청인 이메일",
    "requester_phone": "신청인 휴대전화",
    "delegator_phone": "위임하는 사람 전화번호",
    "delegator_address": "위임하는 사람 주소",
    "delegate_phone": "위임받는 사람 전화번호",
    "delegate_address": "위임받는 사람 주소",
    "relationship_to_subject": "정보주체와의 관계",
    "scope": "위임 범위",
    "signed_on": "위임장 작성일",
    "correction_item": "정정할 항목",
    "correction_current": "현재 내용",
    "correction_requested": "정정할 내용",
    "details": "요청 내용",
    "items": "대상 항목",
    "access_scope": "열람하려는 사항",
    "automated_decision": "대상 자동화된 결정",
    "delivery": "결과 받는 방법",
    "notify_by": "안내 받을 방법",
    "attachment_1": "첨부 파일",
    "kind_1": "첨부 서류 종류",
    "transmission_to": "전송 받을 곳",
    "recipient_name": "받는 기관",
    "recipient_code": "받는 기관 등록(지정)번호",
    "recipient_contact": "받는 기관 연락처",
}

LEGAL_REP_GUIDANCE = (
    "만 14세 미만 아동의 개인정보는 법정대리인(부모 등)이 직접 요구해야 합니다. "
    "이 화면의 '누가 신청하나요?'에서 '법정대리인'을 고르고 '요구서 제출하기'를 누르면 "
    "법정대리인의 성명·생년월일·연락처를 적는 칸이 나옵니다(적으신 내용은 그대로 남습니다). "
    "법정대리인임을 확인할 수 있는 가족관계증명서는 '첨부 서류'에서 '법정대리인 확인 서류'로 "
    "첨부해 주세요."
)


@dataclass
class FormErrors:
    """Messages by form input, and the summary list shown at the top of the page."""

    by_input: dict[str, list[str]] = field(default_factory=dict)
    summary: list[tuple[str, str]] = field(default_factory=list)  # (input id or "", message)
    guidance: str | None = None
    # Transmission is not offered (art. 35-2; Decree art. 42-2): the page offers to file the
    # same as an access request.
    offer_access: bool = False

    def add(self, input_id: str, message: str) -> None:
        messages = self.by_input.setdefault(input_id, [])
        if message in messages:
            return
        messages.append(message)
        label = INPUT_LABEL.get(input_id, "")
        self.summary.append((input_id, f"{label}: {message}" if label else message))

    def add_general(self, message: str) -> None:
        self.summary.append(("", message))

    def __bool__(self) -> bool:
        return bool(self.summary)


@dataclass(frozen=True)
class Choice:
    """The case chosen on the first step: it decides which sections the second step shows."""

    type: str
    type_label: str
    relationship: str
    service: dict[str, Any]  # the catalog entry, with its items

    @property
    def items(self) -> list[dict[str, Any]]:
        return list(self.service["items"])

    @property
    def item_options(self) -> list[tuple[str, str]]:
        return [(i["code"], i["name"]) for i in self.items]

    @property
    def automated(self) -> bool:
        """Art. 37-2: the request is about a decision, not about chosen items."""
        return self.type in AUTOMATED_DECISION_TYPES

    @property
    def query(self) -> str:
        return f"type={self.type}&service={self.service['code']}&relationship={self.relationship}"


def choice_of(values: Mapping[str, Any], catalog: Mapping[str, Any]) -> Choice | None:
    """The chosen case when the type, the service and who files are all known, else None."""
    types = {t["code"]: t["label"] for t in catalog["request_types"]}
    services = {s["code"]: s for s in catalog["services"]}
    rtype, service, rel = (str(values.get(n) or "") for n in CHOICE_FIELDS)
    if rtype not in types or service not in services or rel not in RELATIONSHIPS:
        return None
    return Choice(rtype, types[rtype], rel, services[service])


def choice_errors(values: Mapping[str, Any], catalog: Mapping[str, Any]) -> FormErrors:
    """What is missing on the first step, when "다음" was pressed without it."""
    out = FormErrors()
    if not any(t["code"] == values.get("type") for t in catalog["request_types"]):
        out.add("type", "무엇을 요구하시는지 골라 주세요.")
    if not any(s["code"] == values.get("service") for s in catalog["services"]):
        out.add("service", "서비스를 골라 주세요.")
    if values.get("relationship") not in RELATIONSHIPS:
        out.add("relationship", "누가 신청하는지 골라 주세요.")
    return out


def from_domain(errors: Sequence[FieldError], detail: str, code: str) -> FormErrors:
    out = FormErrors()
    for e in errors:
        if e.code == "transmission_not_offered":
            out.offer_access = True
            out.add_general(e.message)
            continue
        input_id = FIELD_INPUT.get(e.field) or _prefix_input(e.field)
        if input_id:
            out.add(input_id, e.message)
        else:
            out.add_general(e.message)
    if not out:
        out.add_general(detail)
    if code == "legal_representative_required" or any(
        e.code == "legal_representative_required" for e in errors
    ):
        out.guidance = LEGAL_REP_GUIDANCE
    return out


def _prefix_input(path: str) -> str | None:
    # e.g. "items.0" or "delegation.scope.1": the nearest known parent.
    parts = path.split(".")
    while parts:
        parts.pop()
        joined = ".".join(parts)
        if joined in FIELD_INPUT:
            return FIELD_INPUT[joined]
    return None


def switched_to_access(values: dict[str, Any]) -> dict[str, Any]:
    """The 'file it as access' button of a transmission the controller does not offer:
    the same typed values, as an access request (art. 35, the right the person keeps)."""
    if values.get("switch_to_access") and values.get("type") == "transmission":
        return {**values, "type": "access", "switch_to_access": ""}
    return values


def values_of(fields: Mapping[str, list[str]]) -> dict[str, Any]:
    """What was typed, for the re-render: text inputs as strings, checkboxes as lists."""
    values: dict[str, Any] = {name: (fields.get(name) or [""])[0] for name in TEXT_FIELDS}
    for name in LIST_FIELDS:
        values[name] = list(fields.get(name, []))
    for slot in FILE_SLOTS:
        values[f"kind_{slot}"] = (fields.get(f"kind_{slot}") or [""])[0]
    return values


def _opt(values: Mapping[str, Any], name: str) -> str | None:
    value = str(values.get(name) or "").strip()
    return value or None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


_UNDER_14 = {"yes": True, "no": False}


def _items_of(service: str | None, ticked: Iterable[str]) -> list[str]:
    """The item codes ticked for the chosen service ("service:item" or a bare code). An item
    ticked under another service is refused, never dropped: dropping it would turn a
    deletion of that item into one of every item of the service (the web never widens)."""
    codes: list[str] = []
    for value in ticked:
        owner, sep, code = value.partition(":")
        if not sep:
            owner, code = service or "", value
        if owner != service:
            raise ValidationFailed(
                "선택한 서비스의 항목이 아닙니다.",
                errors=[FieldError("items", "item_of_other_service", _OTHER_SERVICE)],
            )
        codes.append(code)
    return codes


_OTHER_SERVICE = "고른 서비스의 항목이 아닌 것이 있습니다. 서비스의 항목만 골라 주세요."


def build_payload(
    values: Mapping[str, Any], no_birth_services: frozenset[str] = frozenset()
) -> RequestCreate:
    """RequestCreate from the form (empty strings are None); raises ValidationFailed.
    `no_birth_services`: the services that never collected a birth date."""
    rel = _opt(values, "relationship") or "self"
    rtype = _opt(values, "type")
    service = _opt(values, "service")
    subject = _drop_none(
        {
            "name": _opt(values, "subject_name"),
            "birth_date": _opt(values, "subject_birth_date"),
            "email": _opt(values, "subject_email"),
            "phone": _opt(values, "subject_phone"),
            # "만 14세 미만입니까?", asked where the service holds no birth date.
            "under_14": _UNDER_14.get(_opt(values, "subject_under_14") or ""),
        }
    )
    body: dict[str, Any] = {"type": rtype, "service": service, "subject": subject}
    if rel != "self":
        body["requester"] = _drop_none(
            {
                "relationship": rel,
                "name": _opt(values, "requester_name"),
                "birth_date": _opt(values, "requester_birth_date"),
                "email": _opt(values, "requester_email"),
                "phone": _opt(values, "requester_phone"),
            }
        )
    if rel == "delegate":
        body["delegation"] = _drop_none(
            {
                "delegator_name": subject.get("name"),
                "delegator_birth_date": subject.get("birth_date"),
                "delegator_phone": _opt(values, "delegator_phone"),
                "delegator_address": _opt(values, "delegator_address"),
                "delegate_name": _opt(values, "requester_name"),
                "delegate_birth_date": _opt(values, "requester_birth_date"),
                "delegate_phone": _opt(values, "delegate_phone"),
                "delegate_address": _opt(values, "delegate_address"),
                "relationship_to_subject": _opt(values, "relationship_to_subject"),
                "scope": list(values.get("scope") or []),
                "signed_on": _opt(values, "signed_on"),
            }
        )
    if rtype == "correction":
        body["correction"] = _drop_none(
            {
                "item": _opt(values, "correction_item"),
                "current_value": _opt(values, "correction_current"),
                "requested_value": _opt(values, "correction_requested"),
            }
        )
    body["items"] = _items_of(service, values.get("items") or [])
    if rtype in AUTOMATED_DECISION_TYPES:
        # Art. 37-2: the decision asked about ("unknown" when the person does not know).
        body["automated_decision"] = _opt(values, "automated_decision")
    if rtype == "access" and values.get("access_scope"):
        # Decree art. 41(1) 1-5: none ticked is the same as all (the default).
        body["access_scope"] = list(values["access_scope"])
    if rtype == "transmission":
        recipient = _drop_none(
            {
                "name": _opt(values, "recipient_name"),
                "code": _opt(values, "recipient_code"),
                "contact": _opt(values, "recipient_contact"),
            }
        )
        to = _opt(values, "transmission_to")
        body["transmission"] = _drop_none(
            {"to": to, "recipient": recipient if to == "third_party" else None}
        )
    body["details"] = _opt(values, "details")
    body["delivery"] = _opt(values, "delivery") or "electronic"
    body["notify_by"] = _opt(values, "notify_by")
    body["controller"] = _opt(values, "controller")
    try:
        return RequestCreate.model_validate(_drop_none(body))
    except ValidationError as exc:
        errors = pydantic_field_errors(exc.errors())
        if "birth_date" not in subject and service not in no_birth_services:
            # Reported with the other field errors, as the intake rule would (law rule 20).
            errors.append(FieldError("subject.birth_date", "required", "필수 항목입니다."))
        raise ValidationFailed("입력값을 확인해 주세요.", errors=errors) from None
