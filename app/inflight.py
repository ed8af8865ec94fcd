"""Whether the web process is busy serving requests: the embedded worker gives way while it
is (app/services/outbox.py, BackgroundWorker)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

# Quiet means no request in flight for this long: under load there are sub-millisecond gaps
# between one response and the next request, which are not a moment to send mail in.
QUIET_SECONDS = 0.02


class InFlight:
    """Changed only on the event loop's thread, read from the worker's."""

    def __init__(self) -> None:
        self.count = 0
        self.last_done = 0.0

    def busy(self) -> bool:
        return self.count > 0 or time.monotonic() - self.last_done < QUIET_SECONDS


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
            self.counter.last_done = time.monotonic()
