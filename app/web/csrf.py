"""Double-submit CSRF protection for the web form.

A random token lives in a `SameSite=Strict; HttpOnly; Path=/` cookie and is repeated in a hidden
field of every form; a POST is accepted only when both are present and equal (compared in
constant time).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "rd_csrf"
FIELD = "csrf_token"
_TOKEN_CHARS = 43  # secrets.token_urlsafe(32)


def _well_formed(token: str | None) -> bool:
    return bool(token) and len(token or "") == _TOKEN_CHARS and (token or "").isascii()


def token_for(request: Request) -> str:
    """The token to put in this page's forms: the browser's cookie if it has a good one."""
    current = request.cookies.get(COOKIE)
    if current is not None and _well_formed(current):
        return current
    return secrets.token_urlsafe(32)


def set_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/", secure=secure)


def valid(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(COOKIE)
    if not _well_formed(cookie) or not _well_formed(submitted):
        return False
    assert cookie is not None and submitted is not None
    return hmac.compare_digest(cookie.encode(), submitted.encode())
