"""Staff API for tasks (one per holder of the data) and the execution certificate."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.core.limits import accepts_files
from app.deps import (
    CaseHandler,
    CaseWrite,
    HandlerDep,
    IfMatch,
    OfficerWrite,
    RuntimeDep,
    SessionDep,
    StaffWrite,
    TriageWrite,
    request_for_write,
)
from app.models.bounds import Day, IdField, IdPath, Instant
from app.models.request import Request as DbRequest
from app.models.staff import Staff
from app.routers.common import Page, client_ip, problem_responses
from app.routers.filing_body import StoredFiles, read_files
from app.runtime import Runtime
from app.services.requests.detail import log_access, request_by_reference
from app.services.tasks import execution as tasks
from app.services.tasks import views as task_views
from app.textsafety import MultiLine
from app.workflows.tasks import Action, Method, Performed

router = APIRouter(tags=["tasks"], responses=problem_responses(401, 403, 404, 422))
_ONE = "/v1/staff/requests/{reference}/tasks/{task_id}"


class TaskOut(BaseModel):
    id: int
    reference: str
    holder_code: str
    holder_kind: str
    holder_name: str
    contact_email: str | None
    instructions: list[dict[str, str]]
    kind: str  # decision | retention_end | suspension_followup
    status: str
    opens_on: date | None  # a scheduled task opens on this day
    due_on: date
    overdue: bool
    assignee_id: int | None
    performed: list[dict[str, Any]] | None
    note: str | None
    completed_by: str | None
    performed_at: datetime | None
    completed_at: datetime | None
    reason: str | None
    waived_by: int | None
    evidence: list[dict[str, Any]]


class TaskPage(Page[TaskOut]):
    request_status: str


class PerformedIn(BaseModel):
    action: Action
    method: Method


class CompleteIn(BaseModel):
    actions: list[PerformedIn] = Field(min_length=1, max_length=4)
    note: MultiLine | None = Field(default=None, max_length=2000)
    performed_at: Instant | None = None


class ReasonIn(BaseModel):
    reason: MultiLine = Field(min_length=1, max_length=2000)


class TaskPatch(BaseModel):
    assignee_id: IdField | None = None
    due_on: Day | None = None


def _page(session: Session, rt: Runtime, request: DbRequest) -> TaskPage:
    found = tasks.tasks_of(session, request)
    files = task_views.evidence_of(session, [t.id for t in found])
    return TaskPage(
        request_status=request.status,
        items=[
            TaskOut(**task_views.task_view(session, rt, request, t, files.get(t.id or 0, [])))
            for t in found
        ],
    )


def _written(w: StaffWrite) -> TaskPage:
    """A task write's answer: the request's tasks, and its version as ETag for the next."""
    w.etag()
    return _page(w.session, w.rt, w.req)


@router.get("/v1/staff/requests/{reference}/tasks", response_model=TaskPage, summary="작업 목록")
def list_tasks(
    reference: str,
    staff: CaseHandler,
    session: SessionDep,
    rt: RuntimeDep,
    http: Request,
    response: Response,
) -> TaskPage:
    request = request_by_reference(session, reference)
    log_access(session, rt, request, staff, "view_tasks", client_ip(http))
    response.headers["ETag"] = f'"{request.version}"'  # what a task write sends as If-Match
    return _page(session, rt, request)


@router.post(
    f"{_ONE}/complete",
    response_model=TaskPage,
    responses=problem_responses(409, 412, 422, 428),
    summary="작업 완료 (증빙: 한 일과 방법)",
)
def complete_task(task_id: IdPath, body: CompleteIn, w: CaseWrite) -> TaskPage:
    # Finishing the last task moves the request: CaseWrite locks it, so finishers queue up.
    task = tasks.task_of(w.session, w.req, task_id, lock=True)
    performed = [Performed(p.action, p.method) for p in body.actions]
    tasks.complete(
        w.session,
        w.rt,
        w.req,
        task,
        tasks.Completion(performed, body.note, body.performed_at, by=w.actor),
    )
    return _written(w)


@router.post(
    f"{_ONE}/fail", response_model=TaskPage, responses=problem_responses(409, 412, 422, 428)
)
def fail_task(task_id: IdPath, body: ReasonIn, w: CaseWrite) -> TaskPage:
    task = tasks.task_of(w.session, w.req, task_id, lock=True)
    tasks.fail(w.session, w.rt, w.req, task, body.reason, actor=w.actor)
    return _written(w)


@router.post(f"{_ONE}/reopen", response_model=TaskPage, responses=problem_responses(409, 412, 428))
def reopen_task(task_id: IdPath, w: CaseWrite) -> TaskPage:
    task = tasks.task_of(w.session, w.req, task_id, lock=True)
    tasks.reopen(w.session, w.rt, w.req, task, actor=w.actor)
    return _written(w)


@router.post(
    f"{_ONE}/waive",
    response_model=TaskPage,
    responses=problem_responses(409, 412, 422, 428),
    summary="작업 면제 (개인정보 보호책임자, 사유 필수)",
)
def waive_task(task_id: IdPath, body: ReasonIn, w: OfficerWrite) -> TaskPage:
    task = tasks.task_of(w.session, w.req, task_id, lock=True)
    tasks.waive(w.session, w.rt, w.req, task, body.reason, officer=w.staff)
    return _written(w)


@router.patch(_ONE, response_model=TaskPage, responses=problem_responses(409, 412, 422, 428))
def update_task(task_id: IdPath, body: TaskPatch, w: TriageWrite) -> TaskPage:
    task = tasks.task_of(w.session, w.req, task_id, lock=True)
    changes = body.model_dump(exclude_unset=True)
    if "assignee_id" in changes and changes["assignee_id"] is not None:
        task_views.check_assignee(w.session, changes["assignee_id"])
    tasks.update(w.session, w.rt, w.req, task, changes=changes, actor=w.actor)
    return _written(w)


@router.post(
    f"{_ONE}/evidence",
    response_model=TaskPage,
    responses=problem_responses(409, 412, 413, 415, 422, 428),
    summary="작업 증빙 파일 (PDF, JPEG, PNG)",
)
@accepts_files
async def add_evidence(
    reference: str,
    task_id: IdPath,
    staff: HandlerDep,
    version: IfMatch,
    session: SessionDep,
    rt: RuntimeDep,
    http: Request,
    response: Response,
) -> TaskPage:
    """multipart/form-data with files `attachments` (e.g. a processor's deletion report)."""
    upload, _ = await read_files(http, rt)
    with upload.discard_on_error(rt):
        # The request is locked, and its version checked, once the files are in.
        w = await run_in_threadpool(
            lambda: StaffWrite(
                request_for_write(session, reference, version), staff, session, rt, http, response
            )
        )
        return await run_in_threadpool(_attach, w, task_id, upload)


def _attach(w: StaffWrite, task_id: int, upload: StoredFiles) -> TaskPage:
    task = tasks.task_of(w.session, w.req, task_id, lock=True)
    task_views.attach_evidence(w.session, w.rt, w.req, task, upload.files, actor=w.actor)
    return _written(w)


@router.get(
    "/v1/staff/requests/{reference}/certificate",
    responses={
        200: {"content": {"text/html": {}, "application/pdf": {}}},
        **problem_responses(409),
    },
    response_class=Response,
    summary="처리(파기) 확인서 — HTML 또는 PDF",
)
def certificate(
    reference: str,
    staff: CaseHandler,
    session: SessionDep,
    rt: RuntimeDep,
    http: Request,
    format: Annotated[Literal["html", "pdf"] | None, Query()] = None,
) -> Response:
    request = request_by_reference(session, reference)
    wanted = format or ("pdf" if "application/pdf" in http.headers.get("accept", "") else "html")
    log_access(session, rt, request, staff, f"certificate_{wanted}", client_ip(http))
    cert = task_views.certificate_of(session, rt, request, issued_by=staff)
    from app.services.tasks.certificate import HTML_HEADERS, render_html, render_pdf

    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if wanted == "pdf":
        headers["Content-Disposition"] = (
            f'attachment; filename="{request.reference}-certificate.pdf"'
        )
        return Response(render_pdf(cert), media_type="application/pdf", headers=headers)
    return HTMLResponse(render_html(cert), headers={**headers, **HTML_HEADERS})


class TaskQueueItem(TaskOut):
    request_status: str


@router.get(
    "/v1/staff/tasks", response_model=Page[TaskQueueItem], summary="모든 요청의 작업 (기한순)"
)
def task_queue(
    staff: CaseHandler,
    session: SessionDep,
    rt: RuntimeDep,
    status: Annotated[
        list[Literal["open", "done", "waived", "failed", "scheduled"]] | None, Query()
    ] = None,
    overdue: bool = False,
    holder: Annotated[str | None, Query(max_length=64)] = None,
    assignee: Annotated[str | None, Query(pattern=r"^(me|none|[1-9]\d{0,8})$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Page[TaskQueueItem]:
    """Earliest due first, in the request queue's page shape: `next_cursor` is given back as
    `cursor` for the next page, null on the last."""
    rows, next_cursor = task_views.queue(
        session,
        rt,
        statuses=status or ["open", "failed"],
        overdue=overdue,
        holder=holder,
        assignee=_assignee(assignee, staff),
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[TaskQueueItem(**row) for row in rows], next_cursor=next_cursor)


def _assignee(value: str | None, staff: Staff) -> int | Literal["none"] | None:
    if value is None:
        return None
    if value == "me":
        return staff.id
    return "none" if value == "none" else int(value)
