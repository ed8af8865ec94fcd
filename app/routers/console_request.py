"""One request's page in the staff console (/staff/requests/{ref}) and its actions.

The page asks once for the purpose of the view (접속기록: 안전성 확보조치 기준 art. 8) before it
shows any personal data; the purpose travels in the page's links and forms and is recorded with
every read made for that view. Every action is a form post with the CSRF token and the version
the page showed (the API's If-Match): a stale form changes nothing and gets a page listing what
changed since. Each action calls the service the API's route calls, behind the same
PERMISSIONS; a domain error comes back on the page beside its field, with what was typed kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from app.core import access_purpose
from app.core.limits import accepts_files
from app.deps import (
    PERMISSIONS,
    Capability,
    ConsoleHandler,
    ConsoleOfficer,
    ConsoleReader,
    ConsoleTriage,
    RuntimeDep,
    SessionDep,
    request_for_write,
)
from app.errors import (
    DomainError,
    FieldError,
    ValidationFailed,
    VersionMismatch,
    pydantic_field_errors,
)
from app.evidence.multipart import UploadedFile, UploadLimits, read_upload
from app.models.request import Request as DbRequest
from app.models.staff import Staff
from app.proxies import client_address
from app.routers.access_package import ProvidedIn
from app.routers.automated import AutomatedDecisionIn, ExtensionIn
from app.routers.decisions import (
    DecisionIn,
    PostponementEndIn,
    PostponementIn,
    _decision_input,
)
from app.routers.filing_body import StoredFiles, upload_limits
from app.routers.staff import IdentityIn, InfoRequestIn
from app.routers.tasks import CompleteIn, ReasonIn
from app.routers.web import read_form
from app.runtime import Runtime
from app.services.access import extracts, package
from app.services.console import request_page
from app.services.decisions import approval as decisions_approval
from app.services.decisions import drafting
from app.services.decisions import postponement as decisions_postponement
from app.services.identity import checks, evidence, info_requests
from app.services.notices.resend import resend
from app.services.requests import assignment, automated
from app.services.requests.detail import log_access, request_by_reference
from app.services.tasks import execution as tasks
from app.services.tasks import views as task_views
from app.web import csrf
from app.web.console import FormErrors, page, redirect
from app.workflows.tasks import Performed

router = APIRouter(prefix="/staff/requests", include_in_schema=False)

# What a view is for, offered as choices (a purpose of one's own may be typed instead).
PURPOSES = ("요구 처리", "본인 확인", "결정 작성·결재", "조치 이행 확인", "요구인 문의 응대")
# A missing record date: the API's wording names its JSON (null); the page has a box instead.
RECORD_DATE_MISSING = (
    "이 기록이 만들어진 날짜를 적거나, 그런 기록이 없으면 '기록 없음'을 골라 주세요."
)
# Documents shown in the browser itself; anything else is not offered inline.
_INLINE = frozenset({"application/pdf", "image/jpeg", "image/png"})


def _ip(request: Request) -> str | None:
    return client_address(request.scope)


def _purpose(value: str | None) -> str:
    return "".join(ch for ch in (value or "") if ch.isprintable()).strip()[
        : access_purpose.MAX_CHARS
    ]


def problem_page(request: Request, staff: Staff, exc: DomainError) -> HTMLResponse:
    """A refusal of a console page as a page (the API's problem+json is for API clients)."""
    return page(
        request, "staff/request/problem.html", status=exc.status, staff=staff,
        title=exc.title, detail=exc.detail,
    )  # fmt: skip


def page_url(reference: str, purpose: str, **extra: str) -> str:
    return f"/staff/requests/{reference}?{urlencode({'purpose': purpose, **extra})}"


# --- the page -------------------------------------------------------------------------------


@router.get("/{reference}", response_class=HTMLResponse)
def request_view(
    reference: str,
    request: Request,
    staff: ConsoleReader,
    session: SessionDep,
    rt: RuntimeDep,
    purpose: str = "",
    purpose_other: str = "",
    done: str = "",
) -> Response:
    try:
        req = request_by_reference(session, reference)
    except DomainError as exc:
        return problem_page(request, staff, exc)
    stated = _purpose(purpose_other) or _purpose(purpose)
    if not stated:
        errors = FormErrors()
        if "purpose" in request.query_params:
            errors.add("purpose", "열람 목적을 고르거나 적어 주세요.")
        return page(
            request, "staff/request/purpose.html", status=422 if errors else 200, staff=staff,
            errors=errors, reference=req.reference, purposes=PURPOSES,
        )  # fmt: skip
    return _render(request, session, rt, staff, req.reference, stated, done=done)


def _render(
    request: Request,
    session: Session,
    rt: Runtime,
    staff: Staff,
    reference: str,
    purpose: str,
    *,
    status: int = 200,
    done: str = "",
    form: str = "",
    errors: FormErrors | None = None,
    values: dict[str, list[str]] | None = None,
) -> HTMLResponse:
    with access_purpose.stated(purpose):
        view = request_page.read_page(session, rt, reference, staff, _ip(request))
    return page(
        request,
        "staff/request/page.html",
        status=status,
        staff=staff,
        view=view,
        d=view.detail,
        purpose=purpose,
        done=done,
        form=form,
        errors=errors,
        values=values or {},
        service_names={s.code: s.name for s in rt.policy.services},
        item_names=_item_names(rt, view.detail.service),
        may={
            "triage": staff.role in _roles("triage"),
            "handle": staff.role in _roles("handle"),
            "approve": staff.role in _roles("approve"),
        },
    )


def _roles(capability: str) -> frozenset[str]:
    return frozenset(r.value for r in PERMISSIONS[Capability(capability)])


def _item_names(rt: Runtime, service_code: str) -> dict[str, str]:
    service = rt.policy.service(service_code)
    return {i.code: i.name for i in service.items} if service else {}


# --- documents, inline ----------------------------------------------------------------------


@router.get("/{reference}/documents/{attachment_id}")
def document(
    reference: str,
    attachment_id: int,
    request: Request,
    staff: ConsoleReader,
    session: SessionDep,
    rt: RuntimeDep,
    purpose: str = "",
) -> Response:
    """A submitted document (or task evidence) shown in the browser, decrypted: inline,
    never cached, and recorded in the access log with the view's purpose."""
    try:
        req = request_by_reference(session, reference)
        attachment = evidence.attachment_of(session, req, attachment_id)
    except DomainError as exc:
        return problem_page(request, staff, exc)
    stated = _purpose(purpose)
    if not stated:
        return redirect(f"/staff/requests/{req.reference}")  # the purpose question first
    if attachment.content_type not in _INLINE:
        return page(request, "staff/request/not_inline.html", status=415, staff=staff)
    with access_purpose.stated(stated):
        log_access(
            session, rt, req, staff, "download_attachment", _ip(request),
            attachment_id=attachment_id,
        )  # fmt: skip
    return StreamingResponse(
        rt.evidence.open(attachment.blob_key),
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": "inline",
            "Content-Length": str(attachment.size),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            # The document is shown, never run: no script, no framing by another site.
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; object-src 'self'; "
            "frame-ancestors 'none'",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get("/{reference}/certificate", response_class=HTMLResponse)
def certificate(
    reference: str,
    request: Request,
    staff: ConsoleReader,
    session: SessionDep,
    rt: RuntimeDep,
    purpose: str = "",
) -> Response:
    """The execution certificate (the API's HTML rendering), logged with the view's purpose."""
    from app.services.tasks.certificate import HTML_HEADERS, render_html  # as the API: on use

    try:
        req = request_by_reference(session, reference)
        cert = task_views.certificate_of(session, rt, req, issued_by=staff)
    except DomainError as exc:  # not found, or nothing carried out yet
        session.rollback()
        return problem_page(request, staff, exc)
    with access_purpose.stated(_purpose(purpose) or access_purpose.current("certificate_html")):
        log_access(session, rt, req, staff, "certificate_html", _ip(request))
    return HTMLResponse(render_html(cert), headers={**HTML_HEADERS, "Cache-Control": "no-store"})


# --- actions --------------------------------------------------------------------------------


Action = Callable[[Session, Runtime, DbRequest, Staff, "Posted"], None]


class Posted:
    """A console form: its fields as lists (checkboxes repeat) and the first of each."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def first(self, name: str) -> str:
        values = self.fields.get(name) or [""]
        return values[0].strip()

    def many(self, name: str) -> list[str]:
        return [v for v in self.fields.get(name, []) if v.strip()]

    def opt(self, name: str) -> str | None:
        return self.first(name) or None


async def _act(
    request: Request,
    reference: str,
    staff: Staff,
    session: Session,
    rt: Runtime,
    form_name: str,
    action: Action,
) -> Response:
    posted = await read_form(request, rt)
    if not csrf.valid(request, posted.first(csrf.FIELD)):
        return page(request, "staff/csrf.html", status=403)
    form = Posted(posted.fields)
    return await run_in_threadpool(
        _apply, request, reference, staff, session, rt, form_name, action, form
    )


def _apply(
    request: Request,
    reference: str,
    staff: Staff,
    session: Session,
    rt: Runtime,
    form_name: str,
    action: Action,
    form: Posted,
) -> Response:
    purpose = _purpose(form.first("purpose")) or PURPOSES[0]
    version = form.first("version")
    try:
        seen = int(form.first("seen") or "0")
    except ValueError:
        seen = 0
    try:
        if not version.isdigit():
            raise VersionMismatch("양식을 다시 열어 주세요.")
        req = request_for_write(session, reference, int(version))
        action(session, rt, req, staff, form)
    except VersionMismatch:
        session.rollback()
        canonical = request_by_reference(session, reference).reference
        return page(
            request, "staff/request/stale.html", status=409, staff=staff,
            reference=canonical, purpose=purpose, url=page_url(canonical, purpose),
            changes=request_page.changes_since(session, canonical, seen),
            staff_names=request_page.staff_names(session),
        )  # fmt: skip
    except ValidationError as exc:
        session.rollback()
        return _failed(request, session, rt, staff, reference, purpose, form_name, form,
                       pydantic_field_errors(exc.errors()), None)  # fmt: skip
    except DomainError as exc:
        session.rollback()
        return _failed(request, session, rt, staff, reference, purpose, form_name, form,
                       exc.errors, exc.detail)  # fmt: skip
    canonical = request_by_reference(session, reference).reference
    return redirect(page_url(canonical, purpose, done=form_name) + f"#{form_name}")


def _failed(
    request: Request,
    session: Session,
    rt: Runtime,
    staff: Staff,
    reference: str,
    purpose: str,
    form_name: str,
    form: Posted,
    field_errors: list[FieldError],
    detail: str | None,
) -> HTMLResponse:
    errors = FormErrors()
    for fe in field_errors:
        message = fe.message
        if fe.field.startswith("record_dates.") and fe.code == "required":
            message = RECORD_DATE_MISSING
        errors.add(input_id(form_name, fe.field), message)
    if not field_errors and detail:
        errors.add(form_name, detail)
    return _render(
        request, session, rt, staff, reference, purpose, status=422, form=form_name,
        errors=errors, values=form.fields,
    )  # fmt: skip


def input_id(form_name: str, field: str) -> str:
    """The page's input for an error's field: `record_dates.x` -> `decision-record_dates-x`."""
    name = field.removeprefix("body.").replace(".", "-")
    if name.startswith("actions"):
        name = "actions"
    return f"{form_name}-{name}" if name else form_name


def _model(model: type[BaseModel], data: dict[str, Any]) -> Any:
    return model.model_validate({k: v for k, v in data.items() if v not in (None, "", [])})


def _assign(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    value = form.first("assignee")
    fields: dict[str, Any] = {"assignee": int(value) if value.isdigit() else None}
    if value and not value.isdigit():
        raise _invalid("assignee", "담당자를 목록에서 골라 주세요.")
    assignment.assign(session, rt, req, fields=fields, staff=staff)


def _note(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    if not form.first("note"):
        raise _invalid("note", "메모 내용을 적어 주세요.")
    assignment.assign(session, rt, req, fields={"note": form.first("note")}, staff=staff)


def _info_request(
    session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted
) -> None:
    body = _model(
        InfoRequestIn, {"message": form.first("message"), "respond_by": form.opt("respond_by")}
    )
    info_requests.request_information(
        session, rt, req, message=body.message, respond_by=body.respond_by,
        actor=f"staff:{staff.id}",
    )  # fmt: skip


def _identity(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    body = _model(
        IdentityIn,
        {
            "result": form.first("result"),
            "method": form.first("method"),
            "note": form.opt("note"),
            "reason": form.opt("reason"),
        },
    )
    checks.staff_identity_check(
        session, rt, req, result=body.result, method=body.method, note=body.note,
        reason=body.reason, actor=f"staff:{staff.id}",
    )  # fmt: skip


def decision_body(form: Posted) -> dict[str, Any]:
    """The decision form as the API's body: checkboxes as lists, a record date per rule (or
    "no such record": null), the access terms and art. 37-2 fields only where given."""
    record_dates: dict[str, str | None] = {}
    for key in form.fields:
        if key.startswith("record_date."):
            rule = key.removeprefix("record_date.")
            none = form.first(f"record_none.{rule}") == "1"
            record_dates[rule] = None if none else (form.first(key) or "")
    body: dict[str, Any] = {
        "outcome": form.first("outcome"),
        "grounds": form.many("grounds"),
        "reason": form.opt("reason"),
        "items_granted": form.many("items_granted"),
        "items_withheld": form.many("items_withheld"),
        "changes": form.opt("changes"),
        "measure": form.opt("measure"),
    }
    body = {k: v for k, v in body.items() if v not in (None, [], "")}
    # Unanswered dates stay out: the rule then names what is missing.
    dates = {k: v for k, v in record_dates.items() if v != ""}
    if dates:
        body["record_dates"] = dates
    if form.first("access_method"):
        body["access"] = {
            k: v
            for k, v in {
                "method": form.first("access_method"),
                "available_at": form.opt("access_available_at"),
                "place": form.opt("access_place"),
                "fee_krw": form.opt("access_fee_krw") or 0,
                "postage_krw": form.opt("access_postage_krw") or 0,
            }.items()
            if v is not None
        }
    if form.first("explanation_result"):
        body["explanation"] = {
            "result": form.first("explanation_result"),
            "criteria": form.opt("explanation_criteria"),
            "data_types": form.many("explanation_data_types"),
        }
    if form.first("termination") in ("yes", "no"):
        body["subject_stated_termination"] = form.first("termination") == "yes"
    return body


def _decide(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    raw = decision_body(form)
    if not raw.get("outcome"):
        raise _invalid("outcome", "결정을 골라 주세요.")
    body = DecisionIn.model_validate(raw)
    drafting.draft(session, rt, req, _decision_input(body), staff)


def _approval(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    choice = form.first("approve")
    if choice not in ("yes", "no"):
        raise _invalid("approve", "승인 또는 반려를 골라 주세요.")
    if choice == "no" and not form.first("note"):
        raise _invalid("note", "반려할 때는 작성자가 읽을 메모를 적어 주세요.")
    decisions_approval.approve(
        session, rt, req, staff, approve=choice == "yes", note=form.opt("note")
    )


def _postpone(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    body = _model(
        PostponementIn, {"reason": form.first("reason"), "expected_end": form.opt("expected_end")}
    )
    decisions_postponement.postpone(
        session, rt, req, reason=body.reason, expected_end=body.expected_end,
        actor=f"staff:{staff.id}",
    )  # fmt: skip


def _end_postponement(
    session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted
) -> None:
    body = _model(PostponementEndIn, {"ended_on": form.opt("ended_on")})
    decisions_postponement.end_postponement(
        session, rt, req, ended_on=body.ended_on, actor=f"staff:{staff.id}"
    )


def _provided(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    """In-person access given, or the copy mailed (as POST …/access/provided). The form's
    date and time are Korean time."""
    at = form.first("at")
    if len(at) == len("2026-12-20T14:00"):
        at += ":00+09:00"
    body = _model(ProvidedIn, {"at": at or None, "note": form.opt("note")})
    package.provided(session, rt, req, staff, at=body.at, note_text=body.note)


def _resend(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    """A new copy of a notice (as POST …/notices/{id}/resend)."""
    notice_id = form.first("notice_id")
    if not notice_id.isdigit():
        raise _invalid("resend", "안내를 찾을 수 없습니다.")
    resend(session, rt, req, int(notice_id), actor=f"staff:{staff.id}")


def _extension(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    body = _model(ExtensionIn, {"reason": form.first("reason")})
    automated.extend(session, rt, req, reason=body.reason, actor=f"staff:{staff.id}")


def _complete_task(
    session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted
) -> None:
    task_id = form.first("task_id")
    if not task_id.isdigit():
        raise _invalid("task", "작업을 찾을 수 없습니다.")
    task = tasks.task_of(session, req, int(task_id), lock=True)
    actions = [
        {"action": key.removeprefix("method."), "method": value}
        for key, values in form.fields.items()
        if key.startswith("method.")
        for value in values[:1]
        if value
    ]
    body = _model(CompleteIn, {"actions": actions, "note": form.opt("note")})
    tasks.complete(
        session, rt, req, task,
        tasks.Completion(
            [Performed(p.action, p.method) for p in body.actions], body.note, None,
            by=f"staff:{staff.id}",
        ),
    )  # fmt: skip


def _invalid(field: str, message: str) -> DomainError:
    return ValidationFailed(message, errors=[FieldError(field, "required", message)])


@router.post("/{reference}/assign", response_class=HTMLResponse)
async def assign(
    reference: str, request: Request, staff: ConsoleTriage, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "assign", _assign)


@router.post("/{reference}/notes", response_class=HTMLResponse)
async def note(
    reference: str, request: Request, staff: ConsoleTriage, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "note", _note)


@router.post("/{reference}/info-requests", response_class=HTMLResponse)
async def info_request(
    reference: str, request: Request, staff: ConsoleTriage, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "info", _info_request)


@router.post("/{reference}/identity", response_class=HTMLResponse)
async def identity(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "identity", _identity)


@router.post("/{reference}/decision", response_class=HTMLResponse)
async def decision(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "decision", _decide)


@router.post("/{reference}/approval", response_class=HTMLResponse)
async def approval(
    reference: str, request: Request, staff: ConsoleOfficer, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "approval", _approval)


@router.post("/{reference}/postponement", response_class=HTMLResponse)
async def postponement(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "postponement", _postpone)


@router.post("/{reference}/postponement/end", response_class=HTMLResponse)
async def postponement_end(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "postponement_end",
                      _end_postponement)  # fmt: skip


@router.post("/{reference}/access/provided", response_class=HTMLResponse)
async def access_provided(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "provided", _provided)


@router.post("/{reference}/notices/resend", response_class=HTMLResponse)
async def resend_notice(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "resend", _resend)


@router.post("/{reference}/extension", response_class=HTMLResponse)
async def extension(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "extension", _extension)


@router.post("/{reference}/tasks/complete", response_class=HTMLResponse)
async def complete_task(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "tasks", _complete_task)


# --- actions with files: task evidence, access extracts, and the access package's release ----


class _CsrfRefused(Exception):
    """The form's CSRF token failed: refused before any file byte is stored."""


FileAction = Callable[[Session, Runtime, DbRequest, Staff, Posted, list[UploadedFile]], None]


async def _act_with_files(
    request: Request,
    reference: str,
    staff: Staff,
    session: Session,
    rt: Runtime,
    form_name: str,
    action: FileAction,
    limits: UploadLimits,
) -> Response:
    def before(fields: dict[str, list[str]]) -> None:
        values = fields.get(csrf.FIELD) or [""]
        if not csrf.valid(request, values[0]):
            raise _CsrfRefused()

    try:
        upload = await read_upload(request, rt.evidence, limits, before_files=before)
    except _CsrfRefused:
        return page(request, "staff/csrf.html", status=403)
    except DomainError as exc:  # too large, a type not accepted: beside the file input
        fields = Posted(exc.partial_fields or {})
        purpose = _purpose(fields.first("purpose")) or PURPOSES[0]
        errors = FormErrors()
        errors.add(f"{form_name}-files", exc.detail)
        status = exc.status
        return await run_in_threadpool(
            lambda: _render(
                request,
                session,
                rt,
                staff,
                reference,
                purpose,
                status=status,
                form=form_name,
                errors=errors,
                values=fields.fields,
            )
        )
    if not csrf.valid(request, (upload.fields.get(csrf.FIELD) or [""])[0]):
        StoredFiles(files=upload.files).discard(rt)  # a form with no file part at all
        return page(request, "staff/csrf.html", status=403)
    stored = StoredFiles(files=upload.files)
    with stored.discard_on_error(rt):

        def run(s: Session, r: Runtime, req: DbRequest, who: Staff, form: Posted) -> None:
            if not upload.files:
                raise _invalid("files", "올릴 파일을 골라 주세요.")
            action(s, r, req, who, form, upload.files)

        response = await run_in_threadpool(
            _apply, request, reference, staff, session, rt, form_name, run, Posted(upload.fields)
        )
    if response.status_code != 303:  # nothing was recorded: the stored files go too
        stored.discard(rt)
    return response


def _task_evidence(
    session: Session,
    rt: Runtime,
    req: DbRequest,
    staff: Staff,
    form: Posted,
    files: list[UploadedFile],
) -> None:
    task_id = form.first("task_id")
    if not task_id.isdigit():
        raise _invalid("task", "작업을 찾을 수 없습니다.")
    task = tasks.task_of(session, req, int(task_id), lock=True)
    task_views.attach_evidence(session, rt, req, task, files, actor=f"staff:{staff.id}")


def _extracts(
    session: Session,
    rt: Runtime,
    req: DbRequest,
    staff: Staff,
    form: Posted,
    files: list[UploadedFile],
) -> None:
    holder = form.first("holders")
    if not holder:
        raise _invalid("holders", "어느 보유처의 자료인지 골라 주세요.")
    task_list = extracts.holder_tasks(session, req, [holder] * len(files), len(files))
    extracts.add_extracts(session, rt, req, files, task_list, actor=f"staff:{staff.id}")


def _release(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    package.release(session, rt, req, staff)


@router.post("/{reference}/tasks/evidence", response_class=HTMLResponse)
@accepts_files
async def task_evidence(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act_with_files(
        request, reference, staff, session, rt, "evidence", _task_evidence, upload_limits(rt)
    )


@router.post("/{reference}/access-package/files", response_class=HTMLResponse)
@accepts_files
async def access_extracts(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act_with_files(
        request, reference, staff, session, rt, "extracts", _extracts,
        extracts.extract_limits(rt),
    )  # fmt: skip


@router.post("/{reference}/access-package/release", response_class=HTMLResponse)
async def access_release(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "release", _release)


def _resolve(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    body = _model(AutomatedDecisionIn, {"code": form.first("code")})
    automated.resolve_decision(session, rt, req, code=body.code, actor=f"staff:{staff.id}")


@router.post("/{reference}/automated-decision", response_class=HTMLResponse)
async def automated_decision(
    reference: str, request: Request, staff: ConsoleTriage, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "resolve", _resolve)


def _task(session: Session, req: DbRequest, form: Posted) -> Any:
    task_id = form.first("task_id")
    if not task_id.isdigit():
        raise _invalid("task", "작업을 찾을 수 없습니다.")
    return tasks.task_of(session, req, int(task_id), lock=True)


def _reason(form: Posted) -> str:
    body = _model(ReasonIn, {"reason": form.first("reason")})
    return str(body.reason)


def _fail_task(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    task = _task(session, req, form)
    tasks.fail(session, rt, req, task, _reason(form), actor=f"staff:{staff.id}")


def _reopen_task(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    task = _task(session, req, form)
    tasks.reopen(session, rt, req, task, actor=f"staff:{staff.id}")


def _waive_task(session: Session, rt: Runtime, req: DbRequest, staff: Staff, form: Posted) -> None:
    task = _task(session, req, form)
    tasks.waive(session, rt, req, task, _reason(form), officer=staff)


@router.post("/{reference}/tasks/fail", response_class=HTMLResponse)
async def fail_task(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "fail", _fail_task)


@router.post("/{reference}/tasks/reopen", response_class=HTMLResponse)
async def reopen_task(
    reference: str, request: Request, staff: ConsoleHandler, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "reopen", _reopen_task)


@router.post("/{reference}/tasks/waive", response_class=HTMLResponse)
async def waive_task(
    reference: str, request: Request, staff: ConsoleOfficer, session: SessionDep, rt: RuntimeDep
) -> Response:
    return await _act(request, reference, staff, session, rt, "waive", _waive_task)
