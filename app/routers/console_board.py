"""The staff console's tasks board (/staff/tasks) and dashboard (/staff/dashboard).

The board is the API's task queue (GET /v1/staff/tasks): the same query, order and pages.
Its forms are the API's task writes (app/routers/tasks.py) with the same input models, role
checks (PERMISSIONS: completing, failing and reopening are handling; waiving is the
officer's) and If-Match versions: each form carries its request's version, and a stale form
gets the "someone changed this request" page with the task as it is now. Completing takes
evidence files in the same multipart stream and under the same limits as the API.

The dashboard is the SLA summary (GET /v1/staff/sla/summary) as figures and server-drawn SVG,
and the register and access-log downloads through the API's own export functions, logged the
same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from app.core.limits import accepts_files
from app.db import settle
from app.deps import (
    PERMISSIONS,
    Capability,
    ConsoleReader,
    RuntimeDep,
    SessionDep,
    console_capability,
    request_for_write,
)
from app.errors import (
    DomainError,
    FieldError,
    ValidationFailed,
    VersionMismatch,
    pydantic_field_errors,
)
from app.models.staff import Role, Staff
from app.models.vocab import TYPE_LABELS_KO
from app.proxies import client_address
from app.routers.audit import access_log_csv
from app.routers.filing_body import StoredFiles
from app.routers.reports import register_download
from app.routers.tasks import CompleteIn, ReasonIn
from app.routers.web import CsrfRefused, csrf_gate, read_form
from app.runtime import Runtime
from app.services.audit import access_log
from app.services.console import board as board_view
from app.services.console import request_page
from app.services.console.queue_view import case_workers
from app.services.tasks import execution as tasks
from app.services.tasks import views as task_views
from app.web import charts
from app.web.console import FormErrors, page, redirect
from app.workflows.tasks import ACTION_LABELS_KO, METHOD_LABELS_KO, Action, Method, Performed

router = APIRouter(prefix="/staff", include_in_schema=False)

# The same PERMISSIONS as the API's task writes: handling, and the officer's waiver.
ConsoleHandler = Annotated[Staff, Depends(console_capability(Capability.HANDLE))]
ConsoleApprover = Annotated[Staff, Depends(console_capability(Capability.APPROVE))]

_STATUSES = ("open", "failed", "scheduled", "done", "waived")
_DONE_KO = {
    "complete": "작업을 완료로 기록했습니다.",
    "fail": "작업을 실패로 기록했습니다.",
    "reopen": "작업을 다시 열었습니다.",
    "waive": "작업을 면제했습니다.",
}


# --- the board -----------------------------------------------------------------------------


class _BoardQuery(BaseModel):
    """The board's filters, as GET /v1/staff/tasks names and bounds them."""

    status: list[Literal["open", "done", "waived", "failed", "scheduled"]] = ["open", "failed"]
    overdue: bool = False
    holder: str | None = None
    assignee: str | None = None
    cursor: str | None = None


def _board_params(request: Request) -> dict[str, Any]:
    q = request.query_params
    out: dict[str, Any] = {}
    statuses = [s for s in q.getlist("status") if s]
    if statuses:
        out["status"] = statuses
    for name in ("holder", "assignee", "cursor"):
        value = q.get(name, "").strip()
        if value:
            out[name] = value
    if q.get("overdue") in ("1", "true", "on"):
        out["overdue"] = True
    return out


def _assignee(value: str | None, staff: Staff) -> int | Literal["none"] | None:
    """The API's assignee filter: me, none or a staff id (anything else is a field error)."""
    if value is None:
        return None
    if value == "me":
        return staff.id
    if value == "none":
        return "none"
    if value.isdigit() and 0 < len(value) <= 9 and int(value) > 0:
        return int(value)
    msg = "담당자는 나, 미지정 또는 목록의 직원 중에서 고르세요."
    raise ValidationFailed(msg, errors=[FieldError("assignee", "invalid", msg, ("me", "none"))])


