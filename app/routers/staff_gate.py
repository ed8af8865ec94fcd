"""Staff routes check the bearer token before any of the body is read.

FastAPI reads and parses a route's body before it solves the route's dependencies, so the
token check in `app.deps.current_staff` alone would come after up to MAX_BODY_BYTES had been
buffered and parsed for a caller with no token at all. This middleware answers 401 first; the
dependency still does the real check (and the role check) for the route.
"""

from __future__ import annotations

import anyio.to_thread
from sqlmodel import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import DomainError, Unauthenticated, problem_response
from app.runtime import Runtime
from app.services.staff.accounts import authenticate

STAFF_PREFIX = "/v1/staff"


def _bearer(scope: Scope) -> str | None:
    raw: str = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = raw.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class StaffTokenGate:
    def __init__(self, app: ASGIApp, *, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != STAFF_PREFIX and not path.startswith(STAFF_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        try:
            await anyio.to_thread.run_sync(self._check, _bearer(scope))
        except DomainError as exc:
            await problem_response(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, token: str | None) -> None:
        if token is None:
            raise Unauthenticated("Authorization: Bearer <token> 헤더가 필요합니다.")
        with Session(self.runtime.engine) as session:
            authenticate(session, token, now=self.runtime.clock())
            session.rollback()  # a read only: the route's own check records the use
