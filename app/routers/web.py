"""The data subject's web form: plain HTML, no JavaScript, same services as the API.

Every POST carries the CSRF token (double submit) and, after the filing, the reference and
the access code only in POST bodies: never in a URL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.catalog import build_catalog
from app.core.limits import accepts_files
from app.deps import RuntimeDep, SessionDep
from app.errors import DomainError, RateLimited, ValidationFailed
from app.evidence.multipart import BeforeFiles, read_upload
from app.models.vocab import AUTOMATED_DECISION_TYPES
from app.proxies import client_address
from app.routers.filing_body import StoredFiles, upload_limits
from app.runtime import Runtime
from app.services.clinics.registry import clinic_options
from app.services.identity.evidence import attachment_kinds
from app.services.intake import FilingContext, file_request
from app.services.notices.render import josa
from app.web import csrf, forms, labels
from app.workflows.deadlines import period_for
from app.workflows.processor import CARRIED_OUT_TYPES

router = APIRouter(include_in_schema=False)

_APP_DIR = Path(__file__).resolve().parent.parent
_env = Environment(
    loader=FileSystemLoader(_APP_DIR / "templates" / "web"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["josa"] = josa  # the particle that fits a name from the policy file
_env.globals.update(
    labels=labels,
    STATUS_KO=labels.STATUS_KO,
    OUTCOME_KO=labels.OUTCOME_KO,
    NEXT_ACTION_KO=labels.NEXT_ACTION_KO,
    NOTICE_KO=labels.NOTICE_KO,
    RELATIONSHIP_KO=labels.RELATIONSHIP_KO,
    SCOPE_KO=labels.SCOPE_KO,
    ACCESS_SCOPE_KO=labels.ACCESS_SCOPE_KO,
    TRANSMISSION_TO_KO=labels.TRANSMISSION_TO_KO,
    ATTACHMENT_KIND_KO=labels.ATTACHMENT_KIND_KO,
    NOTIFY_KO=labels.NOTIFY_KO,
    DELIVERY_KO=labels.DELIVERY_KO,
    FILE_SLOTS=forms.FILE_SLOTS,
)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Every page may show request data or a form with it: none is cached.
    "Cache-Control": "no-store",
}

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with a CSRF token (and its cookie) and the security headers."""
    token = csrf.token_for(request)
    html = _env.get_template(template).render(csrf_token=token, csrf_field=csrf.FIELD, **context)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    csrf.set_cookie(response, token, secure=request.url.scheme == "https")
    return response


def forbidden(request: Request) -> HTMLResponse:
    return page(request, "forbidden.html", status=403)


class CsrfRefused(DomainError):
    """The form's CSRF token did not match: answered with the 403 page, nothing stored."""

    status, code, title = 403, "forbidden", "요청을 처리할 수 없습니다."


