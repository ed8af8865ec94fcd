"""Processor mode (art. 26(8)): the clinic's confirmation page (signed link, no JavaScript,
CSRF double submit), the staff step that carries the clinic's instruction out, and the admin's
list of clinics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from app.deps import AdminDep, CaseWrite, RuntimeDep, SessionDep
from app.errors import DomainError, check_text
from app.models.clinic import ClinicForward
from app.models.request import Request as DbRequest
from app.models.request_api import Code, Email, Name, Phone, StaffRequestDetail
from app.routers.common import Page, problem_responses
from app.routers.web import forbidden, page
from app.runtime import Runtime
from app.services.clinics import apply, registry
from app.services.clinics.forwarding import (
    AlreadyAnswered,
    forward_context,
    forward_for_token,
    record_answered,
    record_instruction,
)
from app.services.requests.detail import request_by_reference
from app.web import csrf
from app.workflows.processor import (
    CLINIC_INSTRUCTION_DONE_KO,
    CLINIC_INSTRUCTION_LABELS_KO,
    ClinicInstruction,
)

router = APIRouter(include_in_schema=False)
staff_router = APIRouter(
    prefix="/v1/staff", tags=["clinics"], responses=problem_responses(401, 403)
)


# --- the clinic's page ---------------------------------------------------------------------


def _show(
    request: Request,
    session: Session,
    rt: Runtime,
    found: tuple[ClinicForward, DbRequest] | None,
    token: str,
    *,
    error: str | None = None,
    chosen: str = "",
    reason: str = "",
) -> HTMLResponse:
    if found is None:
        return page(request, "clinic_confirm.html", status=404, invalid=True)
    forward, req = found
    context = forward_context(session, rt, req, forward)
    details = rt.vault.decrypt_opt(req.details_enc, field="request.details")
    return page(
        request,
        "clinic_confirm.html",
        status=422 if error else 200,
        forward=forward,
        token=token,
        error=error,
        chosen=chosen,
        reason=reason,
        details=details,
        choices=[(c.value, CLINIC_INSTRUCTION_LABELS_KO[c]) for c in ClinicInstruction],
        instruction_label=_label(forward.instruction),
        **context,
    )


def _label(instruction: str | None) -> str:
    return CLINIC_INSTRUCTION_DONE_KO[ClinicInstruction(instruction)] if instruction else ""


@router.get("/clinics/confirm", response_class=HTMLResponse)
async def clinic_page(
    request: Request, session: SessionDep, rt: RuntimeDep, token: str = ""
) -> HTMLResponse:
    found = await run_in_threadpool(forward_for_token, session, rt, token)
    return await run_in_threadpool(_show, request, session, rt, found, token)


@router.post("/clinics/confirm", response_class=HTMLResponse)
async def clinic_confirm(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    raw = (await request.body()).decode("utf-8", "replace")
    fields = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    if not csrf.valid(request, fields.get(csrf.FIELD)):
        return forbidden(request)
    token = fields.get("token", "")
    found = await run_in_threadpool(forward_for_token, session, rt, token)
    if found is not None and fields.get("step") == "answered":
        return await run_in_threadpool(_answered, request, session, rt, found, token)
    if found is None or found[0].instruction is not None:
        return await run_in_threadpool(_show, request, session, rt, found, token)
    chosen, reason = fields.get("instruction", ""), fields.get("reason", "").strip()[:2000]
    try:
        await run_in_threadpool(_record, session, rt, found, chosen, reason)
    except AlreadyAnswered:
        # Another submission was recorded a moment ago: this one changes nothing.
        return await run_in_threadpool(_show, request, session, rt, found, token)
    except DomainError as exc:
        return await run_in_threadpool(
            _show, request, session, rt, found, token, error=exc.detail, chosen=chosen,
            reason=reason,
        )  # fmt: skip
    forward, req = found
    return page(
        request,
        "clinic_confirm.html",
        done=True,
        reference=req.reference,
        clinic_name=forward.clinic_name,
        processor_name=rt.policy.controller.signed_as,
        instruction_label=_label(forward.instruction),
    )


def _answered(
    request: Request,
    session: Session,
    rt: Runtime,
    found: tuple[ClinicForward, DbRequest],
    token: str,
) -> HTMLResponse:
    """The clinic that answers the patient itself says it did: the request completes."""
    forward, req = found
    locked = request_by_reference(session, req.reference, for_update=True)
    try:
        record_answered(session, rt, forward, locked)
    except AlreadyAnswered:
        return _show(request, session, rt, found, token)
    except DomainError as exc:
        return _show(request, session, rt, found, token, error=exc.detail)
    return page(
        request,
        "clinic_confirm.html",
        answered_done=True,
        reference=req.reference,
        clinic_name=forward.clinic_name,
    )


def _record(
    session: Session,
    rt: Runtime,
    found: tuple[ClinicForward, DbRequest],
    chosen: str,
    reason: str,
) -> None:
    forward, req = found
    if reason:
        check_text(reason, field="reason", multiline=True)
    request = request_by_reference(session, req.reference, for_update=True)
    try:
        record_instruction(session, rt, forward, request, chosen, reason or None)
    except ValueError as exc:
        raise DomainError(str(exc)) from None


# --- staff: carry the clinic's instruction out ---------------------------------------------


@staff_router.post(
    "/requests/{reference}/clinic-instruction/apply",
    response_model=StaffRequestDetail,
    responses=problem_responses(404, 409, 412, 422, 428),
    summary="병원(개인정보처리자)의 지시를 적용: 처리 작업 생성 또는 결과 통지",
)
def apply_clinic_instruction(w: CaseWrite) -> StaffRequestDetail:
    apply.apply_instruction(w.session, w.rt, w.req, w.staff)
    return w.detail()


# --- admin: the staff-managed clinics -------------------------------------------------------


class ClinicIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: Annotated[Code, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: Name
    email: Email
    phone: Phone | None = None
    services: list[Code] = Field(min_length=1, max_length=10)


class ClinicOut(BaseModel):
    code: str
    name: str
    email: str
    phone: str | None
    services: list[str]
    source: str = Field(description="policy (the policy file's [[clinics]]) | staff")
    active: bool
    created_at: datetime | None
    deactivated_at: datetime | None


def _out(c: registry.ClinicInfo) -> ClinicOut:
    return ClinicOut(
        code=c.code,
        name=c.name,
        email=c.email,
        phone=c.phone,
        services=list(c.services),
        source=c.source,
        active=c.active,
        created_at=c.created_at,
        deactivated_at=c.deactivated_at,
    )


@staff_router.get("/admin/clinics", response_model=Page[ClinicOut], summary="병원 목록 (admin)")
def list_clinics(admin: AdminDep, session: SessionDep, rt: RuntimeDep) -> Page[ClinicOut]:
    return Page(items=[_out(c) for c in registry.list_clinics(session, rt, include_inactive=True)])


@staff_router.post(
    "/admin/clinics",
    response_model=ClinicOut,
    status_code=201,
    responses=problem_responses(409, 422),
    summary="병원 추가 (admin)",
)
def create_clinic(
    body: ClinicIn, admin: AdminDep, session: SessionDep, rt: RuntimeDep, response: Response
) -> ClinicOut:
    created = registry.create_clinic(
        session,
        rt,
        admin,
        code=body.code,
        name=body.name,
        email=str(body.email),
        phone=body.phone,
        services=list(body.services),
    )
    response.headers["Location"] = f"/v1/staff/admin/clinics/{created.code}"
    return _out(created)


@staff_router.post(
    "/admin/clinics/{clinic_code}/deactivate",
    response_model=ClinicOut,
    responses=problem_responses(404, 409, 422),
    summary="병원 비활성화 (admin): 새 요청이 더는 이 병원을 고를 수 없음",
)
def deactivate_clinic(
    clinic_code: Annotated[str, Path(max_length=64)],
    admin: AdminDep,
    session: SessionDep,
    rt: RuntimeDep,
) -> ClinicOut:
    return _out(registry.deactivate_clinic(session, rt, clinic_code))
