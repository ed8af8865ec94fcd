"""What each kind of notice needs beyond the request's facts: one model per kind, one union.

Pure. `parse_extra` is the one point where a caller's values become the kind's model; a
missing or malformed value is a ValueError naming the kind and the key (`extra['reason']`).
Dates may be `date` objects or "YYYY-MM-DD"; instants tz-aware `datetime` objects or ISO 8601
strings with an offset. A value of None counts as not given. What needs the policy (item and
ground codes) is checked when the context is built (app.workflows.notices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from app.models.vocab import GRANTING, Delivery
from app.workflows.lifecycle import Outcome

# Outcomes that withhold something on a ground: the grounds and the reason are stated.
_LIMITING = frozenset({Outcome.PARTIALLY_GRANTED, Outcome.REFUSED})


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
    # Art. 37(5), 표준지침 33②: what became of the data whose processing was stopped.
    SUSPENSION_FOLLOWUP = "suspension_followup"
    # A new access code, asked for with the reference and a contact the request was filed
    # with; sent only to that contact (Decree art. 46(1): the contact proves the person).
    ACCESS_CODE = "access_code"
    # Processor mode (art. 26(8)): the result of a request decided by the clinic (the
    # controller) whose patients' data Carelabs holds as its processor.
    CLINIC_RESULT = "clinic_result"
    # Decree art. 44-3: the 30-day period of an art. 37-2 request extended, with the reason.
    DEADLINE_EXTENSION = "deadline_extension"
    # Art. 37-2 results: a refusal's measure, the explanation of Decree art. 44-3(2), a
    # review's reconsidered result, or a refusal of the request with its ground.
    AUTOMATED_DECISION_RESULT = "automated_decision_result"
    # A request closed as a duplicate of an open one by the same subject, for the same
    # service and type: which request continues, and how to object (art. 38(5)).
    DUPLICATE_CLOSED = "duplicate_closed"


class ExtraError(ValueError):
    """A value of `extra` that is missing or malformed (raised inside the models)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"extra[{key!r}] {problem}")
        self.key, self.problem = key, problem


# Field checks: each raises a plain ValueError whose text completes "extra['key'] ...".


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be non-empty text")
    return value.strip()


def _day(value: Any) -> date:
    try:
        if isinstance(value, str):
            return date.fromisoformat(value)
    except ValueError:
        pass
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise ValueError("must be a date (YYYY-MM-DD)")


def _instant(value: Any) -> datetime:
    try:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
    except ValueError:
        pass
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value
    raise ValueError("must be a timezone-aware date and time")


def _whole(minimum: int) -> BeforeValidator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"must be a whole number of at least {minimum}")
        return value

    return BeforeValidator(check)


