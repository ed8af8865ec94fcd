"""Public facts: the catalog of the policy in force, deadline computation, health."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from app.catalog import build_catalog
from app.deps import RuntimeDep
from app.models.bounds import Instant
from app.models.request_api import FileableType
from app.routers.common import problem_responses
from app.workflows.deadlines import legal_deadline, period_for, target_date

router = APIRouter(tags=["meta"])


class ExplainOut(BaseModel):
    date: date
    note: str


class DeadlineOut(BaseModel):
    type: str
    received_at: AwareDatetime
    received_on: date
    legal_deadline: date
    period_days: int
    target_date: date
    calendar_confirmed: bool
    explain: list[ExplainOut]


@router.get(
    "/v1/deadlines",
    response_model=DeadlineOut,
    responses=problem_responses(422),
    summary="법정 처리기한 계산 (legal deadline)",
)
def deadlines(
    rt: RuntimeDep,
    received_at: Instant,
    type: FileableType = Query("access"),
) -> DeadlineOut:
    """민법 제157조·제159조·제161조에 따른 법정 처리기한과 그 계산 과정."""
    d = legal_deadline(received_at, period_for(type), rt.calendar)
    return DeadlineOut(
        type=type,
        received_at=received_at,
        received_on=d.received_on,
        legal_deadline=d.due_on,
        period_days=d.period_days,
        target_date=target_date(d.due_on, rt.settings.target_days_before, rt.calendar),
        calendar_confirmed=not d.beyond_calendar,
        explain=[ExplainOut(date=s.date, note=s.note) for s in d.explain],
    )


@router.get("/v1/catalog", summary="처리방침 안내 (the policy in force)")
def catalog(rt: RuntimeDep) -> dict[str, Any]:
    """처리방침에 따른 서비스·개인정보 항목·요구 유형·제한 사유."""
    return build_catalog(rt.policy)


@router.get("/healthz", include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}
