"""Staff decisions: decide, approve, postpone access. Every write needs If-Match."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session

from app.deps import CaseWrite, OfficerWrite, TriageWrite
from app.errors import FieldError, body_checks
from app.models.bounds import Day, Instant
from app.models.request_api import RequestCreated, StaffRequestDetail
from app.routers.common import problem_responses
from app.services.decisions import approval as decisions_approval
from app.services.decisions import drafting, objections
from app.services.decisions import postponement as decisions_postponement
from app.services.requests.detail import request_by_reference
from app.textsafety import MultiLine, OneLine
from app.workflows.automated import Explanation
from app.workflows.lifecycle import Outcome

router = APIRouter(
    prefix="/v1/staff/requests/{reference}",
    tags=["staff"],
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)


class AccessIn(BaseModel):
    """How and when the data is made available (Decree art. 41(5)) and the fee (art. 47)."""

    method: Literal["electronic", "mail", "in_person"]
    available_at: Instant | None = None
    place: OneLine | None = Field(default=None, max_length=300)
    fee_krw: int = Field(default=0, ge=0)
    postage_krw: int = Field(default=0, ge=0)
    caused_by_controller: bool = False


class DecisionIn(BaseModel):
    outcome: Outcome
    grounds: list[OneLine] = Field(default_factory=list, max_length=12)
    reason: MultiLine | None = Field(
        default=None, max_length=4000, description="the subject reads it"
    )
    items_granted: list[OneLine] = Field(default_factory=list)
    items_withheld: list[OneLine] = Field(default_factory=list)
    changes: MultiLine | None = Field(default=None, max_length=4000, description="correction: what")
    access: AccessIn | None = None
    record_dates: dict[OneLine, Day | None] = Field(
        default_factory=dict,
        description="deletion: retention rule code -> date the record was made (null: none)",
    )
    subject_stated_termination: bool | None = Field(
        default=None, description="art. 37(2)4 needs an explicit false"
    )
    # Art. 37-2
    measure: Literal["not_applied", "human_reprocessing"] | None = Field(
        default=None, description="automated-decision refusal granted: what was done"
    )
    explanation: ExplanationIn | None = Field(
        default=None, description="automated-decision explanation or review granted"
    )


class ExplanationIn(BaseModel):
    """Decree art. 44-3(2): the result, the main criteria and procedure, the data types used
    (item codes). For a review: the reconsidered result (the rest optional)."""

    result: MultiLine = Field(min_length=1, max_length=4000)
    criteria: MultiLine | None = Field(default=None, max_length=4000)
    data_types: list[OneLine] = Field(default_factory=list, max_length=50)


class ApprovalIn(BaseModel):
    approve: bool
    note: MultiLine | None = Field(default=None, max_length=2000)


class PostponementIn(BaseModel):
    reason: MultiLine = Field(min_length=1, max_length=2000)
    expected_end: Day | None = None


class PostponementEndIn(BaseModel):
    ended_on: Day | None = Field(default=None, description="the day the reason ended (KST)")


def _decision_input(body: DecisionIn) -> drafting.DecisionInput:
    a = body.access
    return drafting.DecisionInput(
        outcome=body.outcome,
        grounds=body.grounds,
        reason=body.reason,
        items_granted=body.items_granted,
        items_withheld=body.items_withheld,
        changes=body.changes,
        access=drafting.AccessTerms(**a.model_dump()) if a else None,
        record_dates=body.record_dates,
        subject_stated_termination=body.subject_stated_termination,
        measure=body.measure,
        explanation=_explanation(body.explanation),
    )


def _decision_checks(http: Request, raw: dict[str, Any], skip: frozenset[str]) -> list[FieldError]:
    """A decision body that failed validation: the domain rules on the fields that passed
    (grounds, items, record dates), in the same 422. Without a valid `outcome` there is
    nothing to check them against."""
    try:
        rest = DecisionIn.model_validate({k: v for k, v in raw.items() if k not in skip})
    except ValidationError:
        return []
    rt = http.app.state.runtime
    with Session(rt.engine) as session:
        request = request_by_reference(session, http.path_params["reference"])
        return drafting.body_errors(session, rt, request, _decision_input(rest), skip)


@router.post("/decision", response_model=StaffRequestDetail, summary="결정 (인용·일부 인용·거절)")
@body_checks(_decision_checks)
def decide(body: DecisionIn, w: CaseWrite) -> StaffRequestDetail:
    drafting.draft(w.session, w.rt, w.req, _decision_input(body), w.staff)
    return w.detail()


def _explanation(x: ExplanationIn | None) -> Explanation | None:
    if x is None:
        return None
    return Explanation(result=x.result, criteria=x.criteria, data_types=x.data_types)


@router.post("/approval", response_model=StaffRequestDetail, summary="책임자 승인 또는 반려")
def approval(body: ApprovalIn, w: OfficerWrite) -> StaffRequestDetail:
    decisions_approval.approve(
        w.session, w.rt, w.req, w.staff, approve=body.approve, note=body.note
    )
    return w.detail()


@router.post("/postponement", response_model=StaffRequestDetail, summary="열람 연기")
def postpone(body: PostponementIn, w: CaseWrite) -> StaffRequestDetail:
    decisions_postponement.postpone(
        w.session,
        w.rt,
        w.req,
        reason=body.reason,
        expected_end=body.expected_end,
        actor=w.actor,
    )
    return w.detail()


@router.post(
    "/postponement/end",
    response_model=StaffRequestDetail,
    summary="연기 사유 종료: 그날부터 10일의 새 기한",
)
def end_postponement(body: PostponementEndIn, w: CaseWrite) -> StaffRequestDetail:
    decisions_postponement.end_postponement(
        w.session, w.rt, w.req, ended_on=body.ended_on, actor=w.actor
    )
    return w.detail()


class StaffObjectionIn(BaseModel):
    reason: MultiLine = Field(min_length=1, max_length=4000)


@router.post(
    "/objections",
    status_code=201,
    response_model=RequestCreated,
    summary="이의제기 접수 (received by e-mail, letter or in a chat)",
)
def file_objection(body: StaffObjectionIn, w: TriageWrite) -> RequestCreated:
    """Art. 38(5): the notices also offer objecting by e-mail to the contact (and, in a chat,
    only that), so staff record such an objection as the requester's linked request. The
    access code goes back to staff, who pass it on as for a staff filing."""
    return objections.file_objection(w.session, w.rt, w.req, body.reason, actor=w.actor)