def _render_board(
    request: Request,
    session: Session,
    rt: Runtime,
    staff: Staff,
    *,
    errors: FormErrors | None = None,
    failed_task: int | None = None,
    posted: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    params = _board_params(request)
    errors = errors or FormErrors()
    rows: Any = None
    next_cursor = None
    try:
        query = _BoardQuery.model_validate(params)
        found = board_view.board(
            session, rt, statuses=list(query.status), overdue=query.overdue,
            holder=query.holder, assignee=_assignee(query.assignee, staff), cursor=query.cursor,
        )  # fmt: skip
        rows, next_cursor = found.rows, found.next_cursor
    except ValidationError as exc:
        for err in pydantic_field_errors(exc.errors()):
            errors.add(err.field.split(".")[0], err.message)
    except DomainError as exc:
        for field_error in exc.errors:
            errors.add(field_error.field, field_error.message)
    filters = {k: v for k, v in params.items() if k != "cursor"}
    pairs = _pairs(filters)
    return page(
        request,
        "staff/board/tasks.html",
        status=422 if errors and status == 200 else status,
        staff=staff,
        current="tasks",
        errors=errors,
        failed_task=failed_task,
        posted=posted or {},
        rows=rows,
        values=filters,
        statuses=_STATUSES,
        holders=board_view.holders(rt),
        workers=case_workers(session),
        may_handle=staff.role in PERMISSIONS[Capability.HANDLE],
        may_waive=staff.role in PERMISSIONS[Capability.APPROVE],
        action_ko=ACTION_LABELS_KO,
        method_ko=METHOD_LABELS_KO,
        done=_DONE_KO.get(request.query_params.get("done", "")),
        # When the board was read: a stale form's page lists what happened since.
        opened_at=rt.clock().isoformat(),
        back=f"/staff/tasks?{urlencode(pairs)}" if pairs else "/staff/tasks",
        next_url=f"/staff/tasks?{urlencode([*pairs, ('cursor', next_cursor)])}"
        if next_cursor
        else None,
        first_url=f"/staff/tasks?{urlencode(pairs)}" if params.get("cursor") else None,
    )


def _pairs(filters: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in filters.items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append((key, "1" if one is True else str(one)))
    return pairs


@router.get("/tasks", response_class=HTMLResponse)
def tasks_board(request: Request, staff: ConsoleReader, session: SessionDep, rt: RuntimeDep) -> Any:
    return _render_board(request, session, rt, staff)


# --- the board's writes ----------------------------------------------------------------------


class _Target:
    """Which task a form is about, and the version of its request the form was drawn from."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        def first(name: str) -> str:
            values = fields.get(name)
            return values[0].strip() if values else ""

        self.reference = first("reference")
        task_id, version = first("task_id"), first("version")
        self.task_id = int(task_id) if task_id.isdigit() and len(task_id) <= 9 else 0
        self.version = int(version) if version.isdigit() and len(version) <= 9 else -1
        self.back = first("back") if first("back").startswith("/staff/tasks") else "/staff/tasks"
        self.fields = fields

    def first(self, name: str) -> str:
        values = self.fields.get(name)
        return values[0] if values else ""


def _input_id(task_id: int, do: str, field: str) -> str:
    """Where a domain error's field shows on the board: beside that task's input."""
    parts = field.split(".")
    if parts[0] == "reason" and do in ("fail", "waive"):
        return f"t{task_id}-{do}-reason"
    if parts[0] == "actions" and len(parts) == 3 and parts[1].isdigit():
        return f"t{task_id}-{parts[2]}-{parts[1]}"
    if parts[0] in ("note", "attachments", "files"):
        name = "attachments" if parts[0] == "files" else parts[0]
        return f"t{task_id}-{name}"
    return f"t{task_id}-form"


def _refusal(
    request: Request,
    session: Session,
    rt: Runtime,
    staff: Staff,
    target: _Target,
    exc: DomainError,
) -> HTMLResponse:
    """The board again, the error beside the field of the task's form (nothing was changed)."""
    settle(session, exc)
    if isinstance(exc, VersionMismatch):
        return page(
            request,
            "staff/board/stale.html",
            status=409,
            staff=staff,
            current="tasks",
            seen=target.version,
            task=board_view.task_now(session, rt, target.reference, target.task_id),
            changes=request_page.changes_after(
                session, target.reference, target.first("opened_at")
            ),
            staff_names=request_page.staff_names(session),
            reference=target.reference,
            back=target.back,
        )
    errors = FormErrors()
    for err in exc.errors or [FieldError("form", exc.code, exc.detail)]:
        errors.add(_input_id(target.task_id, target.first("do"), err.field), err.message)
    posted = {k: v[0] for k, v in target.fields.items() if v and k != "csrf_token"}
    return _render_board(
        request, session, rt, staff, errors=errors, failed_task=target.task_id, posted=posted,
        status=exc.status if exc.status in (403, 404, 409, 413, 415, 422) else 422,
    )  # fmt: skip


def _write(
    request: Request,
    session: Session,
    rt: Runtime,
    staff: Staff,
    target: _Target,
    action: str,
    do: Callable[[Any, Any], None],
) -> Response:
    """Lock the request at the form's version, find the task, act, then back to the board."""
    try:
        if not target.reference or not target.task_id:
            msg = "작업을 다시 골라 주세요. 양식에 작업이 없습니다."
            raise ValidationFailed(msg, errors=[FieldError("form", "required", msg)])
        req = request_for_write(session, target.reference, target.version)
        task = tasks.task_of(session, req, target.task_id, lock=True)
        do(req, task)
        session.flush()
    except DomainError as exc:
        return _refusal(request, session, rt, staff, target, exc)
    sep = "&" if "?" in target.back else "?"
    return redirect(f"{target.back}{sep}done={action}#task-{target.task_id}")


async def _urlencoded(request: Request, rt: Runtime) -> _Target | None:
    form = await read_form(request, rt)
    from app.web import csrf

    if not csrf.valid(request, form.first(csrf.FIELD)):
        return None
    return _Target(form.fields)


def _csrf_refused(request: Request) -> HTMLResponse:
    return page(request, "staff/csrf.html", status=403)


def _reason(target: _Target) -> str:
    try:
        return ReasonIn.model_validate({"reason": target.first("reason")}).reason
    except ValidationError as exc:
        raise ValidationFailed(
            "사유를 확인해 주세요.", errors=pydantic_field_errors(exc.errors()), code="validation"
        ) from None


@router.post("/tasks/complete", response_class=HTMLResponse)
@accepts_files
async def complete(
    request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    """multipart/form-data: the method for each asked action, a note, evidence files
    (`attachments`, optional; PDF, JPEG, PNG under the API's limits)."""
    try:
        posted = await read_form(request, rt, files=csrf_gate(request))
    except CsrfRefused:
        return _csrf_refused(request)
    except DomainError as exc:  # a file refused mid-stream: its limit, beside the file input
        target = _Target(exc.partial_fields or {})
        return await run_in_threadpool(_refusal, request, session, rt, staff, target, exc)
    from app.web import csrf

    if not csrf.valid(request, posted.first(csrf.FIELD)):  # an urlencoded post
        posted.stored.discard(rt)
        return _csrf_refused(request)
    target = _Target(posted.fields)
    return await run_in_threadpool(_complete, request, session, rt, staff, target, posted.stored)


def _complete(
    request: Request,
    session: Session,
    rt: Runtime,
    staff: Staff,
    target: _Target,
    stored: StoredFiles,
) -> Response:
    actor = f"staff:{staff.id}"

    def do(req: Any, task: Any) -> None:
        chosen = [
            {"action": a, "method": target.first(f"method_{a}")}
            for a in sorted(x.value for x in Action)  # the board's order of its selects
            if f"method_{a}" in target.fields
        ]
        try:
            body = CompleteIn.model_validate(
                {"actions": chosen, "note": target.first("note").strip() or None}
            )
        except ValidationError as exc:
            raise ValidationFailed(
                "입력을 확인해 주세요.", errors=pydantic_field_errors(exc.errors()),
                code="validation",
            ) from None  # fmt: skip
        if stored.files:
            task_views.attach_evidence(session, rt, req, task, stored.files, actor=actor)
        performed = [Performed(Action(p.action), Method(p.method)) for p in body.actions]
        tasks.complete(
            session, rt, req, task, tasks.Completion(performed, body.note, None, by=actor)
        )

    with stored.discard_on_error(rt):
        response = _write(request, session, rt, staff, target, "complete", do)
    if response.status_code != 303:
        stored.discard(rt)  # refused: the files are not kept
    return response


@router.post("/tasks/fail", response_class=HTMLResponse)
async def fail(
    request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    target = await _urlencoded(request, rt)
    if target is None:
        return _csrf_refused(request)
    return await run_in_threadpool(
        _write, request, session, rt, staff, target, "fail",
        lambda req, task: tasks.fail(
            session, rt, req, task, _reason(target), actor=f"staff:{staff.id}"
        ),
    )  # fmt: skip


@router.post("/tasks/reopen", response_class=HTMLResponse)
async def reopen(
    request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    target = await _urlencoded(request, rt)
    if target is None:
        return _csrf_refused(request)
    return await run_in_threadpool(
        _write, request, session, rt, staff, target, "reopen",
        lambda req, task: tasks.reopen(session, rt, req, task, actor=f"staff:{staff.id}"),
    )  # fmt: skip


@router.post("/tasks/waive", response_class=HTMLResponse)
async def waive(
    request: Request, staff: ConsoleApprover, session: SessionDep, rt: RuntimeDep
) -> Response:
    target = await _urlencoded(request, rt)
    if target is None:
        return _csrf_refused(request)
    return await run_in_threadpool(
        _write, request, session, rt, staff, target, "waive",
        lambda req, task: tasks.waive(session, rt, req, task, _reason(target), officer=staff),
    )  # fmt: skip


# --- the dashboard ---------------------------------------------------------------------------


def _render_dashboard(
    request: Request,
    session: Session,
    rt: Runtime,
    staff: Staff,
    *,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    d = board_view.dashboard(session, rt)
    s = d.summary
    # No request closed in the period: nothing to measure, shown as "—" (not 0 %).
    rates: list[tuple[str, float | None]] = [
        (label, None if p["on_time_rate"] is None else round(100 * p["on_time_rate"], 1))
        for label, p in (("최근 30일", s["last_30_days"]), ("최근 90일", s["last_90_days"]))
    ]
    medians: list[tuple[str, float | None]] = [
        (label, p["median_days_to_close"])
        for label, p in (("최근 30일", s["last_30_days"]), ("최근 90일", s["last_90_days"]))
    ]
    series = [(TYPE_LABELS_KO.get(t, t), v) for t, v in d.by_type_month.items()]
    overdue = [(name or "미지정", n) for name, n in d.overdue_by_assignee]
    today = s["today"]
    return page(
        request,
        "staff/board/dashboard.html",
        status=status,
        staff=staff,
        current="dashboard",
        errors=errors or FormErrors(),
        s=s,
        d=d,
        series=series,
        overdue=overdue,
        charts={
            "by_type": charts.stacked_columns(
                "chart-by-type", "월별 유형별 접수 건수", d.months, series
            ),
            "on_time": charts.hbars(
                "chart-on-time", "기한 내 처리율", rates, unit="%", scale_max=100
            ),
            "median": charts.hbars(
                "chart-median", "처리 기간 중앙값", medians, unit="일", colour=charts.PALETTE[2]
            ),
            "overdue": charts.hbars(
                "chart-overdue",
                "담당자별 기한 초과 건수",
                overdue,
                unit="건",
                colour=charts.PALETTE[5],
            ),
        },
        may_personal=staff.role in PERMISSIONS[Capability.EXPORT_PERSONAL],
        may_access_log=staff.role in PERMISSIONS[Capability.APPROVE],
        values={k: v for k, v in request.query_params.items() if k in ("from", "to")},
        default_from=date(today.year, today.month, 1).isoformat(),
        default_to=today.isoformat(),
        role_officer=Role.OFFICER.value,
    )


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, staff: ConsoleReader, session: SessionDep, rt: RuntimeDep) -> Any:
    return _render_dashboard(request, session, rt, staff)


def _range(request: Request, prefix: str) -> tuple[date, date]:
    """The download form's days (KST), each named on its own field when it is not a day."""
    errors = []
    days = []
    for name in ("from", "to"):
        raw = request.query_params.get(name, "").strip()
        try:
            days.append(date.fromisoformat(raw))
        except ValueError:
            msg = "날짜를 YYYY-MM-DD 형식으로 입력해 주세요."
            errors.append(FieldError(f"{prefix}-{name}", "invalid_date", msg))
    if errors:
        raise ValidationFailed(errors[0].message, errors=errors, code="validation")
    return days[0], days[1]


def _download_refused(
    request: Request, session: Session, rt: RuntimeDep, staff: Staff, prefix: str,
    exc: DomainError,
) -> HTMLResponse:  # fmt: skip
    settle(session, exc)
    errors = FormErrors()
    # Refused by role (names and contacts in the register): said beside that box.
    where = f"{prefix}-personal" if exc.status == 403 else f"{prefix}-from"
    for err in exc.errors or [FieldError(where, exc.code, exc.detail)]:
        field = err.field if err.field.startswith(prefix) else f"{prefix}-{err.field}"
        if field not in (f"{prefix}-from", f"{prefix}-to", f"{prefix}-personal"):
            field = f"{prefix}-from"
        errors.add(field, err.message)
    return _render_dashboard(
        request, session, rt, staff, errors=errors, status=exc.status if exc.status < 500 else 422
    )


@router.get("/dashboard/register.csv", response_model=None)
def register_export(
    request: Request, staff: ConsoleReader, session: SessionDep, rt: RuntimeDep
) -> Response:
    """The register download of GET /v1/staff/reports/register.csv (its rules and its log)."""
    try:
        day_from, day_to = _range(request, "register")
        personal = request.query_params.get("personal") in ("1", "true", "on")
        return register_download(
            session, rt, staff, day_from, day_to, personal=personal,
            client_ip=client_address(request.scope),
        )  # fmt: skip
    except DomainError as exc:
        return _download_refused(request, session, rt, staff, "register", exc)


@router.get("/dashboard/access-log.csv", response_model=None)
def access_log_export(
    request: Request, staff: ConsoleApprover, session: SessionDep, rt: RuntimeDep
) -> Response:
    """The access log download of GET /v1/staff/audit/access-log?format=csv (officer)."""
    from app.services.audit.register import check_range

    try:
        day_from, day_to = _range(request, "accesslog")
        check_range(day_from, day_to, 366)
        rows = list(access_log.entries(session, day_from=day_from, day_to=day_to))
        return access_log_csv(
            session, rt, staff, day_from, day_to, rows, staff_id=None, reference=None,
            client_ip=client_address(request.scope),
        )  # fmt: skip
    except DomainError as exc:
        return _download_refused(request, session, rt, staff, "accesslog", exc)
