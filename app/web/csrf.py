"""CSRF protection for the web form: a signed double-submit token and a same-origin check.

The token is `<nonce>.<HMAC-SHA256(nonce)>` under a key derived from the data key, so only
this server can make one: a cookie planted by someone who can set cookies for the site (a
sibling subdomain, plain HTTP on the way) is not a token. It lives in a `SameSite=Strict;
HttpOnly; Path=/` cookie and is repeated in a hidden field of every form; a POST is accepted
only when both are present, equal (compared in constant time) and signed.

A POST is also refused when the browser says it comes from another site. `Sec-Fetch-Site`
decides when present (every current browser): only `same-origin` or `none` pass. Without
it, an `Origin` must be this site (the request's Host, or PUBLIC_BASE_URL's host behind a
proxy that rewrites Host). `Origin: null` is not taken as foreign: our pages are served with
`Referrer-Policy: no-referrer`, under which browsers send it on their own same-origin POSTs.
A client that sends neither header (curl, an old browser) is let through on the token alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "rd_csrf"
FIELD = "csrf_token"
_NONCE_BYTES = 24
_NONCE_CHARS = 32  # urlsafe base64 of 24 bytes, no padding
_MAC_CHARS = 43  # urlsafe base64 of 32 bytes, without its "="
_TOKEN_CHARS = _NONCE_CHARS + 1 + _MAC_CHARS
_SAME_SITE_FETCH = frozenset({"same-origin", "none"})


def _key(request: Request) -> bytes:
    # HKDF of the data key: a separate subkey for this purpose only (app/core/crypto.py).
    key: bytes = request.app.state.runtime.vault.derive("web-csrf")
    return key


def _mac(key: bytes, nonce: str) -> str:
    digest = hmac.new(key, b"csrf:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _signed(request: Request, token: str | None) -> bool:
    if not token or len(token) != _TOKEN_CHARS or not token.isascii():
        return False
    nonce, dot, mac = token.partition(".")
    if dot != "." or len(nonce) != _NONCE_CHARS:
        return False
    return hmac.compare_digest(mac.encode(), _mac(_key(request), nonce).encode())


def token_for(request: Request) -> str:
    """The token to put in this page's forms: the browser's cookie if it is one we signed."""
    current = request.cookies.get(COOKIE)
    if current is not None and _signed(request, current):
        return current
    nonce = secrets.token_urlsafe(_NONCE_BYTES)
    return f"{nonce}.{_mac(_key(request), nonce)}"


def set_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/", secure=secure)


def _own_hosts(request: Request) -> set[str]:
    hosts = {request.headers.get("host", "").lower()}
    public = request.app.state.runtime.settings.public_base_url
    if public:
        hosts.add(urlsplit(public).netloc.lower())
    return hosts - {""}


def _same_origin(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.strip().lower() in _SAME_SITE_FETCH
    origin = (request.headers.get("origin") or "").strip()
    if origin in ("", "null"):
        return True  # nothing said: the signed token decides
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() in _own_hosts(request)


def valid(request: Request, submitted: str | None) -> bool:
    """True for a POST from this site's own form: same origin, and the signed token twice."""
    if not _same_origin(request):
        return False
    cookie = request.cookies.get(COOKIE)
    if cookie is None or submitted is None or not _signed(request, cookie):
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())
