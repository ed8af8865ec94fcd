"""How many HTTP requests the web process is serving right now: the embedded worker gives
way while there are any (app/services/outbox.py, BackgroundWorker)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class InFlight:
    """The count; changed only on the event loop's thread, read from the worker's."""

    def __init__(self) -> None:
        self.count = 0

    def busy(self) -> bool:
        return self.count > 0


class CountInFlight:
    def __init__(self, app: ASGIApp, *, counter: InFlight) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.counter.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.counter.count -= 1
