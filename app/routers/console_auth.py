"""Staff console sign-in: password, then a TOTP code, then a fresh session; enrolment through
the one-time link `rightsdesk staff add` prints; sign-out. Plain HTML forms, no JavaScript;
every POST carries the CSRF token (app/web/csrf.py)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import ConsoleStaff, RuntimeDep, SessionDep
from app.proxies import client_address
from app.routers.web import read_form
from app.services.console import credentials, sessions
from app.web import csrf
from app.web.console import (
    SESSION_COOKIE,
    FormErrors,
    clear_session,
    page,
    redirect,
    set_session,
)
from app.workflows.console_auth import password_problem, safe_next

router = APIRouter(prefix="/staff", include_in_schema=False)


def _ip(request: Request) -> str | None:
    return client_address(request.scope)


def _refused(request: Request) -> HTMLResponse:
    return page(request, "staff/csrf.html", status=403)


def _with_next(path: str, target: str) -> str:
    nxt = safe_next(target)
    return path if nxt == "/staff" else f"{path}?next={quote(nxt, safe='/')}"


# --- password -------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "", notice: str = "") -> HTMLResponse:
    return page(request, "staff/login.html", next=safe_next(next), notice=notice, values={})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: SessionDep, rt: RuntimeDep) -> Response:
    form = await read_form(request, rt)
    if not csrf.valid(request, form.first(csrf.FIELD)):
        return _refused(request)
    target = safe_next(form.first("next"))
    checked = credentials.check_password(
        session, rt, name=form.first("name"), password=form.first("password"),
        client_ip=_ip(request),
    )  # fmt: skip
    if checked.refusal is not None or checked.staff is None:
        errors = FormErrors()
        errors.add("password", checked.refusal or "bad_credentials")
        return page(
            request, "staff/login.html", status=401 if not checked.locked_until else 429,
            next=target, errors=errors, values={"name": form.first("name")},
            locked_until=checked.locked_until,
        )  # fmt: skip
    # Whatever session the browser had is ended; the half-signed-in one is new.
    sessions.end(session, rt, request.cookies.get(SESSION_COOKIE))
    value = sessions.start(session, rt, checked.staff, second_factor=False)
    response = redirect(_with_next("/staff/login/code", target))
    set_session(request, response, value)
    return response


# --- the second factor ----------------------------------------------------------------------


@router.get("/login/code", response_class=HTMLResponse)
def code_form(request: Request, session: SessionDep, rt: RuntimeDep, next: str = "") -> Response:
    half = sessions.find(session, rt, request.cookies.get(SESSION_COOKIE), second_factor=False)
    if half is None:
        return redirect(_with_next("/staff/login", next))
    return page(request, "staff/code.html", next=safe_next(next))


@router.post("/login/code", response_class=HTMLResponse)
async def code(request: Request, session: SessionDep, rt: RuntimeDep) -> Response:
    form = await read_form(request, rt)
    if not csrf.valid(request, form.first(csrf.FIELD)):
        return _refused(request)
    target = safe_next(form.first("next"))
    cookie = request.cookies.get(SESSION_COOKIE)
    half = sessions.find(session, rt, cookie, second_factor=False)
    if half is None:
        return redirect(_with_next("/staff/login", target))
    checked = credentials.check_code(
        session, rt, half.staff, code=form.first("code"), client_ip=_ip(request)
    )
    if checked.refusal is not None:
        errors = FormErrors()
        errors.add("code", checked.refusal)
        if checked.locked_until is not None:
            sessions.end(session, rt, cookie)
            locked = page(
                request, "staff/login.html", status=429, next=target, errors=errors,
                values={"name": half.staff.name}, locked_until=checked.locked_until,
            )  # fmt: skip
            clear_session(request, locked)
            return locked
        return page(request, "staff/code.html", status=401, next=target, errors=errors)
    # A new session for the signed-in state: the token of the half step is worth nothing now.
    sessions.end(session, rt, cookie)
    value = sessions.start(session, rt, half.staff, second_factor=True)
    response = redirect(target)
    set_session(request, response, value)
    return response


# --- sign-out -------------------------------------------------------------------------------


@router.post("/logout", response_class=HTMLResponse)
async def logout(
    request: Request, staff: ConsoleStaff, session: SessionDep, rt: RuntimeDep
) -> Response:
    form = await read_form(request, rt)
    if not csrf.valid(request, form.first(csrf.FIELD)):
        return _refused(request)
    sessions.sign_out(session, rt, request.cookies.get(SESSION_COOKIE), client_ip=_ip(request))
    response = redirect("/staff/login?notice=signed_out")
    clear_session(request, response)
    return response


# --- enrolment ------------------------------------------------------------------------------


def _enrol_page(
    request: Request,
    enrolment: credentials.Enrolment | None,
    token: str,
    *,
    status: int = 200,
    errors: FormErrors | None = None,
) -> HTMLResponse:
    if enrolment is None:
        return page(request, "staff/enrol_invalid.html", status=404)
    import segno  # drawn here, on the server: no image service sees the secret

    qr = segno.make(enrolment.otpauth_uri, error="m").svg_inline(
        scale=4, dark="#1b1f24", light="#ffffff", omitsize=False
    )
    return page(
        request, "staff/enrol.html", status=status, errors=errors, token=token,
        staff_name=enrolment.staff.name, secret=enrolment.secret, qr_svg=qr,
        expires_at=enrolment.link.expires_at,
        min_length=request.app.state.runtime.settings.console_password_min_length,
    )  # fmt: skip


@router.get("/enrol", response_class=HTMLResponse)
def enrol_form(
    request: Request, session: SessionDep, rt: RuntimeDep, token: str = ""
) -> HTMLResponse:
    return _enrol_page(request, credentials.open_enrolment(session, rt, token), token)


@router.post("/enrol", response_class=HTMLResponse)
async def enrol(request: Request, session: SessionDep, rt: RuntimeDep) -> Response:
    form = await read_form(request, rt)
    if not csrf.valid(request, form.first(csrf.FIELD)):
        return _refused(request)
    token = form.first("token")
    enrolment = credentials.open_enrolment(session, rt, token)
    if enrolment is None:
        return _enrol_page(request, None, token)
    errors = FormErrors()
    problem = password_problem(
        form.first("password"),
        form.first("password_confirm"),
        name=enrolment.staff.name,
        min_length=rt.settings.console_password_min_length,
    )
    if problem is not None:
        errors.add("password", problem.rule)
        return _enrol_page(request, enrolment, token, status=422, errors=errors)
    refused = credentials.complete_enrolment(
        session, rt, enrolment, password=form.first("password"), code=form.first("code"),
        client_ip=_ip(request),
    )  # fmt: skip
    if refused is not None:
        errors.add("code", refused)
        return _enrol_page(request, enrolment, token, status=422, errors=errors)
    return redirect("/staff/login?notice=enrolled")
