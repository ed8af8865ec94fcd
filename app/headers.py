"""Response headers set in one place for whole families of routes.

Everything under these paths can carry personal data or a secret (an access code, a signed
task link): the staff API, the requester's API and the filing's 201, the web form's result and
status pages, the holders' confirmation page, and the staff console. None of it may stay in a
browser's history cache or a shared proxy, whatever the route, its status code or who added it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE_PREFIXES = ("/v1/staff", "/v1/requests", "/status", "/tasks", "/form", "/staff")


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


class NoStore:
    """`Cache-Control: no-store` on every response of the NO_STORE_PREFIXES paths."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = NO_STORE_PREFIXES) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _under(scope.get("path", ""), self.prefixes):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_no_store)
