"""Limits: the request body size cap (RIGHTSDESK_MAX_BODY_BYTES), enforced while the body
streams in, and the intake rate per client address."""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.codes import canonical_reference
from app.errors import PayloadTooLarge, RateLimited, problem
from app.proxies import client_address

_F = TypeVar("_F", bound=Callable[..., Any])


def accepts_files(endpoint: _F) -> _F:
    """Marks a route endpoint that streams evidence files: only such routes may receive a
    body past MAX_BODY_BYTES (up to the upload cap). Every other route is held to
    MAX_BODY_BYTES whatever its Content-Type says."""
    endpoint.accepts_files = True  # type: ignore[attr-defined]
    return endpoint


@dataclass
class UploadRoutes:
    """The (method, path pattern) pairs of the routes marked with `accepts_files`; filled by
    the app factory once its routers are included (the middleware is built before that)."""

    routes: list[tuple[frozenset[str], re.Pattern[str]]] = field(default_factory=list)

    def add(self, methods: set[str] | None, path_regex: re.Pattern[str]) -> None:
        self.routes.append((frozenset(methods or ()), path_regex))

    def match(self, method: str, path: str) -> bool:
        return any(method in methods and rx.match(path) for methods, rx in self.routes)


class BodySizeLimit:
    """Answers 413 as soon as the declared or the received size passes the cap, and 408 when
    the body stalls.

    The cap is MAX_BODY_BYTES for every route except those marked `accepts_files`, which get
    the upload cap when they are sent multipart/form-data. A body sent without Content-Length
    is counted as it arrives; once past the cap the app sees the client as gone and whatever
    it would still answer is dropped, so the 413 is the only response. The same goes for a
    body that sends nothing for `idle_timeout` seconds, or is not complete after
    `total_timeout` seconds (a slow-loris upload would otherwise hold a worker, and shutdown,
    forever).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_upload_bytes: int,
        upload_routes: UploadRoutes,
        per_path: dict[str, int] | None = None,
        idle_timeout: float = 30.0,
        total_timeout: float = 600.0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_routes = upload_routes
        # Paths with their own cap: the Channel Talk webhook (CHANNELTALK_MAX_BODY_BYTES).
        self.per_path = per_path or {}
        self.idle_timeout = idle_timeout
        self.total_timeout = total_timeout

    def limit_for(self, scope: Scope) -> int:
        path = scope.get("path", "")
        if path in self.per_path:
            return self.per_path[path]
        ctype = dict(scope["headers"]).get(b"content-type", b"").lower()
        multipart = ctype.startswith(b"multipart/form-data")
        if multipart and self.upload_routes.match(scope.get("method", ""), path):
            # Evidence uploads have their own per-file limits, checked while they stream;
            # this is only the outer bound of the whole body.
            return self.max_upload_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self._limited(scope, receive, send, self.limit_for(scope))

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, limit)
            return
        seen = 0
        rejected = False
        finished = False
        deadline = time.monotonic() + self.total_timeout

        async def counting_receive() -> Message:
            nonlocal seen, rejected, finished
            if rejected:
                return {"type": "http.disconnect"}
            if finished:
                return await receive()  # after the body: wait for the disconnect as asked
            wait = min(self.idle_timeout, max(0.0, deadline - time.monotonic()))
            try:
                with anyio.fail_after(wait):
                    message = await receive()
            except TimeoutError:
                rejected = True
                await self._timed_out(scope, receive, send)
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    rejected = True
                    await self._reject(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
                finished = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        detail = f"요청 본문은 {limit:,}바이트를 넘을 수 없습니다."
        response = problem(413, PayloadTooLarge.code, PayloadTooLarge.title, detail)
        await response(scope, receive, send)

    async def _timed_out(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = "요청 본문이 제때 도착하지 않았습니다. 다시 보내 주세요."
        response = problem(408, "request_timeout", "요청 시간이 초과되었습니다.", detail)
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

    def forget(self, key: str, at: float) -> None:
        """Take back the filing recorded at `at`: one the caller refused as invalid does not
        count against the limit (the person fixes the form and sends it again)."""
        with self._lock:
            hits = self._hits.get(key)
            if hits and at in hits:
                hits.remove(at)


class FailureLock:
    """Wrong tries at a secret (an access code), counted per key: with `crowd`, the key is one
    client address's tries at a target and `crowd` the target's tries from every address.

    A key with `max_failures` within `lock_seconds` is locked until `lock_seconds` after its
    last one. While its crowd has `crowd_failures` within the window (guessing spread over
    many addresses), each key is allowed only `crowd_max_failures`. The crowd itself never
    locks, so an address that has not been guessing (the holder of the right code) still gets
    in; see "Abuse limits" in docs/decisions.md. Kept in memory per process, like
    IntakeRateLimiter; keys are keyed hashes, so no reference or address is held in clear."""

    def __init__(
        self,
        max_failures: int,
        lock_seconds: float,
        *,
        crowd_failures: int | None = None,
        crowd_max_failures: int | None = None,
    ) -> None:
        self.max_failures = max_failures
        self.lock_seconds = lock_seconds
        self.crowd_failures = crowd_failures
        self.crowd_max_failures = min(crowd_max_failures or max_failures, max_failures)
        # Only the newest failures decide anything: a key keeps no more than that many.
        self._keep = max(max_failures, crowd_failures or 0)
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._sweep_at = 10_000

    def wait(self, key: str, now: float, *, crowd: str | None = None) -> float | None:
        """Seconds until the key unlocks, or None when it is not locked."""
        with self._lock:
            fails = self._recent(key, now)
            limit = self.max_failures
            if crowd is not None and self._crowded(crowd, now):
                limit = self.crowd_max_failures
            if fails and len(fails) >= limit:
                return fails[-1] + self.lock_seconds - now
            return None

    def failed(self, key: str, now: float, *, crowd: str | None = None) -> None:
        with self._lock:
            for k in (key, crowd) if crowd is not None else (key,):
                self._fails.setdefault(k, deque(maxlen=self._keep)).append(now)
            if len(self._fails) > self._sweep_at:
                stale = [
                    k for k, v in self._fails.items() if not v or v[-1] <= now - self.lock_seconds
                ]
                for k in stale:
                    del self._fails[k]
                # Sweep again only once the table has doubled: many live keys (a guess from
                # many addresses) must not make every failure a scan of all of them.
                self._sweep_at = max(10_000, 2 * len(self._fails))

    def _crowded(self, crowd: str, now: float) -> bool:
        threshold = self.crowd_failures
        return threshold is not None and len(self._recent(crowd, now)) >= threshold

    def _recent(self, key: str, now: float) -> deque[float]:
        fails = self._fails.get(key)
        if fails is None:
            return deque()
        while fails and fails[0] <= now - self.lock_seconds:
            fails.popleft()
        return fails


# Public paths, and the part of each that names a request (for the per-reference limit). The
# console's sign-in and enrolment pages too: the account lockout stops guessing one account,
# this stops one address trying a password on many.
_PUBLIC_PREFIXES = (
    "/v1/requests",
    "/v1/catalog",
    "/v1/deadlines",
    "/form",
    "/status",
    "/tasks/",
    "/staff/login",
    "/staff/enrol",
)
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
            # One key per reference however it is spelled ("ref%20", lower case, no hyphens):
            # the same normalisation as the lookup, so no spelling gets a limit of its own.
            reference = canonical_reference(match.group(1))
            wait = self.per_reference.hit(self.hash_key(f"reference:{reference}"), now)
        if wait is None:
            await self.app(scope, receive, send)
            return
        retry = str(max(1, math.ceil(wait)))
        detail = "요청이 너무 잦습니다. 잠시 후 다시 시도해 주세요."
        response = problem(
            429, RateLimited.code, RateLimited.title, detail, headers={"Retry-After": retry}
        )
        await response(scope, receive, send)