def _codes(value: Any) -> list[str]:
    """A list of codes, each once; an empty list is "not given" (required ones say so)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError("must be a list of codes")
    if value and not all(isinstance(c, str) and c for c in value):
        raise ValueError("must list at least one code")
    return list(dict.fromkeys(value))


def _choice(allowed: Sequence[str]) -> BeforeValidator:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)} (got {value!r})")
        return str(value)

    return BeforeValidator(check)


def _status_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value


Text = Annotated[str, BeforeValidator(_text)]
Day = Annotated[date, BeforeValidator(_day)]
Instant = Annotated[datetime, BeforeValidator(_instant)]
Codes = Annotated[list[str], BeforeValidator(_codes)]
AnyOutcome = Annotated[Outcome, _choice(tuple(o.value for o in Outcome))]
Method = Annotated[Delivery, _choice(tuple(d.value for d in Delivery))]


def _required(present: object, key: str) -> None:
    if present is None or present == []:
        raise ExtraError(key, "is required")


class _Extra(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    # Every kind, optional: the link to the requester's status page.
    status_url: Annotated[str, BeforeValidator(_status_url)] | None = None


class ReceiptExtra(_Extra):
    kind: Literal[NoticeKind.RECEIPT] = NoticeKind.RECEIPT
    # As app.workflows.identity.next_action gives it; checked against the steps of the
    # request's channel (web or chat) when the context is built.
    next_action: Text
    # Processor mode (art. 26(8)): the clinic that is the controller, whom Carelabs forwards
    # the request to; `medical_records`: 진료기록 go by the clinic's 의료법 제21조 procedure.
    clinic_name: str | None = None
    clinic_contact: str | None = None
    medical_records: bool = False


class VerificationCodeExtra(_Extra):
    kind: Literal[NoticeKind.VERIFICATION_CODE] = NoticeKind.VERIFICATION_CODE
    code: Text
    valid_minutes: Annotated[int, _whole(1)]


class AccessCodeExtra(_Extra):
    kind: Literal[NoticeKind.ACCESS_CODE] = NoticeKind.ACCESS_CODE
    new_code: Text  # masked in the stored body once delivered, as a one-time code is


class InfoRequestExtra(_Extra):
    kind: Literal[NoticeKind.INFO_REQUEST] = NoticeKind.INFO_REQUEST
    message: Text  # what to supply
    respond_by: Day | None = None


class PostponementExtra(_Extra):
    """Access only."""

    kind: Literal[NoticeKind.POSTPONEMENT] = NoticeKind.POSTPONEMENT
    reason: Text
    expected_end: Day | None = None


class AccessResultExtra(_Extra):
    """Access only. Granted and partially granted: the items, how (and, in person, when) they
    are made available, where (in person and electronic, e.g. "요청 조회 화면"), and the fee
    (0 = free). Partially granted and refused: the grounds and the reason; partially granted
    also the items withheld (refused: optional, absent = everything requested). No data held:
    nothing but an optional reason (the notice says that nothing is held, and how to object)."""

    kind: Literal[NoticeKind.ACCESS_RESULT] = NoticeKind.ACCESS_RESULT
    outcome: AnyOutcome
    items_granted: Codes = Field(default_factory=list)
    items_withheld: Codes = Field(default_factory=list)
    grounds: Codes = Field(default_factory=list)
    reason: Text | None = None
    method: Method | None = None
    available_at: Instant | None = None
    place: Text | None = None
    fee_krw: Annotated[int, _whole(0)] | None = None
    # Art. 38(3): postage, for a mailed copy only, is shown apart from the fee (form No. 9).
    postage_krw: Annotated[int, _whole(0)] | None = None
    # Electronic access: the package (extracts and 열람내역서) is ready to download until then.
    package_expires_at: Instant | None = None
    # Art. 28-7: the items asked about that are kept only as 가명정보, and the holders that keep
    # only 가명정보: left out, and the notice says why.
    pseudonymized: Codes = Field(default_factory=list)
    pseudonymized_holders: Codes = Field(default_factory=list)

    @model_validator(mode="after")
    def _by_outcome(self) -> Self:
        if self.outcome is Outcome.UNCHANGED:
            raise ValueError("access_result: unchanged is an outcome of a correction only")
        if self.outcome is Outcome.NO_DATA_HELD and (self.items_granted or self.items_withheld):
            raise ValueError("access_result: nothing is held, so no item is granted or withheld")
        if self.outcome in GRANTING:
            _required(self.items_granted, "items_granted")
        # Decree art. 42(1): a partial grant withholds only the items a ground covers.
        if self.outcome is Outcome.PARTIALLY_GRANTED:
            _required(self.items_withheld, "items_withheld")
        if self.outcome is Outcome.GRANTED and self.items_withheld:
            raise ValueError(
                "access_result: items are withheld, so the outcome is partially_granted"
            )
        if self.outcome is Outcome.REFUSED and self.items_granted:
            raise ValueError(
                "access_result: items are granted, so the outcome is partially_granted"
            )
        if set(self.items_granted) & set(self.items_withheld):
            raise ValueError("access_result: an item is both granted and withheld")
        if self.outcome in GRANTING:
            # Decree art. 41(5): the notice names the data and the date, time and place of
            # access. A visit needs a time and a place; electronic access needs the "place" too
            # (where to find the copy); a mailed copy goes to the requester's address.
            _required(self.method, "method")
            if self.method is Delivery.IN_PERSON:
                _required(self.available_at, "available_at")
            _required(self.fee_krw, "fee_krw")
            if self.method is not Delivery.MAIL:
                _required(self.place, "place")
        if self.outcome in _LIMITING:
            # Decree art. 41(5) (partial grant) and art. 42(2) (refusal): the reason and the
            # objection method; art. 35(4): the ground relied on.
            _required(self.grounds, "grounds")
            _required(self.reason, "reason")
        return self


class ActionResultExtra(_Extra):
    """Correction, deletion, suspension, consent withdrawal. Granted and partially granted:
    what was done, in words; partially granted and refused: the grounds, the reason, and the
    statute when the grounds include 36-1-proviso (the other statute that names the data).
    Unchanged (correction): the reason the data stays as it is. No data held: an optional
    reason."""

    kind: Literal[NoticeKind.ACTION_RESULT] = NoticeKind.ACTION_RESULT
    outcome: AnyOutcome
    action: Text | None = None
    grounds: Codes = Field(default_factory=list)
    reason: Text | None = None
    statute: Text | None = None
    # Art. 28-7, as for access: pseudonymized items and holders left out.
    pseudonymized: Codes = Field(default_factory=list)
    pseudonymized_holders: Codes = Field(default_factory=list)

    @model_validator(mode="after")
    def _by_outcome(self) -> Self:
        if self.outcome in GRANTING:
            # Decree art. 43(3) / 44(2): the fact of the action taken (form No. 10).
            _required(self.action, "action")
        if self.outcome is Outcome.UNCHANGED:
            # Art. 38(5): the subject learns why the data was not corrected, to object to it.
            _required(self.reason, "reason")
        if self.outcome in _LIMITING:
            # Decree art. 43(3) / 44(2), art. 37(4): the fact, the reason and the objection
            # method; 표준지침 32②: a refusal under the art. 36(1) proviso states the statute.
            _required(self.grounds, "grounds")
            _required(self.reason, "reason")
            if "36-1-proviso" in self.grounds:
                _required(self.statute, "statute")
        return self


class WithdrawalExtra(_Extra):
    kind: Literal[NoticeKind.WITHDRAWAL] = NoticeKind.WITHDRAWAL
    withdrawn_at: Instant


class StatusUpdateExtra(_Extra):
    kind: Literal[NoticeKind.STATUS_UPDATE] = NoticeKind.STATUS_UPDATE
    message: Text  # what happened and what to do next, in Korean


class SuspensionFollowupExtra(_Extra):
    """Suspension only: the items destroyed after the stop (art. 37(5)) and the items dealt with
    otherwise, with why (the officer's reason for not destroying them)."""

    kind: Literal[NoticeKind.SUSPENSION_FOLLOWUP] = NoticeKind.SUSPENSION_FOLLOWUP
    destroyed: Codes = Field(default_factory=list)
    kept: Codes = Field(default_factory=list)
    kept_reason: Text | None = None

    @model_validator(mode="after")
    def _accounted(self) -> Self:
        if not self.kept:  # nothing kept: something was destroyed
            _required(self.destroyed, "destroyed")
        if self.kept:
            _required(self.kept_reason, "kept_reason")
        return self


class IdentityRejectedExtra(_Extra):
    kind: Literal[NoticeKind.IDENTITY_REJECTED] = NoticeKind.IDENTITY_REJECTED
    reason: Text  # why identity or authority was not established


class DuplicateClosedExtra(_Extra):
    kind: Literal[NoticeKind.DUPLICATE_CLOSED] = NoticeKind.DUPLICATE_CLOSED
    continuing_reference: Text  # the open request that goes on and answers both


class ObjectionResultExtra(_Extra):
    """On the objection request: the reason (refused) and the request objected to; granted:
    the request under which it is taken up again."""

    kind: Literal[NoticeKind.OBJECTION_RESULT] = NoticeKind.OBJECTION_RESULT
    outcome: Annotated[Outcome, _choice((Outcome.GRANTED.value, Outcome.REFUSED.value))]
    reason: Text | None = None
    objected_reference: Text
    reopened_reference: Text | None = None

    @model_validator(mode="after")
    def _by_outcome(self) -> Self:
        if self.outcome is Outcome.REFUSED:
            _required(self.reason, "reason")
        else:
            # An upheld objection reopens the original request under a new reference.
            _required(self.reopened_reference, "reopened_reference")
        return self


class ObjectionReceiptExtra(_Extra):
    """The objection's reference and due date (the other facts describe the request objected
    to), and the company's period for objections when it is not the default."""

    kind: Literal[NoticeKind.OBJECTION_RECEIPT] = NoticeKind.OBJECTION_RECEIPT
    objection_reference: Text
    objection_due_on: Day
    period_days: Annotated[int, _whole(1)] | None = None


class ClinicResultExtra(_Extra):
    """Processor mode: what the clinic (the controller) decided, and who to turn to."""

    kind: Literal[NoticeKind.CLINIC_RESULT] = NoticeKind.CLINIC_RESULT
    instruction: Annotated[str, _choice(("carry_out", "refuse", "clinic_answers"))]
    clinic_name: Text
    clinic_contact: Text
    reason: Text | None = None  # the clinic's reason for a refusal
    # carry_out: the items acted on (their names), an access's delivery and its download expiry
    items_done: list[Text] = Field(default_factory=list)
    method: Method | None = None
    package_expires_at: Instant | None = None
    # clinic_answers: by when the clinic answers (its deadline)
    clinic_due_on: Day | None = None

    @model_validator(mode="after")
    def _reason_for_refusal(self) -> Self:
        if self.instruction == "refuse":
            _required(self.reason, "reason")
        if self.instruction == "clinic_answers":
            _required(self.clinic_due_on, "clinic_due_on")
        return self


class DeadlineExtensionExtra(_Extra):
    """Decree art. 44-3: the reason, the deadline before and after, and which extension
    (1 or 2) this is."""

    kind: Literal[NoticeKind.DEADLINE_EXTENSION] = NoticeKind.DEADLINE_EXTENSION
    reason: Text
    previous_due_on: Day
    new_due_on: Day
    number: Annotated[int, _whole(1)]


class AutomatedDecisionResultExtra(_Extra):
    """Art. 37-2. Granted: a refusal's measure (`not_applied` | `human_reprocessing`), an
    explanation's result, criteria and data types (Decree art. 44-3(2)), a review's
    reconsidered result. Refused: the grounds and the reason. No data held: an optional reason.
    `decision`: the code of the policy's automated decision."""

    kind: Literal[NoticeKind.AUTOMATED_DECISION_RESULT] = NoticeKind.AUTOMATED_DECISION_RESULT
    outcome: AnyOutcome
    decision: Text | None = None
    measure: Annotated[str, _choice(("not_applied", "human_reprocessing"))] | None = None
    result: Text | None = None
    criteria: Text | None = None
    data_types: Codes = Field(default_factory=list)
    grounds: Codes = Field(default_factory=list)
    reason: Text | None = None

    @model_validator(mode="after")
    def _by_outcome(self) -> Self:
        if self.outcome not in (Outcome.GRANTED, Outcome.REFUSED, Outcome.NO_DATA_HELD):
            raise ValueError(f"automated_decision_result: no outcome {self.outcome.value!r}")
        if self.outcome is not Outcome.NO_DATA_HELD:
            _required(self.decision, "decision")
        if self.outcome is Outcome.REFUSED:
            # Decree art. 44-3: a refusal is notified with its reason; art. 38(5) objection.
            _required(self.grounds, "grounds")
            _required(self.reason, "reason")
        if self.outcome is Outcome.GRANTED and self.measure in (None, "human_reprocessing"):
            # Art. 37-2(3): a person's re-processing is told with what came of it.
            _required(self.result, "result")
        return self


NoticeExtra = Annotated[
    ReceiptExtra
    | VerificationCodeExtra
    | AccessCodeExtra
    | InfoRequestExtra
    | PostponementExtra
    | AccessResultExtra
    | ActionResultExtra
    | WithdrawalExtra
    | StatusUpdateExtra
    | SuspensionFollowupExtra
    | IdentityRejectedExtra
    | DuplicateClosedExtra
    | ObjectionResultExtra
    | ObjectionReceiptExtra
    | ClinicResultExtra
    | DeadlineExtensionExtra
    | AutomatedDecisionResultExtra,
    Field(discriminator="kind"),
]

_ADAPTER: TypeAdapter[NoticeExtra] = TypeAdapter(NoticeExtra)


def parse_extra(kind: NoticeKind, values: NoticeExtra | Mapping[str, Any] | None) -> NoticeExtra:
    """The `kind` model of `values` (a model of that kind is taken as it is)."""
    kind = NoticeKind(kind)
    if isinstance(values, BaseModel):
        if values.kind is not kind:
            raise ValueError(f"{kind} notice: extra is for a {values.kind} notice")
        return values
    given = dict(values or {})
    if "access_code" in given:
        # The access code is shown once at filing and stored hashed; a notice never carries it.
        raise ValueError("extra['access_code'] must not be given: notices never show it")
    given = {k: v for k, v in given.items() if v is not None and k != "kind"}
    try:
        return _ADAPTER.validate_python({**given, "kind": kind})
    except ValidationError as e:
        raise _named(kind, e) from None


def _named(kind: NoticeKind, e: ValidationError) -> ValueError:
    """The first error, as "<kind> notice: extra['key'] <problem>"."""
    error = e.errors()[0]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ExtraError):
        key, problem = cause.key, cause.problem
    elif error["type"] == "missing":
        key, problem = str(error["loc"][-1]), "is required"
    else:
        loc = [p for p in error["loc"] if p != kind.value and not isinstance(p, int)]
        if not loc:  # a check across fields
            return ValueError(str(cause) if cause is not None else error["msg"])
        key = str(loc[0])
        problem = str(cause) if cause is not None else error["msg"]
    return ValueError(f"{kind} notice: extra[{key!r}] {problem}")
