"""Staff endpoints (bearer token): the queue, filing on a requester's behalf, the detail."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.deps import (
    CaseHandler,
    CaseWrite,
    CurrentStaff,
    IdempotencyKey,
    JsonBody,
    QueueParams,
    RuntimeDep,
    SessionDep,
    TriageDep,
    TriageWrite,
    detail_response,
)
from app.errors import body_checks
from app.evidence.sniff import EXTENSIONS
from app.models.bounds import Day, IdField, IdPath
from app.models.notice import NoticeOut
from app.models.request_api import (
    QueuePage,
    RequestCreated,
    StaffRequestCreate,
    StaffRequestDetail,
)
from app.routers.common import Page, client_ip, created_headers, problem_responses
from app.routers.filing_body import filing_checks
from app.services.identity import checks, evidence, info_requests
from app.services.intake import FilingContext, file_request
from app.services.notices.queue import notice_out, notices_of
from app.services.notices.resend import resend
from app.services.requests import assignment
from app.services.requests.detail import log_access, request_by_reference
from app.services.requests.queue import list_queue
from app.services.sla import summary as sla_counts
from app.textsafety import MultiLine
from app.workflows.identity import IdentityMethod

router = APIRouter(prefix="/v1/staff", tags=["staff"], responses=problem_responses(401, 403, 422))


@router.get("/me", summary="토큰 확인 (who am I)")
def me(staff: CurrentStaff) -> dict[str, object]:
    return {"staff_id": staff.id, "name": staff.name, "role": staff.role}


@router.post(
    "/requests",
    status_code=201,
    response_model=RequestCreated,
    responses=problem_responses(409, 413, 415, 422),
    summary="서면·전화·팩스 등으로 받은 요구 등록",
)
@body_checks(filing_checks)
def create_request(
    staff: TriageDep,
    # After the token check: who may not file learns nothing about the body.
    _json: JsonBody,
    payload: StaffRequestCreate,
    session: SessionDep,
    rt: RuntimeDep,
    http: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RequestCreated:
    created, replayed = file_request(
        session,
        rt,
        payload,
        FilingContext(
            channel=payload.channel,
            received_at=payload.received_at,
            actor=f"staff:{staff.id}",
            idempotency_scope=f"staff:{staff.id}",
            idempotency_key=idempotency_key,
            client=client_ip(http),
        ),
    )
    created_headers(response, f"/v1/staff/requests/{created.reference}", replayed=replayed)
    return created


@router.get(
    "/requests",
    response_model=QueuePage,
    responses=problem_responses(422),
    summary="처리 대기열 (the queue)",
)
def queue(
    staff: CaseHandler, session: SessionDep, rt: RuntimeDep, params: QueueParams
) -> QueuePage:
    """처리 대기열: 기한 순(기본) 또는 최근 접수 순, 커서 페이지."""
    return list_queue(
        session, rt, params.filter(default_limit=rt.settings.page_limit_default), staff
    )


@router.get(
    "/requests/{reference}",
    response_model=StaffRequestDetail,
    responses=problem_responses(404),
    summary="요청 상세 (개인정보 포함, 열람 기록이 남습니다)",
)
def detail(
    reference: str,
    staff: CaseHandler,
    session: SessionDep,
    rt: RuntimeDep,
    request: Request,
    response: Response,
) -> StaffRequestDetail:
    return detail_response(session, rt, reference, staff, request, response)


@router.get(
    "/requests/{reference}/notices",
    response_model=Page[NoticeOut],
    responses=problem_responses(404),
    summary="요청의 통지 목록과 발송 상태",
)
def list_notices(
    reference: str, staff: CaseHandler, session: SessionDep, rt: RuntimeDep, request: Request
) -> Page[NoticeOut]:
    req = request_by_reference(session, reference)
    assert req.id is not None
    log_access(session, rt, req, staff, "view_notices", client_ip(request))
    return Page(items=[notice_out(rt, n) for n in notices_of(session, req.id)])


@router.post(
    "/requests/{reference}/notices/{notice_id}/resend",
    status_code=202,
    response_model=NoticeOut,
    responses=problem_responses(404, 409, 412, 428),
    summary="통지 재발송 (a new copy of a delivered or failed notice)",
)
def resend_notice(notice_id: IdPath, w: CaseWrite) -> NoticeOut:
    copy = resend(w.session, w.rt, w.req, notice_id, actor=w.actor)
    w.etag()
    return notice_out(w.rt, copy)


class IdentityIn(BaseModel):
    result: Literal["verified", "failed"]
    method: IdentityMethod
    note: MultiLine | None = Field(default=None, max_length=2000, description="internal note")
    reason: MultiLine | None = Field(
        default=None, max_length=1000, description="shown to the requester when failed"
    )


class InfoRequestIn(BaseModel):
    message: MultiLine = Field(
        min_length=1, max_length=4000, description="what to supply, in Korean"
    )
    respond_by: Day | None = None


@router.post(
    "/requests/{reference}/identity",
    response_model=StaffRequestDetail,
    responses=problem_responses(404, 409, 412, 428),
    summary="본인·대리권 확인 결과 기록",
)
def identity_check(body: IdentityIn, w: CaseWrite) -> StaffRequestDetail:
    checks.staff_identity_check(
        w.session,
        w.rt,
        w.req,
        result=body.result,
        method=body.method,
        note=body.note,
        reason=body.reason,
        actor=w.actor,
    )
    return w.detail()


@router.post(
    "/requests/{reference}/info-requests",
    response_model=StaffRequestDetail,
    responses=problem_responses(404, 409, 412, 428),
    summary="보완 요청 (the legal deadline keeps running)",
)
def info_request(body: InfoRequestIn, w: TriageWrite) -> StaffRequestDetail:
    info_requests.request_information(
        w.session,
        w.rt,
        w.req,
        message=body.message,
        respond_by=body.respond_by,
        actor=w.actor,
    )
    return w.detail()


@router.get(
    "/requests/{reference}/attachments/{attachment_id}",
    response_class=StreamingResponse,
    responses=problem_responses(404),
    summary="제출 서류 내려받기 (열람 기록이 남습니다)",
)
def download_attachment(
    reference: str,
    attachment_id: IdPath,
    staff: CaseHandler,
    session: SessionDep,
    rt: RuntimeDep,
    request: Request,
) -> StreamingResponse:
    req = request_by_reference(session, reference)
    attachment = evidence.attachment_of(session, req, attachment_id)
    log_access(
        session,
        rt,
        req,
        staff,
        "download_attachment",
        client_ip(request),
        attachment_id=attachment_id,
    )
    extension = EXTENSIONS.get(attachment.content_type, "bin")  # access extracts: more types
    name = f"{req.reference}-{attachment.id}-{attachment.kind}.{extension}"
    return StreamingResponse(
        rt.evidence.open(attachment.blob_key),
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Length": str(attachment.size),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


class RequestPatch(BaseModel):
    assignee: IdField | None = Field(default=None, description="a staff id, or null to unassign")
    note: MultiLine | None = Field(default=None, max_length=4000, description="internal note")


@router.patch(
    "/requests/{reference}",
    response_model=StaffRequestDetail,
    responses=problem_responses(404, 412, 422, 428),
    summary="담당자 지정·내부 메모",
)
def patch_request(body: RequestPatch, w: TriageWrite) -> StaffRequestDetail:
    assignment.assign(
        w.session, w.rt, w.req, fields=body.model_dump(exclude_unset=True), staff=w.staff
    )
    return w.detail()


@router.get("/sla/summary", summary="SLA 현황: 상태·유형·서비스별 건수, 기한 경과·임박, 처리 실적")
def sla_summary(staff: CaseHandler, session: SessionDep, rt: RuntimeDep) -> dict[str, object]:
    return sla_counts.summary(session, rt)
