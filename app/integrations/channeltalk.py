"""A thin synchronous client for the Channel Talk Open API v5 (api.channel.io).

Reference: shared/reference/channeltalk.md §3. Errors are raised as DeliveryError subclasses so
callers (the outbox worker) treat Channel Talk like any other transport. Nothing this module logs
or puts into an exception carries the access secret, message text or a response body: bodies of
user, chat and message endpoints hold personal data of data subjects.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from app.integrations.delivery import PermanentDeliveryError, TransientDeliveryError

log = logging.getLogger("rightsdesk.channeltalk")

# Margin after `x-ratelimit-reset`: the header has one-second resolution and clocks drift a bit.
RATE_RESET_MARGIN = 0.05

# Paragraph separator: one or more blank lines (possibly holding only spaces).
_PARAGRAPHS = re.compile(r"\n[ \t]*\n+")


def _seg(value: str) -> str:
    """Quote one path segment; '@' stays literal (RFC 3986 pchar) for `/users/@{memberId}`."""
    return quote(value, safe="@")


def text_blocks(text: str) -> list[dict[str, str]]:
    """One text block per paragraph: Channel renders blocks as separate, readable paragraphs."""
    paragraphs = [p.strip() for p in _PARAGRAPHS.split(text.replace("\r\n", "\n"))]
    blocks = [{"type": "text", "value": p} for p in paragraphs if p]
    if not blocks:
        raise ValueError("message text is empty")
    return blocks


class ChannelTalkClient:
    """Open API v5 calls with the §3.5 retry policy (429 until reset, 5xx/network with backoff)."""

    def __init__(
        self,
        base_url: str,
        access_key: str,
        access_secret: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_rate_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_rate_wait = max_rate_wait
        self._sleep = sleep
        self._now = now
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={
                "x-access-key": access_key,
                "x-access-secret": access_secret,
                "accept": "application/json",
            },
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ChannelTalkClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- endpoints ---------------------------------------------------------------------------

    def send_message(
        self,
        user_chat_id: str,
        text: str,
        *,
        request_id: str,
        bot_name: str | None = None,
        private: bool = False,
        options: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Post into a customer chat; `private` makes it a manager-only note.

        `request_id` should be deterministic per outbox step. Whether Channel dedupes on it is
        unverified, so a retried POST after a 5xx/timeout may still produce a duplicate message.
        """
        opts = list(dict.fromkeys([*options, *(["private"] if private else [])]))
        body = {"blocks": text_blocks(text), "requestId": request_id, "options": opts}
        params = {"botName": bot_name} if bot_name is not None else None
        path = f"/open/v5/user-chats/{_seg(user_chat_id)}/messages"
        return self._request("POST", path, "/user-chats/{id}/messages", params=params, body=body)

    def update_chat_description(self, user_chat_id: str, description: str) -> dict[str, Any]:
        path = f"/open/v5/user-chats/{_seg(user_chat_id)}"
        return self._request("PATCH", path, "/user-chats/{id}", body={"description": description})

    def get_user_chat(self, user_chat_id: str) -> dict[str, Any]:
        return self._request("GET", f"/open/v5/user-chats/{_seg(user_chat_id)}", "/user-chats/{id}")

    def list_user_chats(
        self,
        *,
        state: str = "opened",
        sort_order: str = "desc",
        limit: int = 100,
        since: str | None = None,
    ) -> dict[str, Any]:
        params = _list_params(sort_order, limit, since, state=state)
        return self._request("GET", "/open/v5/user-chats", "/user-chats", params=params)

    def list_messages(
        self,
        user_chat_id: str,
        *,
        sort_order: str = "desc",
        limit: int = 50,
        since: str | None = None,
    ) -> dict[str, Any]:
        path = f"/open/v5/user-chats/{_seg(user_chat_id)}/messages"
        params = _list_params(sort_order, limit, since)
        return self._request("GET", path, "/user-chats/{id}/messages", params=params)

    def get_user(self, user_id: str) -> dict[str, Any]:
        """`user_id` may also be "@<memberId>" (the documented member lookup)."""
        return self._request("GET", f"/open/v5/users/{_seg(user_id)}", "/users/{id}")

    def list_webhooks(self) -> dict[str, Any]:
        return self._request("GET", "/open/v5/webhooks", "/webhooks")

    def get_channel(self) -> dict[str, Any]:
        """Credential self-test (what the official n8n node uses)."""
        return self._request("GET", "/open/v5/channel", "/channel")

    # -- transport and retry policy ----------------------------------------------------------

    def backoff_delay(self, attempt: int) -> float:
        """Jittered capped exponential delay for retry number `attempt` (1-based).

        Uniform in [d/2, d] with d = min(cap, base * 2^(attempt-1)): spreads retries of many
        workers while keeping a floor so a struggling server gets real breathing room.
        """
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _request(
        self,
        method: str,
        path: str,
        template: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One logical call. `template` (ids elided) is all that is logged about the path."""
        failures = 0  # 5xx and network errors
        throttled = 0  # 429s: a separate bound so a throttling loop always ends
        while True:
            response = self._send(method, path, params, body)
            if isinstance(response, str):  # the name of a network error or timeout
                failures += 1
                self._retry_or_raise(method, template, failures, response)
                continue
            status = response.status_code
            if status == 429:
                throttled += 1
                self._wait_for_rate_limit(method, template, response, throttled)
                continue
            if status >= 500:
                failures += 1
                self._retry_or_raise(method, template, failures, f"HTTP {status}")
                continue
            if not 200 <= status < 300:
                log.warning("channeltalk %s %s -> %s (not retried)", method, template, status)
                raise PermanentDeliveryError(f"Channel Talk HTTP {status}")
            log.debug("channeltalk %s %s -> %s", method, template, status)
            return _json_object(response)

    def _send(
        self, method: str, path: str, params: dict[str, str] | None, body: dict[str, Any] | None
    ) -> httpx.Response | str:
        """The response, or the exception's class name for a retryable network failure.

        Returning the name (instead of raising from inside `except`) keeps httpx exceptions,
        whose text includes the URL, out of the DeliveryError's chained context.
        """
        error: str | None = None
        try:
            return self._http.request(method, path, params=params, json=body)
        except httpx.TransportError as exc:  # connect/read errors and all timeouts
            return type(exc).__name__
        except httpx.RequestError as exc:  # e.g. a body decoding error: retrying will not help
            error = type(exc).__name__
        raise TransientDeliveryError(f"Channel Talk {error}")

    def _retry_or_raise(self, method: str, template: str, failures: int, what: str) -> None:
        if failures > self.max_retries:
            log.warning("channeltalk %s %s -> %s, giving up", method, template, what)
            raise TransientDeliveryError(f"Channel Talk {what}")
        delay = self.backoff_delay(failures)
        log.info("channeltalk %s %s -> %s, retry in %.2fs", method, template, what, delay)
        self._sleep(delay)

    def _wait_for_rate_limit(
        self, method: str, template: str, response: httpx.Response, throttled: int
    ) -> None:
        """Sleep until `x-ratelimit-reset` (epoch s), or raise if that is too far or too often."""
        reset = _float_header(response, "x-ratelimit-reset")
        if reset is None:
            wait = self.backoff_delay(throttled)
        else:
            wait = max(0.0, reset - self._now()) + RATE_RESET_MARGIN
        if throttled > self.max_retries or wait > self.max_rate_wait:
            # Hand the wait to the caller's scheduler instead of blocking a worker for minutes.
            log.warning("channeltalk %s %s -> 429, wait %.2fs not taken", method, template, wait)
            raise TransientDeliveryError("Channel Talk HTTP 429")
        log.info("channeltalk %s %s -> 429, waiting %.2fs", method, template, wait)
        self._sleep(wait)


def _list_params(sort_order: str, limit: int, since: str | None, **extra: str) -> dict[str, str]:
    params = {**extra, "sortOrder": sort_order, "limit": str(limit)}
    if since is not None:
        params["since"] = since
    return params


def _float_header(response: httpx.Response, name: str) -> float | None:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """Parsed body; {} for an empty one. The body itself never reaches an error message."""
    if not response.content.strip():
        return {}
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        # A 2xx we cannot read (e.g. a proxy's HTML page): the call may or may not have taken
        # effect, so it is reported as transient and left to the caller's dedupe.
        raise TransientDeliveryError(f"Channel Talk HTTP {response.status_code} non-JSON body")
    return data
