"""The web side of a lost access code ("확인코드를 잃어버렸어요"): the reference and a contact
the request was filed with; a new code goes to that contact, never to the screen."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from app.deps import RuntimeDep, SessionDep
from app.errors import DomainError
from app.routers.web import forbidden, page, read_form
from app.services.identity import access_code
from app.web import csrf

router = APIRouter(include_in_schema=False)

_MISSING = {
    "reference": "접수번호를 입력해 주세요.",
    "contact": "접수할 때 적은 전자우편 주소나 휴대전화 번호를 입력해 주세요.",
}


@router.get("/status/access-code", response_class=HTMLResponse)
def lost_code_form(request: Request) -> HTMLResponse:
    return page(request, "access_code_lost.html", reference="", contact="", errors={})


@router.post("/status/access-code", response_class=HTMLResponse)
async def lost_code(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    try:
        posted = await read_form(request, rt)
    except DomainError as exc:
        errors = {"reference": exc.detail}
        return page(
            request,
            "access_code_lost.html",
            status=exc.status,
            reference="",
            contact="",
            errors=errors,
        )
    if not csrf.valid(request, posted.first(csrf.FIELD)):
        return forbidden(request)
    reference, contact = posted.first("reference").strip(), posted.first("contact").strip()
    values = {"reference": reference, "contact": contact}
    errors = {k: msg for k, msg in _MISSING.items() if not values[k] or len(values[k]) > 254}
    if errors:
        return page(request, "access_code_lost.html", status=422, errors=errors, **values)
    await run_in_threadpool(access_code.reissue, session, rt, reference, contact)
    # The same page whatever matched: the screen never says whether the contact was right.
    return page(request, "access_code_sent.html", reference=reference)
