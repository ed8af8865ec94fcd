"""Helpers for the tests of one request's page in the staff console: a signed-in browser per
staff member, the purpose asked before the page shows personal data, and posting a form of
the page the way the browser would (its CSRF token, version and timeline position)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from app.runtime import Runtime
from tests.console_helpers import csrf_of, session_cookie

PURPOSE = "요구 처리"
_HIDDEN = re.compile(r'<input type="hidden" name="(version|seen|purpose)" value="([^"]*)">')


def browser(client: TestClient, runtime: Runtime, name: str, role: str) -> TestClient:
    """A browser of its own, signed in as `name` (made with `role` if missing)."""
    tab = TestClient(client.app)
    tab.cookies.set("rd_staff", session_cookie(runtime, name, role), path="/staff")
    return tab


def open_request(tab: TestClient, ref: str, purpose: str = PURPOSE) -> Any:
    resp = tab.get(f"/staff/requests/{ref}", params={"purpose": purpose})
    assert resp.status_code == 200, resp.text
    return resp


def form_state(html: str) -> dict[str, str]:
    """The hidden fields every action form of the page carries."""
    out = {name: unescape(value) for name, value in _HIDDEN.findall(html)}
    out["csrf_token"] = csrf_of(html)
    return out


def post(tab: TestClient, ref: str, action: str, html: str, data: Any = None) -> Any:
    """Posts one of the page's forms (data: a dict, or pairs for repeated checkboxes)."""
    pairs = list(form_state(html).items())
    pairs += list(data.items()) if isinstance(data, dict) else list(data or [])
    return tab.post(
        f"/staff/requests/{ref}/{action}",
        content=urlencode(pairs),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def post_and_follow(tab: TestClient, ref: str, action: str, html: str, data: Any = None) -> Any:
    resp = post(tab, ref, action, html, data)
    assert resp.status_code == 303, resp.text
    page = tab.get(resp.headers["location"])
    assert page.status_code == 200, page.text
    return page
