"""Limits: the request body size cap (RIGHTSDESK_MAX_BODY_BYTES), enforced while the body
streams in, and the intake rate per client address."""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, RateLimited, problem
from app.proxies import client_address


class BodySizeLimit:
    """Answers 413 as soon as the declared or the received size passes the cap.

    A body sent without Content-Length is counted as it arrives; once past the cap the app sees
    the client as gone and whatever it would still answer is dropped, so the 413 is the
    only response.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_multipart_bytes: int,
        per_path: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_multipart_bytes = max_multipart_bytes
        # Paths with their own cap: the Channel Talk webhook (CHANNELTALK_MAX_BODY_BYTES).
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        # Evidence uploads have their own per-file limits, checked while they stream; this is
        # only the outer bound of the whole body.
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        limit = self.max_multipart_bytes if multipart else self.max_bytes
        limit = self.per_path.get(scope.get("path", ""), limit)
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, limit)
            return
        seen = 0
        rejected = False

        async def counting_receive() -> Message:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    rejected = True
                    await self._reject(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        detail = f"요청 본문은 {limit:,}바이트를 넘을 수 없습니다."
        response = problem(413, PayloadTooLarge.code, PayloadTooLarge.title, detail)
        await response(scope, receive, send)


class IntakeRateLimiter:
    """At most `limit` filings per client address in a sliding `window` (seconds).

    Kept in the process's memory: with several web processes each counts on its own, so the
    effective limit is `limit` times the number of processes. Addresses are kept only as a
    keyed hash, and only for the window.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float) -> float | None:
        """Record a filing; returns None if allowed, else the seconds until the next one is."""
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return hits[0] + self.window - now
            hits.append(now)
            if len(self._hits) > 10_000:  # forget addresses whose window has passed
                for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                    del self._hits[k]
            return None


class FailureLock:
    """Locks a key (an access-code target) after `max_failures` wrong tries within
    `lock_seconds`, for `lock_seconds`. Kept in memory per process, like IntakeRateLimiter;
    keys are keyed hashes, so no reference or address is held in clear."""

    def __init__(self, max_failures: int, lock_seconds: float) -> None:
        self.max_failures = max_failures
        self.lock_seconds = lock_seconds
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str, now: float) -> float | None:
        """Seconds until the key unlocks, or None when it is not locked."""
        with self._lock:
            fails = self._fails.get(key)
            if fails is None:
                return None
            while fails and fails[0] <= now - self.lock_seconds:
                fails.popleft()
            if len(fails) >= self.max_failures:
                return fails[-1] + self.lock_seconds - now
            return None

    def failed(self, key: str, now: float) -> None:
        with self._lock:
            self._fails.setdefault(key, deque()).append(now)
            if len(self._fails) > 10_000:
                stale = [
                    k for k, v in self._fails.items() if not v or v[-1] <= now - self.lock_seconds
                ]
                for k in stale:
                    del self._fails[k]


# Public paths, and the part of each that names a request (for the per-reference limit).
_PUBLIC_PREFIXES = ("/v1/requests", "/v1/catalog", "/v1/deadlines", "/form", "/status", "/tasks/")
_REFERENCE_IN_PATH = re.compile(r"^/v1/requests/([^/]+)")


class PublicRateLimit:
    """Calls to public endpoints per client address per minute, and per reference (a
    reference hammered from many addresses is a guessing attack on its access code).
    0 turns it off. Staff endpoints (tokens) and the Channel Talk webhook are not counted."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_minute: int,
        hash_key: Callable[[str], str],
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.now = now
        self.per_address = IntakeRateLimiter(per_minute, 60) if per_minute else None
        # A reference is one person's: a quarter of an address's allowance is plenty.
        self.per_reference = IntakeRateLimiter(max(per_minute // 4, 1), 60) if per_minute else None
        self.hash_key = hash_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        public = path == "/" or path.startswith(_PUBLIC_PREFIXES)
        if self.per_address is None or not public:
            await self.app(scope, receive, send)
            return
        now = self.now()
        address = client_address(scope) or "-"
        wait = self.per_address.hit(self.hash_key(f"address:{address}"), now)
        match = _REFERENCE_IN_PATH.match(path)
        if wait is None and match and self.per_reference is not None:
            wait = self.per_reference.hit(self.hash_key(f"reference:{match.group(1).upper()}"), now)
        if wait is None:
            await self.app(scope, receive, send)
            return
        retry = str(max(1, math.ceil(wait)))
        detail = "요청이 너무 잦습니다. 잠시 후 다시 시도해 주세요."
        response = problem(
            429, RateLimited.code, RateLimited.title, detail, headers={"Retry-After": retry}
        )
        await response(scope, receive, send)
