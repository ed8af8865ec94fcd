"""The staff console's page helpers: templates, security headers, the session and CSRF
cookies. Every console page goes through `page`, every redirect through `redirect`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import Response

from app.web import csrf, labels

SESSION_COOKIE = "rd_staff"
_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"

_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(labels=labels, STATUS_KO=labels.STATUS_KO)

# No script at all, no framing by anyone (clickjacking), forms post only here.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass
class FormErrors:
    """Errors of a form, by input id (beside the field) and in order (the summary)."""

    by_input: dict[str, list[str]] = field(default_factory=dict)

    def add(self, input_id: str, message: str) -> None:
        self.by_input.setdefault(input_id, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.by_input)


def _secure(request: Request) -> bool:
    return bool(request.app.state.runtime.settings.console_cookie_secure)


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    staff: Any = None,
    **context: Any,
) -> HTMLResponse:
    token = csrf.token_for(request)
    html = _env.get_template(template).render(
        csrf_token=token,
        csrf_field=csrf.FIELD,
        staff=staff,
        errors=context.pop("errors", None) or FormErrors(),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    csrf.set_cookie(response, token, secure=_secure(request))
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def set_session(request: Request, response: Response, value: str) -> None:
    """The session cookie: never readable by script, never sent cross-site, HTTPS only
    (unless CONSOLE_COOKIE_SECURE is off for plain-HTTP development), console paths only.
    No Max-Age: it ends with the browser as well as with the server's timeouts."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        httponly=True,
        secure=_secure(request),
        samesite="strict",
        path="/staff",
    )


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/staff", httponly=True, secure=_secure(request), samesite="strict"
    )
