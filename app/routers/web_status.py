"""The requester's status page (web): look a request up by reference and access code, see
its notices and decision, answer a one-time code, send documents, withdraw, object, and
download the released access package.

The reference and the access code travel only in POST bodies, never in a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlmodel import Session

from app.core.limits import accepts_files
from app.db import settle
from app.deps import RuntimeDep, SessionDep
from app.errors import DomainError, FieldError, ValidationFailed, check_text
from app.models.request import Request as DbRequest
from app.models.request_api import RequestPublic
from app.routers import web_access_code
from app.routers.access_package import package_response
from app.routers.common import client_ip
from app.routers.web import (
    CsrfRefused,
    _first,
    _kinds,
    _Posted,
    csrf_gate,
    forbidden,
    page,
    read_form,
)
from app.runtime import Runtime
from app.services.access import download as access_download
from app.services.access.download import Download
from app.services.decisions import objections
from app.services.identity import evidence as identity_evidence
from app.services.identity import info_requests, otp
from app.services.requests.detail import request_by_reference
from app.services.requests.requester import authorize_requester, get_for_requester
from app.web import csrf
from app.workflows.lifecycle import CLOSED

router = APIRouter(include_in_schema=False)


# --- the requester's status page ------------------------------------------------------------


@router.get("/status", response_class=HTMLResponse)
def status_lookup(request: Request) -> HTMLResponse:
    return page(request, "status_lookup.html", reference="", errors={})


def _status_page(
    request: Request,
    rt: Runtime,
    view: RequestPublic,
    access_code: str,
    *,
    message: str | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
    package_offer: Mapping[str, object] | None = None,
    typed: Mapping[str, str] | None = None,
) -> HTMLResponse:
    service = rt.policy.service(view.service)
    return page(
        request,
        "status.html",
        status=status,
        view=view,
        access_code=access_code,
        service_name=service.name if service else view.service,
        item_names={i.code: i.name for i in service.items} if service else {},
        message=message,
        errors=dict(errors or {}),
        is_open=view.status not in CLOSED,
        # The rules the API applies to the same actions.
        can_upload=identity_evidence.accepts_supplement(view.status),
        can_object=objections.can_object(view.status, view.outcome),
        package_offer=package_offer,
        typed=dict(typed or {}),
    )


async def _authorized(
    request: Request, session: Session, rt: Runtime
) -> tuple[_Posted, str, str] | HTMLResponse:
    try:
        posted = await read_form(request, rt)
    except DomainError as exc:
        return _lookup_again(request, exc, "")
    if not csrf.valid(request, posted.first(csrf.FIELD)):
        return forbidden(request)
    reference, code = posted.first("reference").strip(), posted.first("access_code").strip()
    try:
        await run_in_threadpool(
            authorize_requester, session, rt, reference, code, client=client_ip(request)
        )
    except DomainError as exc:
        return _lookup_again(request, exc, reference)
    return posted, reference, code


def _lookup_again(
    request: Request, exc: DomainError, reference: str, *, again: bool = False
) -> HTMLResponse:
    """Back to the look-up form with the refusal beside the access code."""
    detail = exc.detail + (" 요청을 다시 조회한 뒤 제출해 주세요." if again else "")
    return page(
        request,
        "status_lookup.html",
        status=exc.status,
        reference=reference,
        errors={"access_code": detail},
    )


def _locked(
    session: Session, rt: Runtime, request: Request, reference: str, code: str
) -> DbRequest:
    """The requester's request, locked for a change, after the access-code check."""
    return authorize_requester(
        session, rt, reference, code, for_update=True, client=client_ip(request)
    )


async def _view(
    session: Session, rt: Runtime, reference: str, code: str, client: str | None
) -> RequestPublic:
    return await run_in_threadpool(get_for_requester, session, rt, reference, code, client=client)


