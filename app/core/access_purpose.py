"""The purpose of a staff read, for the access log (접속기록: 안전성 확보조치 기준 art. 8).

A client states it in the `X-Access-Purpose` header, percent-encoded UTF-8 (e.g.
`%EB%AF%BC%EC%9B%90` for "민원"); without one the
action implies it. Kept in a context variable for the request, so every access-log write in
the request sees it without threading it through each call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

HEADER = b"x-access-purpose"
MAX_CHARS = 100

_purpose: ContextVar[str | None] = ContextVar("access_purpose", default=None)

# What each logged action is for, when the client did not say.
DEFAULT_PURPOSE = {
    "view_detail": "요구 처리",
    "view_notices": "통지 확인",
    "download_attachment": "신원·증빙 서류 확인",
    "view_tasks": "조치 이행 관리",
    "certificate_html": "처리 결과 증빙",
    "certificate_pdf": "처리 결과 증빙",
    "register": "처리 대장 작성",
    "access_log": "접속기록 점검",
    "transmission_log": "전송 기록 점검",
    "chat_candidates": "채팅 요구 확인",
}


def current(action: str) -> str:
    return _purpose.get() or DEFAULT_PURPOSE.get(action, "요구 처리")


class AccessPurpose:
    """Reads the header (UTF-8 allowed, control characters dropped, capped)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(HEADER)
        value = None
        if raw:
            # HTTP header values are ASCII: Korean is sent percent-encoded (UTF-8).
            text = unquote(raw.decode("utf-8", "replace"))
            value = "".join(ch for ch in text if ch.isprintable()).strip()[:MAX_CHARS] or None
        token = _purpose.set(value)
        try:
            await self.app(scope, receive, send)
        finally:
            _purpose.reset(token)


@contextmanager
def stated(value: str) -> Iterator[None]:
    """The purpose a console user stated for one request view, for the reads made inside (the
    console asks once per view instead of a header)."""
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip()[:MAX_CHARS] or None
    token = _purpose.set(cleaned)
    try:
        yield
    finally:
        _purpose.reset(token)
