"""Hostile input gets a clear 422 naming the field, never a 500 (issue 16's probe)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import delegation_for, request_body, subject
from tests.factories import (
    CHILD,
    PARENT,
    assert_problem,
    csrf_token,
    file,
    form_fields,
    multipart,
    pdf_bytes,
    post_form,
)

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


# --- control and invisible characters in what people type ------------------------------------

RULES = {"control_character", "invisible_only", "phone_characters"}
DELEGATE = {"name": "이대리", "birth_date": "1980-02-02", "email": "lee.daeri@example.com"}


def _set(body: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    *parents, last = path.split(".")
    node: Any = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


def _filing(path: str) -> dict[str, Any]:
    """A valid filing that has the field `path`."""
    root = path.split(".")[0]
    if root == "requester":
        parent = {"relationship": "legal_representative", "name": "박부모"}
        return request_body(requester={**parent, "birth_date": "1985-07-07"})
    if root == "delegation":
        subj, delegate = subject(), {**DELEGATE, "relationship": "delegate"}
        return request_body(
            subject=subj, requester=delegate, delegation=delegation_for(subj, DELEGATE)
        )
    if root == "correction":
        return request_body(
            type="correction", correction={"item": "manager_name", "requested_value": "김가상"}
        )
    if root == "items":
        return request_body(items=["manager_name"])
    return request_body()


HOSTILE_FIELDS = [
    ("subject.name", "김\x00가상", "control_character"),
    ("subject.name", "\u202e상가김", "control_character"),
    ("subject.name", "김\u200b가상", "control_character"),
    ("subject.name", "\u200b\u200b\u200b", "invisible_only"),
    ("subject.name", "\u3164\u3164", "invisible_only"),  # Hangul fillers
    ("subject.name", "\x1b[31m김가상\x1b[0m", "control_character"),  # ANSI escapes
    ("subject.name", "김\n가상", "control_character"),
    ("subject.phone", "010-1234-5678\r\nX-Injected: yes", "control_character"),
    ("subject.phone", "<b>010-1234-5678</b>", "phone_characters"),
    ("subject.phone", "010.1234.5678", "phone_characters"),
    ("subject.email", "kim\u202e@example.com", "control_character"),
    ("subject.email", "kim@example.com\r\nBcc: x@example.com", "control_character"),
    ("requester.name", "박\x07부모", "control_character"),
    ("delegation.delegate_name", "\u2066이대리", "control_character"),
    ("delegation.delegate_phone", "010-2000\n-0002", "control_character"),
    ("delegation.delegate_address", "서울\x1b[2J", "control_character"),
    ("delegation.relationship_to_subject", "배우자\u202e", "control_character"),
    ("correction.item", "manager_name\x00", "control_character"),
    ("correction.requested_value", "새\x00값", "control_character"),
    ("items.0", "manager_name\x7f", "control_character"),
    ("details", "열람\x00요청", "control_character"),
    ("details", "요청\u202egnp.exe", "control_character"),
    ("details", "\x1b]0;title\x07", "control_character"),
    ("details", "\u200b \u200b\n\u3164", "invisible_only"),
    ("service", "uno\x00", "control_character"),
]


@pytest.mark.parametrize(("path", "value", "rule"), HOSTILE_FIELDS)
def test_control_and_invisible_characters_are_422_naming_the_field_and_the_rule(
    client: TestClient, staff_headers: Headers, path: str, value: str, rule: str
) -> None:
    for url, body, headers in (
        ("/v1/requests", _filing(path), {}),
        ("/v1/staff/requests", _filing(path), staff_headers()),
    ):
        if "staff" in url:
            body.update(channel="letter", received_at="2026-12-10T14:00:00+09:00")
        resp = client.post(url, json=_set(body, path, value), headers=headers)
        assert_problem(resp, 422, "validation_error", path)
        [error] = [e for e in resp.json()["errors"] if e["field"] == path]
        assert error["code"] == rule, error
        assert error["message"] and value not in resp.text


def test_ordinary_text_passes_and_multi_line_text_keeps_its_line_breaks(
    client: TestClient, staff_headers: Headers
) -> None:
    details = "첫째 줄\n둘째 줄\r\n\t들여 쓴 줄 👩\u200d💻"
    body = request_body(
        subject=subject(name="김 가상", phone="+82 (10) 1234-5678"), details=details
    )
    resp = file(client, body)
    assert resp.status_code == 201, resp.text
    detail = client.get(
        f"/v1/staff/requests/{resp.json()['reference']}", headers=staff_headers()
    ).json()
    assert detail["details"] == details
    assert detail["subject"]["name"] == "김 가상"


def _write(
    client: TestClient, ref: str, h: dict[str, str], method: str, path: str, body: Any
) -> Any:
    etag = client.get(f"/v1/staff/requests/{ref}", headers=h).headers["etag"]
    url = f"/v1/staff/requests/{ref}{path}"
    return client.request(method, url, json=body, headers={**h, "If-Match": etag})


STAFF_BODIES = [
    ("post", "/identity", {"result": "failed", "method": "id_copy", "reason": "\x00"}, "reason"),
    ("post", "/identity", {"result": "verified", "method": "id_copy", "note": "\u202e"}, "note"),
    ("post", "/info-requests", {"message": "서류를\x1b[5m 보내 주세요"}, "message"),
    ("patch", "", {"note": "메모\u2067"}, "note"),
    ("post", "/decision", {"outcome": "refused", "reason": "거절\x00"}, "reason"),
    ("post", "/decision", {"outcome": "refused", "grounds": ["35-4-1\x00"]}, "grounds.0"),
    ("post", "/decision", {"outcome": "granted", "changes": "\u200b"}, "changes"),
    (
        "post",
        "/decision",
        {"outcome": "granted", "access": {"method": "in_person", "place": "본사\n3층"}},
        "access.place",
    ),
    ("post", "/approval", {"approve": False, "note": "\x00"}, "note"),
    ("post", "/postponement", {"reason": "\u3164"}, "reason"),
    ("post", "/tasks/1/complete", {"actions": [], "note": "\x1b"}, "note"),
    ("post", "/tasks/1/fail", {"reason": "\u202e실패"}, "reason"),
    ("post", "/tasks/1/waive", {"reason": "\x00"}, "reason"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), STAFF_BODIES)
def test_staff_bodies_refuse_control_and_invisible_characters(
    client: TestClient,
    staff_headers: Headers,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    ref = file(client, request_body()).json()["reference"]
    resp = _write(client, ref, staff_headers("officer"), method, path, body)
    assert_problem(resp, 422, "validation_error", field)
    [error] = [e for e in resp.json()["errors"] if e["field"] == field]
    assert error["code"] in RULES, error


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/replies", {"message": "답변\x00"}, "message"),
        ("/objections", {"reason": "\u202e이의"}, "reason"),
        ("/verification", {"code": "12\x003456"}, "code"),
    ],
)
def test_requester_bodies_refuse_control_characters(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    created = file(client, request_body()).json()
    resp = client.post(
        f"/v1/requests/{created['reference']}{path}",
        json=body,
        headers={"X-Access-Code": created["access_code"]},
    )
    assert_problem(resp, 422, "validation_error", field)
    assert resp.json()["errors"][0]["code"] == "control_character"


def test_the_web_form_shows_the_rule_in_korean(client: TestClient) -> None:
    resp = post_form(client, form_fields(csrf_token(client), subject_name="김\u202e가상"))
    # The message, at the input (which shows again what was typed, for correcting it).
    assert "제어 문자" in resp.text
    assert re.search(r'<input id="subject_name"[^>]*aria-invalid="true"', resp.text)


def test_bidi_controls_are_cut_from_uploaded_file_names(
    client: TestClient, staff_headers: Headers
) -> None:
    name = "\u202a가족관계\u200e증명서\u202egpj.exe\u2069.pdf"
    resp = multipart(
        client,
        "/v1/requests",
        [("proof_of_representation", name, pdf_bytes())],
        body=request_body(subject=CHILD, requester=PARENT),
    )
    assert resp.status_code == 201, resp.text
    detail = client.get(f"/v1/staff/requests/{resp.json()['reference']}", headers=staff_headers())
    [attachment] = detail.json()["attachments"]
    assert attachment["filename"] == "가족관계증명서gpj.exe.pdf"
