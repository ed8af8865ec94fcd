"""The staff console's finding pages: search by subject (/staff/search).

The search posts its form (a name, e-mail or phone never travels in a URL, where browser
history and proxy logs would keep it) and answers with the results on the same page. The
service is the API's (POST /v1/staff/search): the same blind-index lookup and access log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.deps import ConsoleReader, ReaderDep, RuntimeDep, SessionDep
from app.errors import pydantic_field_errors
from app.proxies import client_address
from app.routers.common import problem_responses
from app.routers.web import read_form
from app.services.requests.search import (
    MAX_HITS,
    SearchResult,
    SubjectSearch,
    search_requests,
)
from app.web import csrf
from app.web.console import FormErrors, page

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
