"""Channel Talk: the webhook, and the staff's view of the integration and its detections."""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from app.deps import CaseHandler, RuntimeDep, SessionDep, TriageDep
from app.errors import WebhookTokenInvalid
from app.models.bounds import IdPath
from app.models.request_api import FileableType
from app.routers.common import Page, client_ip, problem_responses
from app.services.audit.access_log import log_export
from app.services.channeltalk import candidates as chat_candidates
from app.services.channeltalk import inbound as chat_inbound
from app.services.channeltalk import jobs as chat_jobs

log = logging.getLogger("rightsdesk.channeltalk")

router = APIRouter(tags=["channeltalk"], responses=problem_responses(422))

WEBHOOK_PATH = "/v1/integrations/channeltalk/webhook"


class WebhookAck(BaseModel):
    ok: bool = True


def token_matches(given: str | None, accepted: tuple[str, ...]) -> bool:
    """Constant-time against every accepted token (two during a rotation), no early exit."""
    if not given or not accepted or len(given) > 1000:
        return False
    found = False
    for token in accepted:
        found |= hmac.compare_digest(given.encode(), token.encode())
    return found


@router.post(
    WEBHOOK_PATH,
    response_model=WebhookAck,
    responses=problem_responses(401, 413),
    summary="채널톡 웹훅 (Channel Talk webhook)",
)
async def channeltalk_webhook(
    request: Request,
    rt: RuntimeDep,
    background: BackgroundTasks,
    # No length rule: an over-long token is a wrong token (401), not a validation error.
    token: str | None = None,
) -> WebhookAck:
    """Bad token: 401. Anything else from Channel Talk: 200 at once (an error for an event we
    do not care about would count towards the 100 failures that block the webhook); the
    event is processed after the response, once per event id."""
    if not token_matches(token, rt.settings.channeltalk_tokens):
        rt.repeated_logs.warning(log, "Channel Talk webhook called without a valid token")
        raise WebhookTokenInvalid()
    raw = await request.body()
    event_id = await run_in_threadpool(chat_inbound.record_delivery, rt, raw)
    if event_id is not None:
        background.add_task(chat_inbound.process_event, rt, event_id)
    return WebhookAck()


# --- staff -----------------------------------------------------------------------------------


class ChannelTalkStatus(BaseModel):
    webhook_enabled: bool
    api_enabled: bool
    events: dict[str, int]
    candidates_pending: int
    last_reconciliation: dict[str, Any] | None


@router.get(
    "/v1/staff/integrations/channeltalk",
    response_model=ChannelTalkStatus,
    responses=problem_responses(401, 403),
    summary="채널톡 연동 상태 (webhook blocked?, events, detections)",
)
def channeltalk_status(
    staff: CaseHandler, session: SessionDep, rt: RuntimeDep
) -> ChannelTalkStatus:
    events, pending = chat_candidates.integration_counts(session)
    return ChannelTalkStatus(
        webhook_enabled=bool(rt.settings.channeltalk_tokens),
        api_enabled=rt.settings.channeltalk_api_enabled,
        events=events,
        candidates_pending=pending,
        last_reconciliation=chat_jobs.last_report(rt),
    )


class CandidateOut(BaseModel):
    id: int
    status: str
    user_chat_id: str
    user_type: str
    message_at: datetime
    text: str
    suggested: list[str]
    matched: list[str]
    reference: str | None
    note_posted: bool


class CandidateFile(BaseModel):
    type: FileableType


class CandidateFiled(BaseModel):
    reference: str
    legal_deadline: str


@router.get(
    "/v1/staff/channeltalk/candidates",
    response_model=Page[CandidateOut],
    responses=problem_responses(401, 403),
    summary="확인이 필요한 채팅 메시지 (detections to confirm)",
)
def list_candidates(
    staff: CaseHandler,
    session: SessionDep,
    rt: RuntimeDep,
    request: Request,
    status: Annotated[str, Query(pattern="^(pending|filed|dismissed)$")] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[CandidateOut]:
    """Customers' messages (personal data, not yet a request): each view is in the export
    log, as the access log needs a request."""
    rows = chat_candidates.candidates(session, status=status, limit=limit)
    log_export(
        session,
        rt,
        staff,
        kind="chat_candidates",
        params=f"status={status};limit={limit}",
        personal_data=bool(rows),
        row_count=len(rows),
        client_ip=client_ip(request),
    )
    return Page(
        items=[CandidateOut(**chat_candidates.candidate_view(session, rt, c)) for c in rows]
    )


@router.post(
    "/v1/staff/channeltalk/candidates/{candidate_id}/file",
    status_code=201,
    response_model=CandidateFiled,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="채팅 메시지를 요구로 접수 (confirm a detection)",
)
def file_candidate(
    candidate_id: IdPath,
    body: CandidateFile,
    staff: TriageDep,
    session: SessionDep,
    rt: RuntimeDep,
) -> CandidateFiled:
    assert staff.id is not None
    request = chat_candidates.confirm_candidate(
        session, rt, candidate_id, body.type, staff_id=staff.id
    )
    return CandidateFiled(
        reference=request.reference, legal_deadline=request.legal_due_on.isoformat()
    )


@router.post(
    "/v1/staff/channeltalk/candidates/{candidate_id}/dismiss",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409),
    summary="요구가 아닌 메시지로 닫기 (dismiss a detection)",
)
def dismiss_candidate(
    candidate_id: IdPath, staff: TriageDep, session: SessionDep, rt: RuntimeDep
) -> None:
    assert staff.id is not None
    chat_candidates.dismiss_candidate(session, rt, candidate_id, staff_id=staff.id)
