"""Inputs at the edges get a clear 422, never a 500 (found by the schemathesis run)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

Headers = Callable[..., dict[str, str]]
HUGE = "31134468275704922112"  # past a 64-bit integer, let alone PostgreSQL's 32-bit ids


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", f"/v1/staff/requests/DSR-2612-AAAAAAAA/attachments/{HUGE}", None),
        ("post", f"/v1/staff/channeltalk/candidates/{HUGE}/file", {"type": "access"}),
        ("post", f"/v1/staff/admin/tokens/{HUGE}/revoke", None),
        ("get", f"/v1/staff/requests?assignee={HUGE}", None),
        ("get", f"/v1/staff/tasks?assignee={HUGE}", None),
        ("get", f"/v1/staff/audit/access-log?from=2026-12-01&to=2026-12-02&staff_id={HUGE}", None),
        ("get", "/v1/staff/reports/register.csv?from=0001-01-01&to=0001-01-02", None),
        ("get", "/v1/staff/audit/access-log?from=0001-01-01&to=0001-01-01", None),
        ("get", "/v1/deadlines?type=access&received_at=0001-01-01T00:00:00%2B09:00", None),
        ("get", "/v1/deadlines?type=access&received_at=9999-12-31T23:59:59%2B00:00", None),
    ],
)
def test_out_of_range_ids_and_dates_are_422(
    client: TestClient, staff_headers: Headers, method: str, path: str, body: object
) -> None:
    role = "admin" if "/admin/" in path else "officer"
    resp = client.request(method, path, json=body, headers=staff_headers(role))
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "validation_error"


def test_a_body_that_is_not_utf8_is_an_unreadable_json_body(client: TestClient) -> None:
    resp = client.post(
        "/v1/requests/DSR-2612-AAAAAAAA/replies",
        content=b"\xee",
        headers={"content-type": "application/json", "X-Access-Code": "x"},
    )
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_json"


def test_a_staff_filing_received_in_year_one_is_refused(
    client: TestClient, staff_headers: Headers
) -> None:
    body = {
        "type": "access",
        "service": "uno",
        "channel": "letter",
        "received_at": "0001-01-01T00:00:00+09:00",
        "subject": {"name": "김가상", "birth_date": "1990-05-01", "email": "kim@example.com"},
    }
    resp = client.post("/v1/staff/requests", json=body, headers=staff_headers())
    assert resp.status_code == 422 and "received_at" in resp.text
