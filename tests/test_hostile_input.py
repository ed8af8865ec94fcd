"""Hostile input gets a clear 422 naming the field, never a 500 (issue 16's probe)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import request_body
from tests.test_intake_api import assert_problem, file

Headers = Callable[..., dict[str, str]]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(text: str) -> str:
    return _b64(text.encode())


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        # A naive receipt time (the column is tz-aware).
        ("-received_at", _cursor('["-received_at", "2026-12-01T00:00:00", 1]')),
        ("-received_at", _cursor('["-received_at", "2026-12-01T00:00:00+00:00", 1e30]')),
        ("legal_deadline", _cursor('["legal_deadline", "2026-12-28", 1e30]')),
        ("legal_deadline", _cursor('["legal_deadline", "2026-12-28", Infinity]')),
        ("legal_deadline", _cursor('["legal_deadline", "2026-12-28", NaN]')),
        ("legal_deadline", _cursor('["legal_deadline", "2026-12-28", 99999999999999999999]')),
        ("legal_deadline", _cursor('["legal_deadline", "2026-12-28", -1]')),
        ("legal_deadline", _cursor('["legal_deadline", "2026-12-28", 1.5]')),
        ("legal_deadline", _cursor('["legal_deadline", "2026-12-28", "7"]')),
        ("legal_deadline", _cursor('["legal_deadline", "2026-12-28", true]')),
        ("legal_deadline", _cursor('["legal_deadline", "0001-01-01", 1]')),
        ("legal_deadline", _cursor('["legal_deadline", 20261228, 1]')),
        ("-received_at", _cursor('["-received_at", "0001-01-01T00:00:00+14:00", 1]')),
        # The cursor of one sort order sent with another.
        ("legal_deadline", _cursor('["-received_at", "2026-12-01T00:00:00+00:00", 1]')),
        ("-received_at", _cursor('["legal_deadline", "2026-12-28", 1]')),
        # Wrong arity and wrong shapes.
        ("legal_deadline", _cursor('["legal_deadline", "2026-12-28"]')),
        ("legal_deadline", _cursor('["legal_deadline", "2026-12-28", 1, 2]')),
        ("legal_deadline", _cursor('{"sort": "legal_deadline"}')),
        ("legal_deadline", _cursor("[]")),
        ("legal_deadline", _cursor("null")),
        ("legal_deadline", _cursor("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[")),
        # Not base64, not JSON, not UTF-8.
        ("legal_deadline", "!!!***"),
        ("legal_deadline", "한글커서"),
        ("legal_deadline", _b64(b"\xff\xfe\x00garbage")),
        ("legal_deadline", _cursor("not json")),
    ],
)
def test_a_tampered_queue_cursor_is_422_naming_cursor(
    client: TestClient, staff_headers: Headers, sort: str, cursor: str
) -> None:
    assert file(client, request_body()).status_code == 201
    resp = client.get(
        "/v1/staff/requests", params={"sort": sort, "cursor": cursor}, headers=staff_headers()
    )
    assert_problem(resp, 422, "validation_error", "cursor")
    assert resp.json()["errors"][0]["message"].startswith("페이지 커서")


def test_a_genuine_cursor_still_pages(client: TestClient, staff_headers: Headers) -> None:
    h = staff_headers()
    for _ in range(3):
        assert file(client, request_body()).status_code == 201
    for sort in ("legal_deadline", "-received_at"):
        first = client.get("/v1/staff/requests", params={"sort": sort, "limit": 2}, headers=h)
        cursor = first.json()["next_cursor"]
        assert json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))[0] == sort
        rest = client.get(
            "/v1/staff/requests", params={"sort": sort, "limit": 2, "cursor": cursor}, headers=h
        )
        assert rest.status_code == 200 and len(rest.json()["items"]) == 1