def _first(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


def csrf_gate(request: Request) -> BeforeFiles:
    """Checks the CSRF token among the fields that came before the first file part."""

    def check(fields: dict[str, list[str]]) -> None:
        if not csrf.valid(request, _first(fields, csrf.FIELD)):
            raise CsrfRefused()

    return check


class _Posted:
    """A POSTed form: text fields and (multipart only) the stored files."""

    def __init__(self, fields: dict[str, list[str]], stored: StoredFiles) -> None:
        self.fields = fields
        self.stored = stored

    def first(self, name: str) -> str:
        return _first(self.fields, name)


async def read_form(request: Request, rt: Runtime, *, files: BeforeFiles | None = None) -> _Posted:
    """Reads urlencoded or multipart bodies. A form that takes files passes the check that
    must pass before the first file byte is stored (`files`); files then stream into the
    evidence store (never a plaintext temporary file). A form that takes none refuses them."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == _MULTIPART:
        limits = upload_limits(rt, accept_files=files is not None)
        upload = await read_upload(request, rt.evidence, limits, before_files=files)
        return _Posted(upload.fields, StoredFiles(files=upload.files))
    if media == _URLENCODED or media == "":
        raw = (await request.body()).decode("utf-8", errors="replace")
        return _Posted(parse_qs(raw, keep_blank_values=True), StoredFiles())
    raise ValidationFailed("양식을 다시 열어 제출해 주세요.")


# --- landing page ---------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def landing(request: Request, rt: RuntimeDep) -> HTMLResponse:
    catalog = build_catalog(rt.policy)
    intake = rt.policy.contact(rt.policy.rights.intake_contact)
    periods = {t["code"]: period_for(t["code"]) for t in catalog["request_types"]}
    no_birth_names = [s.name for s in rt.policy.services if not s.collects_birth_date]
    return page(
        request,
        "landing.html",
        catalog=catalog,
        intake=intake,
        periods=periods,
        no_birth_names=no_birth_names,
    )


# --- the request form -----------------------------------------------------------------------


def _form_context(rt: Runtime, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    catalog = build_catalog(rt.policy)
    values = values or {}
    no_birth = [s for s in rt.policy.services if not s.collects_birth_date]
    choice = forms.choice_of(values, catalog)
    return {
        "catalog": catalog,
        "services": catalog["services"],
        "type_options": [(t["code"], t["label"]) for t in catalog["request_types"]],
        "service_options": [(s["code"], s["name"]) for s in catalog["services"]],
        "relationship_options": list(labels.RELATIONSHIP_KO.items()),
        # The case chosen on the first step (None until type, service and filer are known):
        # the second step shows only the sections that case needs.
        "choice": choice,
        # Services that never collected a birth date (law rule 20): the form asks
        # "만 14세 미만입니까?" for them instead.
        "no_birth_attrs": {s.code: "data-no-birth" for s in no_birth},
        "no_birth_names": [s.name for s in no_birth],
        # Processor mode (art. 26(8)): the clinics whose patient data the chosen service holds,
        # offered only for the types a clinic's instruction can be carried out for.
        "clinic_options": (
            clinic_options(rt, choice.service["code"])
            if choice and choice.type in CARRIED_OUT_TYPES
            else []
        ),
    }


@router.get("/form", response_class=HTMLResponse)
def form(request: Request, rt: RuntimeDep) -> HTMLResponse:
    """Step 1 (choose the right, the service and who files) until all three are chosen,
    then step 2: only the sections that case needs. Both are plain GET forms (no JS)."""
    values = forms.values_of({})
    for name in forms.CHOICE_FIELDS:
        values[name] = request.query_params.get(name, "")
    context = _form_context(rt, values)
    if context["choice"] is None or request.query_params.get("change"):
        errors = forms.FormErrors()
        if request.query_params.get("step") == "choose":
            errors = forms.choice_errors(values, context["catalog"])
        return page(request, "form_choose.html", values=values, errors=errors, **context)
    return page(request, "form.html", values=values, errors=forms.FormErrors(), **context)


def _kinds(posted: _Posted, stored: StoredFiles) -> list[str]:
    by_slot = {f"attachment_{slot}": posted.first(f"kind_{slot}") for slot in forms.FILE_SLOTS}
    raw = [by_slot.get(f.field_name, "") or "other" for f in stored.files]
    return attachment_kinds(raw, len(stored.files))


async def _too_soon(request: Request, rt: Runtime, limited: RateLimited) -> HTMLResponse:
    """The intake limit: every field typed comes back (files cannot: the browser does not
    resend them), with when to try again in minutes, as Retry-After says."""
    try:
        posted = await read_form(request, rt, files=csrf_gate(request))
    except CsrfRefused:
        return forbidden(request)
    except DomainError as exc:
        fields, had_files = exc.partial_fields or {}, True
    else:
        posted.stored.discard(rt)
        if not csrf.valid(request, posted.first(csrf.FIELD)):
            return forbidden(request)
        fields, had_files = posted.fields, bool(posted.stored.files)
    seconds = int(limited.headers.get("Retry-After", "60"))
    minutes = max(1, math.ceil(seconds / 60))
    errors = forms.FormErrors()
    errors.add_general(
        f"접수가 너무 잦아 지금은 받을 수 없습니다. 입력하신 내용은 그대로 두었으니 "
        f"{minutes}분 뒤에 다시 제출해 주세요."
    )
    response = page(
        request,
        "form.html",
        status=429,
        values=forms.values_of(fields),
        errors=errors,
        files_lost=had_files,
        **_form_context(rt, forms.values_of(fields)),
    )
    response.headers["Retry-After"] = str(seconds)
    return response


@router.post("/form", response_class=HTMLResponse)
@accepts_files
async def submit(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    client = client_address(request.scope)
    try:
        counted = rt.check_intake_rate(client)
    except RateLimited as limited:
        return await _too_soon(request, rt, limited)
    try:
        posted = await read_form(request, rt, files=csrf_gate(request))
    except CsrfRefused:
        return forbidden(request)
    except DomainError as exc:
        rt.forgive_intake(client, counted, exc)
        errors = forms.from_domain(exc.errors, exc.detail, exc.code)
        values = forms.values_of(exc.partial_fields or {})
        return page(
            request,
            "form.html",
            status=exc.status,
            values=values,
            errors=errors,
            files_lost=True,
            **_form_context(rt, values),
        )
    stored = posted.stored
    if not csrf.valid(request, posted.first(csrf.FIELD)):
        stored.discard(rt)
        return forbidden(request)
    if posted.first("website").strip():
        # A bot filled the hidden field: look like an ordinary failure, file nothing.
        stored.discard(rt)
        return page(request, "honeypot.html")
    values = forms.switched_to_access(forms.values_of(posted.fields))
    try:
        with stored.discard_on_error(rt):
            no_birth = frozenset(s.code for s in rt.policy.services if not s.collects_birth_date)
            payload = forms.build_payload(values, no_birth)
            kinds = _kinds(posted, stored)
            ctx = FilingContext(
                channel="web",
                received_at=rt.clock(),
                actor="requester",
                idempotency_scope="web",
                idempotency_key=None,
            )
            created, _ = await run_in_threadpool(
                file_request, session, rt, payload, ctx, stored.files, kinds
            )
    except DomainError as exc:
        await run_in_threadpool(session.rollback)
        rt.forgive_intake(client, counted, exc)
        errors = forms.from_domain(exc.errors, exc.detail, exc.code)
        return page(
            request,
            "form.html",
            status=exc.status if exc.status != 422 else 200,
            values=values,
            errors=errors,
            files_lost=bool(stored.files),
            **_form_context(rt, values),
        )
    service = rt.policy.service(payload.service)
    item_names = {i.code: i.name for i in service.items} if service else {}
    return page(
        request,
        "confirmation.html",
        created=created,
        service_name=service.name if service else payload.service,
        # What was received, echoed back: the items named (none = all of the service's).
        received_items=[item_names.get(code, code) for code in payload.items or []],
        received_details=payload.details,
        received_access_scope=payload.access_scope,
        received_automated_decision=_decision_name(rt, payload.type, payload.automated_decision),
    )


def _decision_name(rt: Runtime, request_type: str, code: str | None) -> str | None:
    """Art. 37-2: the decision named, echoed by its name ("모름" when none was named)."""
    if request_type not in AUTOMATED_DECISION_TYPES:
        return None
    decision = rt.policy.automated_decision(code) if code else None
    return decision.name if decision else "모름 (담당자가 확인)"


def install_web(app: FastAPI) -> None:
    """Mount the web pages and their stylesheet (call after the API routers)."""
    from app.routers import web_status

    app.include_router(router)
    app.include_router(web_status.router)
    app.mount("/static", StaticFiles(directory=_APP_DIR / "static"), name="static")