@router.post("/status", response_class=HTMLResponse)
async def status_view(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    auth = await _authorized(request, session, rt)
    if isinstance(auth, HTMLResponse):
        return auth
    _, reference, code = auth
    view = await _view(session, rt, reference, code, client_ip(request))
    offer = await run_in_threadpool(_package_offer, session, rt, reference)
    return _status_page(request, rt, view, code, package_offer=offer)


def _package_offer(session: Session, rt: Runtime, reference: str) -> dict[str, object] | None:
    # Called after the access code was checked for this reference.
    return access_download.offer(session, rt, request_by_reference(session, reference))


@router.post("/status/access-package", response_model=None)
async def status_access_package(
    request: Request, session: SessionDep, rt: RuntimeDep
) -> HTMLResponse | StreamingResponse:
    """The same download as GET /v1/requests/{ref}/access-package, by POST: the access code
    travels in the body, never in a URL."""
    auth = await _authorized(request, session, rt)
    if isinstance(auth, HTMLResponse):
        return auth
    _, reference, code = auth

    def run() -> Download:
        req = authorize_requester(session, rt, reference, code, client=client_ip(request))
        return access_download.download(session, rt, req, via="web", client_ip=client_ip(request))

    try:
        return package_response(await run_in_threadpool(run))
    except DomainError as exc:
        await run_in_threadpool(settle, session, exc)
        view = await _view(session, rt, reference, code, client_ip(request))
        errors = {"package": exc.detail}
        return _status_page(request, rt, view, code, errors=errors, status=exc.status)


@router.post("/status/verify", response_class=HTMLResponse)
async def status_verify(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    auth = await _authorized(request, session, rt)
    if isinstance(auth, HTMLResponse):
        return auth
    posted, reference, code = auth

    def run() -> None:
        req = _locked(session, rt, request, reference, code)
        # A wrong code raises an error flagged `commit`: _act keeps the attempt so it counts.
        otp.verify_code(session, rt, req, posted.first("code"))

    return await _act(request, session, rt, reference, code, run, "code", "본인 확인이 끝났습니다.")


@router.post("/status/resend", response_class=HTMLResponse)
async def status_resend(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    auth = await _authorized(request, session, rt)
    if isinstance(auth, HTMLResponse):
        return auth
    _, reference, code = auth

    def run() -> None:
        req = _locked(session, rt, request, reference, code)
        otp.resend_code(session, rt, req)

    return await _act(
        request, session, rt, reference, code, run, "code", "새 인증번호를 보내 드렸습니다."
    )


async def _act(
    request: Request,
    session: Session,
    rt: Runtime,
    reference: str,
    code: str,
    run: Any,
    error_field: str,
    done: str,
    typed: str = "",
) -> HTMLResponse:
    """Run one action on the request; a refusal comes back beside its field with what was
    typed there (`typed`), so nothing has to be written again."""
    try:
        await run_in_threadpool(run)
    except DomainError as exc:
        await run_in_threadpool(settle, session, exc)
        view = await _view(session, rt, reference, code, client_ip(request))
        return _status_page(
            request,
            rt,
            view,
            code,
            errors={error_field: exc.detail},
            status=exc.status,
            typed={error_field: typed},
        )
    view = await _view(session, rt, reference, code, client_ip(request))
    return _status_page(request, rt, view, code, message=done)


@router.post("/status/documents", response_class=HTMLResponse)
@accepts_files
async def status_documents(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    check_csrf = csrf_gate(request)
    checked: list[tuple[str, str]] = []

    def authorized(fields: dict[str, list[str]]) -> None:
        # Before the first file byte: the CSRF token, then the reference and the access code.
        check_csrf(fields)
        ref, code = _first(fields, "reference").strip(), _first(fields, "access_code").strip()
        authorize_requester(session, rt, ref, code, client=client_ip(request))
        checked.append((ref, code))

    try:
        posted = await read_form(request, rt, files=authorized)
    except CsrfRefused:
        return forbidden(request)
    except DomainError as exc:
        if not checked:
            return _lookup_again(request, exc, "", again=True)
        # A refused file (type, size): the person stays on the page, the error beside it.
        ref, code = checked[0]
        view = await _view(session, rt, ref, code, client_ip(request))
        return _status_page(request, rt, view, code, errors=_file_errors(exc), status=exc.status)
    stored = posted.stored
    if not csrf.valid(request, posted.first(csrf.FIELD)):
        stored.discard(rt)
        return forbidden(request)
    reference, code = posted.first("reference").strip(), posted.first("access_code").strip()
    try:
        with stored.discard_on_error(rt):
            await run_in_threadpool(
                authorize_requester, session, rt, reference, code, client=client_ip(request)
            )
    except DomainError as exc:
        return _lookup_again(request, exc, reference)

    def run() -> None:
        with stored.discard_on_error(rt):
            if not stored.files:
                msg = "제출할 파일을 골라 주세요."
                raise ValidationFailed(msg, errors=[FieldError("attachments", "required", msg)])
            kinds = _kinds(posted, stored)
            req = _locked(session, rt, request, reference, code)
            identity_evidence.supplement(session, rt, req, stored.files, kinds)

    return await _act(
        request, session, rt, reference, code, run, "documents", "서류를 제출했습니다."
    )


@router.post("/status/reply", response_class=HTMLResponse)
async def status_reply(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    """보완 요청 answered in words (files go through /status/documents)."""
    auth = await _authorized(request, session, rt)
    if isinstance(auth, HTMLResponse):
        return auth
    posted, reference, code = auth
    message = posted.first("message").strip()

    def run() -> None:
        if not message or len(message) > 4000:
            msg = "답변을 4000자 이내로 적어 주세요."
            raise ValidationFailed(msg, errors=[FieldError("message", "required", msg)])
        check_text(message, field="message", multiline=True)
        req = _locked(session, rt, request, reference, code)
        info_requests.reply(session, rt, req, message)

    return await _act(
        request, session, rt, reference, code, run, "reply", "답변을 보냈습니다.", message
    )


def _file_errors(exc: DomainError) -> dict[str, str]:
    """A refused upload's error keyed by the file input it concerns, in the words of the
    page ("파일 2: ..."), never the input's internal name."""
    message = exc.errors[0].message if exc.errors else exc.detail
    slot = (exc.file_input or "").removeprefix("attachment_")
    if exc.file_input and slot.isdigit():
        return {exc.file_input: f"파일 {slot}: {message}"}
    return {"documents": message}


@router.post("/status/withdraw", response_class=HTMLResponse)
async def status_withdraw(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    auth = await _authorized(request, session, rt)
    if isinstance(auth, HTMLResponse):
        return auth
    posted, reference, code = auth

    def run() -> None:
        if posted.first("confirm") != "yes":
            raise ValidationFailed("취소하려면 확인란에 표시해 주세요.")
        req = _locked(session, rt, request, reference, code)
        objections.withdraw(session, rt, req)

    return await _act(
        request, session, rt, reference, code, run, "withdraw", "요청을 취소했습니다."
    )


@router.post("/status/objection", response_class=HTMLResponse)
async def status_objection(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    auth = await _authorized(request, session, rt)
    if isinstance(auth, HTMLResponse):
        return auth
    posted, reference, code = auth
    reason = posted.first("reason").strip()

    def run() -> Any:
        if not reason or len(reason) > 4000:
            raise ValidationFailed("이의 사유를 4000자 이내로 적어 주세요.")
        check_text(reason, field="reason", multiline=True)
        req = _locked(session, rt, request, reference, code)
        return objections.file_objection(session, rt, req, reason)

    try:
        created = await run_in_threadpool(run)
    except DomainError as exc:
        await run_in_threadpool(settle, session, exc)
        view = await _view(session, rt, reference, code, client_ip(request))
        return _status_page(
            request,
            rt,
            view,
            code,
            errors={"objection": exc.detail},
            status=exc.status,
            typed={"objection": reason},
        )
    return page(request, "confirmation.html", created=created, service_name="", objection=True)


# "확인코드를 잃어버렸어요": its own module, served with the status page.
router.include_router(web_access_code.router)
