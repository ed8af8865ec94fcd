"""Staff writes on art. 37-2 requests: the deadline extension (Decree art. 44-3) and naming
the automated decision a request is about. Every write needs If-Match."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.deps import CaseWrite, TriageWrite
from app.models.request_api import StaffRequestDetail
from app.routers.common import problem_responses
from app.services.requests import automated
from app.textsafety import MultiLine, OneLine

router = APIRouter(
    prefix="/v1/staff/requests/{reference}",
    tags=["staff"],
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: MultiLine = Field(min_length=1, max_length=2000, description="the subject reads it")


class AutomatedDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: OneLine = Field(max_length=64, description="a code of the catalog's automated_decisions")


@router.post(
    "/extension",
    response_model=StaffRequestDetail,
    summary="처리기간 연장 (시행령 제44조의3: 30일씩 2번까지)",
)
def extend(body: ExtensionIn, w: CaseWrite) -> StaffRequestDetail:
    """Moves the deadline by 30 days counted from the current one; 409 `extension_limit` after
    two, 409 `deadline_passed` once the current deadline's KST day has ended, 409
    `invalid_transition` for a type other than the three of art. 37-2."""
    automated.extend(w.session, w.rt, w.req, reason=body.reason, actor=w.actor)
    return w.detail()


@router.post(
    "/automated-decision",
    response_model=StaffRequestDetail,
    summary="대상 자동화된 결정 지정 (정보주체가 '모름'을 고른 요구)",
)
def resolve(body: AutomatedDecisionIn, w: TriageWrite) -> StaffRequestDetail:
    automated.resolve_decision(w.session, w.rt, w.req, code=body.code, actor=w.actor)
    return w.detail()
