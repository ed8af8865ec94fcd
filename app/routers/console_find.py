"""The staff console's finding pages: search by subject (/staff/search), duplicate requests
(/staff/duplicates), bulk actions on a queue selection (/staff/bulk), and the API twins.

The search posts its form (a name, e-mail or phone never travels in a URL, where browser
history and proxy logs would keep it) and answers with the results on the same page. The
service is the API's (POST /v1/staff/search): the same blind-index lookup and access log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.deps import (
    PERMISSIONS,
    Capability,
    CaseWrite,
    ConsoleForbidden,
    ConsoleHandler,
    ConsoleReader,
    ConsoleTriage,
    ReaderDep,
    RuntimeDep,
    SessionDep,
    TriageWrite,
    request_for_write,
)
from app.errors import DomainError, ValidationFailed, pydantic_field_errors
from app.models.request_api import StaffRequestDetail
from app.proxies import client_address
from app.routers.common import problem_responses
from app.routers.web import read_form
from app.services.console.queue_view import case_workers
from app.services.requests import duplicates
from app.services.requests.bulk import BulkOptions, Selected, run_bulk
from app.services.requests.search import (
    MAX_HITS,
    SearchResult,
    SubjectSearch,
    search_requests,
)
from app.web import csrf
from app.web.console import FormErrors, page
from app.workflows.bulk import NEEDS_HANDLING, BulkAction

router = APIRouter(prefix="/staff", include_in_schema=False)
api_router = APIRouter(
    prefix="/v1/staff", tags=["staff"], responses=problem_responses(401, 403, 422)
)

_BY = ("email", "phone", "name", "reference")


def _search_page(
    request: Request, staff: Any, *, values: dict[str, str], errors: FormErrors | None = None,
    result: SearchResult | None = None, rt: Any,
) -> HTMLResponse:  # fmt: skip
    return page(
        request,
        "staff/find/search.html",
        status=422 if errors else 200,
        staff=staff,
        errors=errors,
        values=values,
        by_choices=_BY,
        result=result,
        max_hits=MAX_HITS,
        service_names={s.code: s.name for s in rt.policy.services},
    )


@router.get("/search", response_class=HTMLResponse)
def search_form(request: Request, staff: ConsoleReader, rt: RuntimeDep) -> HTMLResponse:
    return _search_page(request, staff, values={"by": "email"}, rt=rt)


@router.post("/search", response_class=HTMLResponse)
async def search(
    request: Request, staff: ConsoleReader, session: SessionDep, rt: RuntimeDep
) -> HTMLResponse:
    form = await read_form(request, rt)
    if not csrf.valid(request, form.first(csrf.FIELD)):
        return page(request, "staff/csrf.html", status=403, staff=staff)
    values = {k: form.first(k).strip() for k in ("by", "value", "purpose")}
    errors = FormErrors()
    try:
        query = SubjectSearch.model_validate(values)
    except ValidationError as exc:
        for err in pydantic_field_errors(exc.errors()):
            errors.add(err.field.split(".")[0], _MESSAGES.get(err.field.split(".")[0], err.message))
        return _search_page(request, staff, values=values, errors=errors, rt=rt)
    result = search_requests(session, rt, staff, query, client_address(request.scope))
    return _search_page(request, staff, values=values, result=result, rt=rt)


_MESSAGES = {
    "by": "무엇으로 찾을지 고르세요: 이메일, 휴대전화, 이름 또는 접수번호.",
    "value": "찾을 값을 200자 이내로 입력하세요.",
    "purpose": "조회 목적을 2~100자로 입력하세요. 접속기록에 남습니다.",
}


@api_router.post(
    "/search",
    summary="정보주체로 찾기: 이름·이메일·휴대전화(정확히 일치) 또는 접수번호 앞부분",
    response_model=SearchResult,
)
def api_search(
    body: SubjectSearch, staff: ReaderDep, session: SessionDep, rt: RuntimeDep, request: Request
) -> SearchResult:
    return search_requests(session, rt, staff, body, client_address(request.scope))


# --- duplicates -----------------------------------------------------------------------------


@api_router.post(
    "/requests/{reference}/duplicates/{other}/link",
    summary="중복 표시 확인: 두 요청을 모두 처리(서로 연결)",
    responses=problem_responses(404, 409, 412, 428),
)
def api_link_duplicate(other: str, w: TriageWrite) -> StaffRequestDetail:
    duplicates.link(w.session, w.rt, w.req, other, w.staff)
    return w.detail()


@api_router.post(
    "/requests/{reference}/duplicates/{other}/close",
    summary="중복 요청 종결: 이 (나중) 요청을 닫고 요구인에게 계속 처리할 요청을 알림",
    responses=problem_responses(404, 409, 412, 428),
)
def api_close_duplicate(other: str, w: CaseWrite) -> StaffRequestDetail:
    duplicates.close_as_duplicate(w.session, w.rt, w.req, other, w.staff)
    return w.detail()


@router.get("/duplicates", response_class=HTMLResponse)
def duplicates_page(
    request: Request, staff: ConsoleReader, session: SessionDep, rt: RuntimeDep
) -> HTMLResponse:
    return _duplicates(request, staff, session, rt)


def _duplicates(
    request: Request, staff: Any, session: Any, rt: Any, *, status: int = 200,
    message: str | None = None, done: str | None = None,
) -> HTMLResponse:  # fmt: skip
    return page(
        request,
        "staff/find/duplicates.html",
        status=status,
        staff=staff,
        flags=duplicates.open_flags(session),
        service_names={s.code: s.name for s in rt.policy.services},
        message=message,
        done=done,
    )


async def _settle(
    request: Request, staff: Any, session: Any, rt: Any, reference: str, action: str
) -> HTMLResponse:
    form = await read_form(request, rt)
    if not csrf.valid(request, form.first(csrf.FIELD)):
        return page(request, "staff/csrf.html", status=403, staff=staff)
    other, version = form.first("other"), form.first("version")
    try:
        if not version.isdigit():
            raise ValidationFailed("화면을 새로 고친 뒤 다시 시도하세요.")
        newer = request_for_write(session, reference, int(version))
        if action == "link":
            duplicates.link(session, rt, newer, other, staff)
        else:
            duplicates.close_as_duplicate(session, rt, newer, other, staff)
    except DomainError as exc:
        session.rollback()
        if exc.code == "version_mismatch":
            exc.detail = (
                f"그사이 다른 사람이 {reference} 요청을 변경했습니다. 아래 목록에서 지금 상태를 "
                "확인한 뒤 다시 처리하세요."
            )
        return _duplicates(request, staff, session, rt, status=exc.status, message=exc.detail)
    done = (
        f"{reference}와 {other}를 함께 처리하도록 연결했습니다."
        if action == "link"
        else f"{reference}를 중복으로 종결하고 요구인에게 {other}로 계속 처리한다고 알렸습니다."
    )
    return _duplicates(request, staff, session, rt, done=done)


@router.post("/duplicates/{reference}/link", response_class=HTMLResponse)
async def duplicates_link(
    reference: str, request: Request, staff: ConsoleTriage, session: SessionDep, rt: RuntimeDep
) -> HTMLResponse:
    return await _settle(request, staff, session, rt, reference, "link")


@router.post("/duplicates/{reference}/close", response_class=HTMLResponse)
async def duplicates_close(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> HTMLResponse:
    return await _settle(request, staff, session, rt, reference, "close")


# --- bulk actions on a queue selection --------------------------------------------------------

_ACTIONS = [a.value for a in BulkAction]


def _selection(values: list[str]) -> tuple[list[Selected], list[str]]:
    """Checkbox values "REFERENCE@version": the version the queue showed (If-Match)."""
    selected, bad = [], []
    for value in values:
        ref, _, version = value.partition("@")
        if ref and version.isdigit():
            selected.append(Selected(ref.strip(), int(version)))
        else:
            bad.append(value[:40])
    return selected, bad


@router.post("/bulk", response_class=HTMLResponse)
async def bulk(
    request: Request, staff: ConsoleTriage, session: SessionDep, rt: RuntimeDep
) -> HTMLResponse:
    form = await read_form(request, rt)
    if not csrf.valid(request, form.first(csrf.FIELD)):
        return page(request, "staff/csrf.html", status=403, staff=staff)
    errors = FormErrors()
    action_code = form.first("action")
    selected, bad = _selection(form.fields.get("selected", []))
    assignee = form.first("assignee")
    note_text = form.first("note").strip()
    if action_code not in _ACTIONS:
        errors.add(
            "action", "할 일을 고르세요: 담당자 지정, 메모, 보완 요청 다시 보내기, 미확인 종결."
        )
    elif (
        BulkAction(action_code) in NEEDS_HANDLING
        and staff.role not in PERMISSIONS[Capability.HANDLE]
    ):
        raise ConsoleForbidden()
    if assignee and not assignee.isdigit():
        errors.add("assignee", "담당자를 목록에서 고르세요.")
    if bad:
        errors.add("selected", "고른 요청 중 알아볼 수 없는 것이 있습니다. 대기열을 새로 고치세요.")
    results = None
    if not errors:
        options = BulkOptions(assignee=int(assignee) if assignee else None, note=note_text or None)
        try:
            results = run_bulk(session, rt, staff, BulkAction(action_code), selected, options)
        except DomainError as exc:
            for field_error in exc.errors or []:
                errors.add(field_error.field, field_error.message)
            if not exc.errors:
                errors.add("action", exc.detail)
    return page(
        request,
        "staff/find/bulk_result.html",
        status=422 if errors else 200,
        staff=staff,
        errors=errors,
        action=action_code,
        results=results,
        failed=[r for r in results or [] if not r.ok],
        workers=dict(case_workers(session)),
        assignee=int(assignee) if assignee.isdigit() else None,
    )
