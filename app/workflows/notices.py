"""What each message to a requester says: the facts, checked and formatted for the templates.

Pure: no clock, no files, no environment. `notice_context` turns the facts of one notice and the
policy in force into a flat dict of ready-to-print Korean values; the sentences themselves live
in app/templates/notices (rendered by app.services.notices.render). A notice the law requires to say
something (a reason, a ground, an objection method, a statute) cannot be built without it:
a missing or malformed `extra` value raises ValueError naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from app.models.vocab import TYPE_LABELS_KO, Delivery
from app.policy import Contact, Policy, Service
from app.workflows.deadlines import KST, period_for
from app.workflows.grounds import GROUNDS
from app.workflows.lifecycle import Outcome
from app.workflows.remedies import objection_method


class NoticeKind(StrEnum):
    RECEIPT = "receipt"  # 접수 안내
    VERIFICATION_CODE = "verification_code"  # 본인 확인 인증번호 (Decree art. 46(1))
    INFO_REQUEST = "info_request"  # 보완 요청
    POSTPONEMENT = "postponement"  # form No. 9: 열람연기 (art. 35(3); Decree art. 42(2))
    ACCESS_RESULT = "access_result"  # form No. 9: 열람 / 일부열람 / 열람거절
    # form No. 10: 정정ㆍ삭제 and 처리정지 results; consent withdrawal too (no form prescribed)
    ACTION_RESULT = "action_result"
    WITHDRAWAL = "withdrawal"  # the requester withdrew (cancelled) the request: confirmation
    OBJECTION_RECEIPT = "objection_receipt"  # 이의제기 접수 (art. 38(5))
    # Identity or authority not established (Decree arts. 45, 46): why, and how to file again.
    IDENTITY_REJECTED = "identity_rejected"
    OBJECTION_RESULT = "objection_result"  # the review of an objection (art. 38(5))
    # A step of the request the requester should hear about where no formal notice exists
    # (identity confirmed, a code typed into the chat was wrong): sent for chat requests.
    STATUS_UPDATE = "status_update"


@dataclass(frozen=True)
class NoticeFacts:
    """The facts of one notice about one request.

    `extra` holds what only some kinds need. Dates may be `date` objects or "YYYY-MM-DD";
    instants tz-aware `datetime` objects or ISO 8601 strings with an offset. Keys per kind:

    - every kind, optional: `status_url` (str) — link to the requester's status page.
    - receipt: `next_action` (required; as app.workflows.identity.next_action gives it).
    - verification_code: `code` (str), `valid_minutes` (int > 0).
    - info_request: `message` (what to supply), `respond_by` (date | None, optional).
    - postponement (access only): `reason`, `expected_end` (date | None, optional).
    - access_result (access only): `outcome` (granted | partially_granted | refused);
      granted and partially_granted: `items_granted` (item codes of the service, non-empty),
      `method` (electronic | mail | in_person), `available_at` (datetime | None; required for
      in_person), `place` (str; where or how to access — required for in_person and electronic,
      e.g. "요청 조회 화면"; optional for mail), `fee_krw` (int, 0 = free);
      partially_granted and refused: `grounds` (ground codes, non-empty), `reason`;
      partially_granted: `items_withheld` (non-empty); refused: `items_withheld` optional
      (absent = everything requested).
    - action_result (correction, deletion, suspension, consent_withdrawal): `outcome`;
      granted and partially_granted: `action` (what was done, in words);
      partially_granted and refused: `grounds`, `reason`, and `statute` when the grounds include
      36-1-proviso (the other statute that names the data for collection).
    - withdrawal: `withdrawn_at` (datetime).
    - status_update: `message` (what happened and what to do next, in Korean).
    - identity_rejected: `reason` (why identity or authority was not established).
    - objection_result (on the objection request): `outcome` (granted | refused), `reason`
      (required when refused), `objected_reference` (the request objected to),
      `reopened_reference` (granted: the request under which it is taken up again).
    - objection_receipt, optional: `period_days` (the company's period for objections).
    - objection_receipt: `objection_reference`, `objection_due_on` (date); the other fields
      describe the request objected to.

    Never put the requester's access code in `extra`: notice_context refuses it.
    """

    reference: str
    request_type: str
    service_code: str
    received_at: datetime  # tz-aware
    legal_due_on: date
    recipient_name: str | None = None
    # Filed by staff from a letter, call or fax: the access code reached the requester through
    # staff, not on a screen, and the notice must say so.
    filed_by_staff: bool = False
    # Filed in a Channel Talk chat: the requester hears back in the chat, has no access code
    # and types one-time codes into the chat.
    chat: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None or self.received_at.utcoffset() is None:
            raise ValueError("received_at must be timezone-aware")


_WEEKDAYS_KO = "월화수목금토일"

# The period each type is counted under, where a statute fixes one. Consent withdrawal (art.
# 37(3): 지체 없이) and objections (art. 38(5): no period) run on the company's own cap instead.
_DEADLINE_BASIS = {
    "access": "개인정보 보호법 시행령 제41조제4항",
    "correction": "개인정보 보호법 시행령 제43조제3항",
    "deletion": "개인정보 보호법 시행령 제43조제3항",
    "suspension": "개인정보 보호법 시행령 제44조제2항",
}

# Receipt: what the requester does next, by intake.next_action (long text, SMS text).
_NEXT_STEPS: dict[str, tuple[str, str]] = {
    # Decree art. 46(1): the subject proves control of the contact given.
    "verify_contact": (
        "본인 확인을 위해 입력하신 연락처로 인증번호를 따로 보내 드립니다. 요청 조회 화면에서 "
        "인증번호를 입력해 주시면 담당자가 검토를 시작합니다.",
        "따로 보내 드리는 인증번호를 요청 조회 화면에 입력해 주세요.",
    ),
    # Decree art. 45(2) / 46(1): an agent shows their authority and identity. 표준지침 34 bars
    # asking for more than that, so only the authority and the filer's identity are named.
    "submit_identity_document": (
        "대리인으로 신청하셨으므로 신청하신 분의 신원을 확인할 수 있는 자료(신분증 사본 등)를 "
        "요청 조회 화면에서 제출해 주세요. 서류를 확인한 뒤 검토를 시작합니다.",
        "신청인의 신분증 사본을 요청 조회 화면에서 제출해 주세요.",
    ),
    "submit_proof_of_representation": (
        "법정대리인으로 신청하셨으므로 법정대리인임을 확인할 수 있는 서류(가족관계증명서 등)와 "
        "신청하신 분의 신원을 확인할 수 있는 자료를 요청 조회 화면에서 제출해 주세요. 서류를 "
        "확인한 뒤 검토를 시작합니다.",
        "가족관계증명서 등 법정대리인 확인 서류를 요청 조회 화면에서 제출해 주세요.",
    ),
    "submit_power_of_attorney": (
        "대리인으로 신청하셨으므로 정보주체가 서명한 위임장(개인정보 처리 방법에 관한 고시 "
        "별지 제11호 서식)과 신청하신 분의 신원을 확인할 수 있는 자료를 요청 조회 화면에서 "
        "제출해 주세요. 서류를 확인한 뒤 검토를 시작합니다.",
        "서명한 위임장과 신청인의 신분증 사본을 요청 조회 화면에서 제출해 주세요.",
    ),
    "provide_information": (
        "처리에 필요한 내용을 보완해 주셔야 합니다. 요청 조회 화면에서 요청 사항을 확인해 주세요.",
        "요청 조회 화면에서 보완 요청 사항을 확인해 주세요.",
    ),
    "wait": (
        "담당자가 요청을 검토하고 있습니다. 따로 하실 일은 없으며, 결과는 통지로 알려 드립니다.",
        "담당자가 검토 중이며, 결과는 통지로 알려 드립니다.",
    ),
    "none": ("더 하실 일은 없습니다.", "더 하실 일은 없습니다."),
}

# The same steps for a request filed in a Channel Talk chat: the requester has no status page
# and no access code; codes are typed into the chat, and nothing personal is written there.
_CHAT_NEXT_STEPS: dict[str, tuple[str, str]] = {
    "verify_contact": (
        "채팅만으로는 본인임을 확인할 수 없어, 채널톡에 등록된 연락처로 인증번호 6자리를 따로 "
        "보내 드립니다. 받으신 인증번호를 이 채팅에 입력해 주시면 담당자가 검토를 시작합니다.",
        "따로 보내 드리는 인증번호 6자리를 이 채팅에 입력해 주세요.",
    ),
    "verify_by_staff": (
        "채팅만으로는 본인임을 확인할 수 없어, 담당자가 이 채팅으로 본인 확인 방법을 안내해 "
        "드립니다. 본인 확인 전에는 개인정보를 알려 드리거나 바꾸지 않습니다.",
        "담당자가 이 채팅으로 본인 확인 방법을 안내해 드립니다.",
    ),
    "provide_information": (
        "처리에 필요한 내용을 보완해 주셔야 합니다. 담당자가 이 채팅으로 안내해 드립니다.",
        "담당자가 이 채팅으로 보완 사항을 안내해 드립니다.",
    ),
    "wait": (
        "회원 로그인으로 본인 확인이 되어 담당자가 요청을 검토하고 있습니다. 결과는 이 채팅으로 "
        "알려 드립니다.",
        "담당자가 검토 중이며, 결과는 이 채팅으로 알려 드립니다.",
    ),
    "none": _NEXT_STEPS["none"],
}

_ACTION_TYPES = frozenset({"correction", "deletion", "suspension", "consent_withdrawal"})


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


def notice_context(kind: NoticeKind, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    """Everything the `kind` templates print, formatted in Korean (see NoticeFacts for `extra`)."""
    kind = NoticeKind(kind)
    if "access_code" in facts.extra:
        # The access code is shown once at filing and stored hashed; a notice never carries it.
        raise ValueError("extra['access_code'] must not be given: notices never show it")
    context = _common(kind, facts, policy)
    context.update(_BUILDERS[kind](_Extra(kind, facts.extra), facts, policy))
    return context


class _Extra:
    """Typed reads of `extra`, each failure a ValueError naming the kind and the key."""

    def __init__(self, kind: NoticeKind, values: Mapping[str, Any]) -> None:
        self.kind = kind
        self.values = values

    def _fail(self, key: str, problem: str) -> ValueError:
        return ValueError(f"{self.kind} notice: extra[{key!r}] {problem}")

    def has(self, key: str) -> bool:
        return self.values.get(key) is not None

    def raw(self, key: str) -> Any:
        if not self.has(key):
            raise self._fail(key, "is required")
        return self.values[key]

    def text(self, key: str, *, required: bool = True) -> str | None:
        if not required and not self.has(key):
            return None
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise self._fail(key, "must be non-empty text")
        return value.strip()

    def day(self, key: str, *, required: bool = True) -> date | None:
        if not required and not self.has(key):
            return None
        value = self.raw(key)
        try:
            if isinstance(value, str):
                return date.fromisoformat(value)
        except ValueError:
            pass
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        raise self._fail(key, "must be a date (YYYY-MM-DD)")

    def instant(self, key: str, *, required: bool = True) -> datetime | None:
        if not required and not self.has(key):
            return None
        value = self.raw(key)
        try:
            if isinstance(value, str):
                value = datetime.fromisoformat(value)
        except ValueError:
            pass
        if isinstance(value, datetime) and value.utcoffset() is not None:
            return value
        raise self._fail(key, "must be a timezone-aware date and time")

    def whole(self, key: str, *, minimum: int) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(key, f"must be a whole number of at least {minimum}")
        return value

    def codes(self, key: str, *, required: bool = True) -> list[str]:
        value = self.values.get(key)
        if not required and (value is None or (isinstance(value, Sequence) and not value)):
            return []
        value = self.raw(key)
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise self._fail(key, "must be a list of codes")
        if not value or not all(isinstance(c, str) and c for c in value):
            raise self._fail(key, "must list at least one code")
        return list(dict.fromkeys(value))

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        value = self.raw(key)
        if value not in allowed:
            raise self._fail(key, f"must be one of {', '.join(allowed)} (got {value!r})")
        return str(value)


def _common(kind: NoticeKind, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    label = TYPE_LABELS_KO.get(facts.request_type)
    if label is None:
        raise ValueError(f"unknown request type: {facts.request_type!r}")
    service = _service(policy, facts.service_code)
    local = facts.received_at.astimezone(KST)
    contact = _contact(policy, policy.rights.intake_contact)
    status_url = facts.extra.get("status_url")
    if status_url is not None and not isinstance(status_url, str):
        raise ValueError(f"{kind} notice: extra['status_url'] must be text")
    return {
        "kind": kind.value,
        "reference": facts.reference,
        "controller_name": policy.controller.name,
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
        "period_days": period_for(facts.request_type),
        "deadline_basis": _DEADLINE_BASIS.get(facts.request_type),
        "contact": contact,
        "status_url": status_url or None,
        "filed_by_staff": facts.filed_by_staff,
        "chat": facts.chat,
        "objection_method": objection_method(policy, include_remedies=False),
        "remedies": [
            {"name": r.name, "phone": r.phone, "site": r.site} for r in policy.controller.remedies
        ],
    }


def _request_name(request_type: str, label: str) -> str:
    if request_type == "consent_withdrawal":
        return "개인정보 처리 동의 철회"  # art. 37(1) withdraws consent; nothing is "demanded"
    if request_type == "objection":
        return "이의제기"
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


def _grounds(policy: Policy, request_type: str, codes: Sequence[str]) -> list[dict[str, str]]:
    grounds = []
    for code in codes:
        ground = GROUNDS.get(code)
        if ground is None:
            raise ValueError(f"extra['grounds']: unknown ground {code!r}")
        if request_type not in ground.applies_to:
            raise ValueError(f"extra['grounds']: {code!r} does not apply to {request_type!r}")
        if ground.public_only and not policy.controller.public_institution:
            raise ValueError(f"extra['grounds']: {code!r} is for public institutions only")
        grounds.append({"code": code, "article": ground.article, "text": ground.text_ko})
    return grounds


def _require_type(kind: NoticeKind, facts: NoticeFacts, allowed: frozenset[str]) -> None:
    if facts.request_type not in allowed:
        raise ValueError(f"{kind} notice does not apply to a {facts.request_type!r} request")


def _receipt(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    steps = _CHAT_NEXT_STEPS if facts.chat else _NEXT_STEPS
    action = x.choice("next_action", tuple(steps))
    long_text, short_text = steps[action]
    return {"next_action": action, "next_steps": long_text, "next_steps_short": short_text}


def _status_update(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    return {"message": x.text("message")}


def _verification_code(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    return {"code": x.text("code"), "valid_minutes": x.whole("valid_minutes", minimum=1)}


def _info_request(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    respond_by = x.day("respond_by", required=False)
    return {
        "message": x.text("message"),
        "respond_by_text": date_text(respond_by) if respond_by else None,
    }


def _postponement(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    # Art. 35(3) exists for access only. Decree art. 42(2): the notice states the reason and the
    # objection method (both always in the context; the template prints them).
    _require_type(x.kind, facts, frozenset({"access"}))
    expected_end = x.day("expected_end", required=False)
    return {
        "reason": x.text("reason"),
        "expected_end_text": date_text(expected_end) if expected_end else None,
    }


def _outcome(x: _Extra) -> str:
    return x.choice("outcome", tuple(o.value for o in Outcome))


def _access_result(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    _require_type(x.kind, facts, frozenset({"access"}))
    outcome = _outcome(x)
    context: dict[str, Any] = {
        "outcome": outcome,
        "items_granted": [],
        "items_withheld": [],
        "grounds": [],
        "reason": None,
        "method": None,
        "available_at_text": None,
        "place": None,
        "fee_krw": 0,
        "fee_text": None,
    }
    granted = x.codes("items_granted", required=outcome != Outcome.REFUSED)
    # Decree art. 42(1): a partial grant withholds only the items a ground covers.
    withheld = x.codes("items_withheld", required=outcome == Outcome.PARTIALLY_GRANTED)
    if outcome == Outcome.GRANTED and withheld:
        raise ValueError("access_result: items are withheld, so the outcome is partially_granted")
    if outcome == Outcome.REFUSED and granted:
        raise ValueError("access_result: items are granted, so the outcome is partially_granted")
    if set(granted) & set(withheld):
        raise ValueError("access_result: an item is both granted and withheld")
    if outcome != Outcome.REFUSED:
        # Decree art. 41(5): the notice names the data and the date, time and place of access.
        # A visit needs a time and a place; electronic access needs the "place" too (where to
        # find the copy); a mailed copy goes to the requester's address, which is not repeated.
        method = x.choice("method", tuple(d.value for d in Delivery))
        available_at = x.instant("available_at", required=method == Delivery.IN_PERSON)
        fee = x.whole("fee_krw", minimum=0)
        context.update(
            items_granted=_items(policy, facts.service_code, granted, "items_granted"),
            method=method,
            available_at_text=kst_datetime_text(available_at) if available_at else None,
            place=x.text("place", required=method != Delivery.MAIL),
            fee_krw=fee,
            fee_text=fee_text(fee),
        )
    if outcome != Outcome.GRANTED:
        # Decree art. 41(5) (partial grant) and art. 42(2) (refusal): the reason and the
        # objection method; art. 35(4): the ground relied on.
        context.update(
            items_withheld=_items(policy, facts.service_code, withheld, "items_withheld"),
            grounds=_grounds(policy, facts.request_type, x.codes("grounds")),
            reason=x.text("reason"),
        )
    return context


def _action_result(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    _require_type(x.kind, facts, _ACTION_TYPES)
    outcome = _outcome(x)
    context: dict[str, Any] = {
        "outcome": outcome,
        "action": None,
        "grounds": [],
        "reason": None,
        "statute": None,
        "proviso_36_1": False,
    }
    if outcome != Outcome.REFUSED:
        # Decree art. 43(3) / 44(2): the fact of the action taken (form No. 10).
        context["action"] = x.text("action")
    if outcome != Outcome.GRANTED:
        # Decree art. 43(3) / 44(2), art. 37(4): the fact, the reason and the objection method.
        codes = x.codes("grounds")
        proviso = "36-1-proviso" in codes
        context.update(
            grounds=_grounds(policy, facts.request_type, codes),
            reason=x.text("reason"),
            # 표준지침 32②: a refusal under the art. 36(1) proviso states the statute itself.
            statute=x.text("statute", required=proviso),
            proviso_36_1=proviso,
        )
    return context


def _withdrawal(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    withdrawn_at = x.instant("withdrawn_at")
    assert withdrawn_at is not None
    return {"withdrawn_at_text": kst_datetime_text(withdrawn_at)}


def _identity_rejected(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    return {"reason": x.text("reason")}


def _objection_result(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    _require_type(x.kind, facts, frozenset({"objection"}))
    outcome = x.choice("outcome", (Outcome.GRANTED.value, Outcome.REFUSED.value))
    return {
        "outcome": outcome,
        "reason": x.text("reason", required=outcome == Outcome.REFUSED),
        "objected_reference": x.text("objected_reference"),
        # An upheld objection reopens the original request under a new reference.
        "reopened_reference": x.text("reopened_reference", required=outcome == Outcome.GRANTED),
    }


def _objection_receipt(x: _Extra, facts: NoticeFacts, policy: Policy) -> dict[str, Any]:
    due_on = x.day("objection_due_on")
    assert due_on is not None
    return {
        "objection_reference": x.text("objection_reference"),
        "objection_due_text": date_text(due_on),
        "objection_period_days": x.whole("period_days", minimum=1)
        if "period_days" in facts.extra
        else period_for("objection"),
    }


_BUILDERS = {
    NoticeKind.RECEIPT: _receipt,
    NoticeKind.VERIFICATION_CODE: _verification_code,
    NoticeKind.INFO_REQUEST: _info_request,
    NoticeKind.POSTPONEMENT: _postponement,
    NoticeKind.ACCESS_RESULT: _access_result,
    NoticeKind.ACTION_RESULT: _action_result,
    NoticeKind.WITHDRAWAL: _withdrawal,
    NoticeKind.OBJECTION_RECEIPT: _objection_receipt,
    NoticeKind.IDENTITY_REJECTED: _identity_rejected,
    NoticeKind.OBJECTION_RESULT: _objection_result,
    NoticeKind.STATUS_UPDATE: _status_update,
}
