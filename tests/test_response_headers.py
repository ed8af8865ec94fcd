"""Headers that keep personal data and codes out of caches and out of frames (issue 16).

Every response of the staff API, the requester API, the web status pages and the holders'
confirmation page is `Cache-Control: no-store`: set in one place (app/headers.py) for the
paths, so a route added later is covered without remembering to. The certificate HTML also
carries its own CSP, `X-Frame-Options: DENY` and `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.headers import NO_STORE_PREFIXES
from tests.conftest import request_body
from tests.factories import Case, csrf_token

Headers = Callable[..., dict[str, str]]


def assert_no_store(resp: httpx.Response, what: str) -> None:
    assert resp.headers.get("cache-control") == "no-store", (
        f"{what}: {resp.status_code}, Cache-Control {resp.headers.get('cache-control')!r}"
    )


def test_every_response_with_personal_data_or_a_code_is_not_stored(
    client: TestClient, staff_headers: Headers
) -> None:
    security, officer, admin = (staff_headers(r) for r in ("security", "officer", "admin"))
    filed = client.post("/v1/requests", json=request_body())
    assert filed.status_code == 201, filed.text
    assert_no_store(filed, "the 201 filing (access code)")
    ref, code = filed.json()["reference"], filed.json()["access_code"]
    staff_url = f"/v1/staff/requests/{ref}"
    day = {"from": "2026-12-15", "to": "2026-12-15"}
    seen = {
        "the requester's view": client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": code}),
        "the staff detail": client.get(staff_url, headers=security),
        "the staff notices": client.get(f"{staff_url}/notices", headers=security),
        "the request's tasks": client.get(f"{staff_url}/tasks", headers=security),
        "the task queue": client.get("/v1/staff/tasks", headers=security),
        "the queue": client.get("/v1/staff/requests", headers=security),
        "chat candidates": client.get("/v1/staff/channeltalk/candidates", headers=security),
        "the access log": client.get("/v1/staff/audit/access-log", params=day, headers=officer),
        "admin tokens": client.get("/v1/staff/admin/tokens", headers=admin),
        "the task confirm page": client.get("/tasks/confirm", params={"token": "x"}),
    }
    token = csrf_token(client, "/status")
    status_page = client.post(
        "/status", data={"csrf_token": token, "reference": ref, "access_code": code}
    )
    assert "본인 확인" in status_page.text, status_page.text[:300]
    seen["the web status page"] = status_page
    for what, resp in seen.items():
        assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.text[:200]}"
        assert_no_store(resp, what)
    for what in ("the staff notices", "the request's tasks", "admin tokens", "the access log"):
        assert seen[what].status_code == 200, f"{what}: {seen[what].text[:200]}"


def _placeholder(name: str, reference: str) -> str:
    return reference if name == "reference" else "999999"


def test_every_route_under_the_personal_prefixes_is_not_stored(
    app: FastAPI, client: TestClient, staff_headers: Headers
) -> None:
    """Walks the app's route table: whatever a route answers (a 200, a 404, a 422), the
    answer is not kept by a browser or a proxy."""
    officer = staff_headers("officer")
    ref = client.post("/v1/requests", json=request_body()).json()["reference"]
    walked = 0
    for context in iter_route_contexts(app.routes):
        path = context.path
        if not isinstance(context.original_route, APIRoute):
            continue
        if not any(path == p or path.startswith(p + "/") for p in NO_STORE_PREFIXES):
            continue
        names = [n for _, n, _, _ in string.Formatter().parse(path) if n]
        url = path.format(**{n: _placeholder(n, ref) for n in names})
        for method in sorted(context.methods or ()):
            kwargs: dict[str, Any] = {"headers": officer}
            if method in {"POST", "PUT", "PATCH"}:
                kwargs["json"] = {}
            resp = client.request(method, url, **kwargs)
            assert_no_store(resp, f"{method} {path}")
            walked += 1
    assert walked > 40, f"only {walked} routes walked: is the route table empty?"


def test_the_certificate_html_cannot_be_framed_sniffed_or_run_scripts(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    case.decide_and_approve()
    cert = client.get(f"{case.url}/certificate", headers=case.handler)
    assert cert.status_code == 200 and cert.headers["content-type"].startswith("text/html")
    assert cert.headers["x-frame-options"] == "DENY"
    assert cert.headers["x-content-type-options"] == "nosniff"
    csp = cert.headers["content-security-policy"]
    for directive in ("default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in csp, csp
    assert "script-src" not in csp or "script-src 'none'" in csp
    assert_no_store(cert, "the certificate")
