"""Public endpoints: no staff token. Intake, the requester's own view, and what the
requester does with their access code: verify, supplement, reply."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from app.core.limits import accepts_files
from app.deps import AccessCode, IdempotencyKey, RuntimeDep, SessionDep
from app.errors import DomainError
from app.models.request_api import RequestCreate, RequestCreated, RequestPublic
from app.routers.common import client_ip, created_headers, problem_responses
from app.routers.filing_body import FILING_BODY_DOCS, read_filing_body, read_supplement
from app.services.decisions import objections
from app.services.identity import access_code, evidence, info_requests, otp
from app.services.intake import FilingContext, file_request
from app.services.requests.requester import authorize_requester, get_for_requester
from app.textsafety import MultiLine, OneLine
from app.workflows import rrn

router = APIRouter(prefix="/v1/requests", tags=["public"], responses=problem_responses(422, 429))


@router.post(
    "",
    status_code=201,
    response_model=RequestCreated,
    responses=problem_responses(409, 413, 415, 422, 429),
    openapi_extra=FILING_BODY_DOCS,
    summary="열람등요구 접수 (file a request)",
)
@accepts_files
async def create_request(
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RequestCreated:
    """JSON, or `multipart/form-data` with a JSON part `request`, files `attachments` and a
    parallel field `attachment_kinds` (the n-th kind is the n-th file's)."""
    counted = rt.check_intake_rate(client_ip(request))  # before reading any of the body
    try:
        created, replayed = await _file(request, session, rt, idempotency_key)
    except DomainError as exc:
        rt.forgive_intake(client_ip(request), counted, exc)
        raise
    created_headers(response, f"/v1/requests/{created.reference}", replayed=replayed)
    return created


async def _file(
    request: Request, session: SessionDep, rt: RuntimeDep, idempotency_key: str | None
) -> tuple[RequestCreated, bool]:
    body = await read_filing_body(request, rt, RequestCreate)
    ctx = FilingContext(
        channel="api",
        received_at=rt.clock(),
        actor="requester",
        idempotency_scope="public",
        idempotency_key=idempotency_key,
        client=client_ip(request),
    )
    with body.discard_on_error(rt):
        # Filed in the request's transaction, committed before the 201 goes out.
        created, replayed = await run_in_threadpool(
            file_request, session, rt, body.payload, ctx, body.files, body.kinds
        )
        if replayed:
            body.discard(rt)  # the first POST's files are the ones on record
    return created, replayed


@router.get(
    "/{reference}",
    response_model=RequestPublic,
    responses=problem_responses(404),
    summary="내 요청 조회 (the requester's view)",
)
def read_request(
    reference: str,
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    x_access_code: AccessCode = "",
) -> RequestPublic:
    return get_for_requester(session, rt, reference, x_access_code, client=client_ip(request))


class CodeIn(BaseModel):
    code: OneLine = Field(min_length=1, max_length=12)


class ReplyIn(BaseModel):
    message: MultiLine = Field(min_length=1, max_length=4000)


@router.post(
    "/{reference}/verification",
    response_model=RequestPublic,
    responses=problem_responses(404, 409, 422, 429),
    summary="인증번호 확인 (one-time code)",
)
def verify(
    reference: str,
    body: CodeIn,
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    x_access_code: AccessCode = "",
) -> RequestPublic:
    client = client_ip(request)
    req = authorize_requester(session, rt, reference, x_access_code, for_update=True, client=client)
    # A wrong code raises an error flagged `commit`: the failed attempt is committed to count.
    otp.verify_code(session, rt, req, body.code)
    return get_for_requester(session, rt, reference, x_access_code, client=client)


@router.post(
    "/{reference}/verification/resend",
    status_code=202,
    response_model=RequestPublic,
    responses=problem_responses(404, 409, 429),
    summary="인증번호 다시 받기",
)
def resend(
    reference: str,
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    x_access_code: AccessCode = "",
) -> RequestPublic:
    client = client_ip(request)
    req = authorize_requester(session, rt, reference, x_access_code, for_update=True, client=client)
    otp.resend_code(session, rt, req)
    return get_for_requester(session, rt, reference, x_access_code, client=client)


@router.post(
    "/{reference}/attachments",
    status_code=201,
    response_model=RequestPublic,
    responses=problem_responses(404, 409, 413, 415, 422),
    summary="서류 제출·보완 (multipart: attachments + attachment_kinds)",
)
@accepts_files
async def supplement(
    reference: str,
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    x_access_code: AccessCode = "",
) -> RequestPublic:
    # Checked before the upload, but not locked: the lock is taken once the files are in.
    client = client_ip(request)
    req = await run_in_threadpool(
        authorize_requester, session, rt, reference, x_access_code, client=client
    )
    upload = await read_supplement(request, rt)
    with upload.discard_on_error(rt):
        await run_in_threadpool(evidence.supplement, session, rt, req, upload.files, upload.kinds)
    return await run_in_threadpool(
        get_for_requester, session, rt, reference, x_access_code, client=client
    )


@router.post(
    "/{reference}/replies",
    response_model=RequestPublic,
    responses=problem_responses(404, 409, 422),
    summary="보완 요청에 답하기",
)
def reply(
    reference: str,
    body: ReplyIn,
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    x_access_code: AccessCode = "",
) -> RequestPublic:
    client = client_ip(request)
    req = authorize_requester(session, rt, reference, x_access_code, for_update=True, client=client)
    info_requests.reply(session, rt, req, body.message)
    view = get_for_requester(session, rt, reference, x_access_code, client=client)
    if rrn.contains(body.message):
        view.warnings.append(rrn.MASKED_NOTICE)
    return view


class ReissueIn(BaseModel):
    contact: OneLine = Field(min_length=1, max_length=254)


class ReissueAccepted(BaseModel):
    message: str


REISSUE_ACCEPTED = (
    "입력하신 연락처가 접수할 때 적은 연락처와 같으면 그 연락처로 새 확인코드를 보내 드립니다. "
    "새 확인코드를 받으면 이전 확인코드는 더 쓸 수 없습니다."
)


@router.post(
    "/{reference}/access-code/reissue",
    status_code=202,
    response_model=ReissueAccepted,
    responses=problem_responses(422, 429),
    summary="확인코드 다시 받기 (a lost access code)",
)
def reissue_access_code(
    reference: str, body: ReissueIn, session: SessionDep, rt: RuntimeDep
) -> ReissueAccepted:
    """The same 202 whatever matched: a new code goes only to a contact the request was filed
    with, never in the response."""
    access_code.reissue(session, rt, reference, body.contact)
    return ReissueAccepted(message=REISSUE_ACCEPTED)


class ObjectionIn(BaseModel):
    reason: MultiLine = Field(min_length=1, max_length=4000)


@router.post(
    "/{reference}/objections",
    status_code=201,
    response_model=RequestCreated,
    responses=problem_responses(404, 409, 422),
    summary="이의제기 (after a partial grant or refusal)",
)
def object_to(
    reference: str,
    body: ObjectionIn,
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    response: Response,
    x_access_code: AccessCode = "",
) -> RequestCreated:
    client = client_ip(request)
    parent = authorize_requester(
        session, rt, reference, x_access_code, for_update=True, client=client
    )
    created = objections.file_objection(session, rt, parent, body.reason)
    created_headers(response, f"/v1/requests/{created.reference}", replayed=False)
    return created


@router.post(
    "/{reference}/withdrawal",
    response_model=RequestPublic,
    responses=problem_responses(404, 409),
    summary="요청 취소 (withdraw)",
)
def withdraw(
    reference: str,
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    x_access_code: AccessCode = "",
) -> RequestPublic:
    client = client_ip(request)
    req = authorize_requester(session, rt, reference, x_access_code, for_update=True, client=client)
    objections.withdraw(session, rt, req)
    return get_for_requester(session, rt, reference, x_access_code, client=client)
