"""Public endpoints: no staff token. Intake and the requester's own view."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response

from app.deps import RuntimeDep, SessionDep
from app.models.request_api import RequestCreate, RequestCreated, RequestPublic
from app.routers.common import created_headers, problem_responses, require_json
from app.services.filing import FilingContext, file_request
from app.services.requests import get_for_requester

router = APIRouter(prefix="/v1/requests", tags=["public"])


@router.post(
    "",
    status_code=201,
    response_model=RequestCreated,
    dependencies=[Depends(require_json)],
    responses=problem_responses(409, 413, 415, 422),
    summary="열람등요구 접수 (file a request)",
)
def create_request(
    payload: RequestCreate,
    session: SessionDep,
    rt: RuntimeDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> RequestCreated:
    now = rt.clock()
    created, replayed = file_request(
        session,
        rt,
        payload,
        FilingContext(
            channel="api",
            received_at=now,
            actor="requester",
            idempotency_scope="public",
            idempotency_key=idempotency_key,
        ),
    )
    created_headers(response, f"/v1/requests/{created.reference}", replayed=replayed)
    return created


@router.get(
    "/{reference}",
    response_model=RequestPublic,
    responses=problem_responses(404),
    summary="내 요청 조회 (the requester's view)",
)
def read_request(
    reference: str,
    session: SessionDep,
    rt: RuntimeDep,
    x_access_code: Annotated[str, Header(max_length=64)] = "",
) -> RequestPublic:
    return get_for_requester(session, rt, reference, x_access_code)
