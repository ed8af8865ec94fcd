"""Helpers for the console's tasks board and dashboard tests: a signed-in browser per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from app.runtime import Runtime
from tests.console_helpers import csrf_of, session_cookie

_VERSION = re.compile(
    r'name="task_id" value="(\d+)">\s*<input type="hidden" name="version" value="(\d+)"'
)


@contextmanager
def browser(client: TestClient, runtime: Runtime, role: str) -> Iterator[TestClient]:
    """A browser signed in to the console as a staff member of `role` (a fresh session)."""
    cookie = session_cookie(runtime, f"콘솔 {role}", role)
    with TestClient(client.app) as b:
        b.cookies.set("rd_staff", cookie, path="/staff")
        yield b


def versions(html: str) -> dict[int, int]:
    """Each task's request version as the board's forms carry it (their If-Match)."""
    return {int(t): int(v) for t, v in _VERSION.findall(html)}


def form_fields(html: str, task_id: int, version: int, **fields: str) -> dict[str, str]:
    """A board form's hidden fields for one task, and the rest as the person filled them."""
    opened = re.search(r'name="opened_at" value="([^"]+)"', html)
    return {
        "csrf_token": csrf_of(html),
        "task_id": str(task_id),
        "version": str(version),
        "opened_at": opened.group(1) if opened else "",
        **fields,
    }


def article(html: str, task_id: int) -> str:
    """One task's card on the board."""
    start = html.index(f'id="task-{task_id}"')
    return html[start : html.index("</article>", start)]
