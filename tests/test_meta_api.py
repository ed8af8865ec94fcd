"""Public facts over HTTP: deadline computation, the catalog, the API docs."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.factories import assert_problem


def test_deadline_endpoint_explains_each_rolled_day(client: TestClient) -> None:
    resp = client.get(
        "/v1/deadlines", params={"type": "access", "received_at": "2026-12-15T10:00:00+09:00"}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["legal_deadline"] == "2026-12-28" and body["period_days"] == 10
    assert body["calendar_confirmed"] is True
    rolled = [step["date"] for step in body["explain"] if "연장" in step["note"]]
    assert rolled == ["2026-12-25", "2026-12-26", "2026-12-27"]
    assert body["target_date"] == "2026-12-24"  # 12-25 is 성탄절: one working day earlier


def test_a_deadline_ending_on_labour_day_2026_moves_to_monday(client: TestClient) -> None:
    resp = client.get(
        "/v1/deadlines", params={"type": "access", "received_at": "2026-04-21T10:00:00+09:00"}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["legal_deadline"] == "2026-05-04"
    notes = {step["date"]: step["note"] for step in body["explain"]}
    assert "노동절" in notes["2026-05-01"]


def test_deadline_beyond_the_confirmed_calendar_is_flagged(client: TestClient) -> None:
    resp = client.get("/v1/deadlines", params={"received_at": "2027-12-28T10:00:00+09:00"})
    assert resp.json()["calendar_confirmed"] is False


def test_deadline_needs_an_offset_and_a_known_type(client: TestClient) -> None:
    naive = client.get("/v1/deadlines", params={"received_at": "2026-12-15T10:00:00"})
    assert_problem(naive, 422, "validation_error", "received_at")
    unknown = client.get(
        "/v1/deadlines", params={"type": "portability", "received_at": "2026-12-15T10:00:00Z"}
    )
    assert_problem(unknown, 422, "validation_error", "type")


def test_catalog_lists_the_policy_in_force(client: TestClient) -> None:
    body = client.get("/v1/catalog").json()
    assert [s["code"] for s in body["services"]] == ["uno", "smartcrm", "webersoft", "carecrm"]
    assert body["controller"]["public_institution"] is False
    codes = {g["code"] for g in body["grounds"]}
    assert "35-4-1" in codes and not any(c.startswith("35-4-3") for c in codes)
    assert "37-2-3" not in codes


def test_api_docs_work_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/requests" in spec["paths"] and "/v1/staff/requests" in spec["paths"]


PUBLISHED_CHANNELS = ["웹 양식", "전화", "채널톡 채팅", "서면", "전자우편", "모사전송(FAX)"]


def test_published_request_channels_include_every_way_data_was_collected(
    client: TestClient,
) -> None:
    # Decree art. 41(2): the web form, phone and Channel Talk besides letter, e-mail and fax.
    body = client.get("/v1/catalog").json()
    assert body["request_channels"] == PUBLISHED_CHANNELS
    sentence = body["request_channels_text"]
    assert "시행령 제41조" in sentence
    assert all(ch in sentence for ch in PUBLISHED_CHANNELS)

    landing = client.get("/").text
    how = landing[landing.index('id="how-h"') : landing.index('id="need-h"')]
    for ch in PUBLISHED_CHANNELS:
        assert ch in how
    assert 'href="/form"' in how and "070-4895-0876" in how and "heegon.oh@carelabs.co.kr" in how


def test_every_operation_has_a_readable_id_and_documents_its_problem_body(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    ops = [
        (f"{method.upper()} {path}", op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    ]
    ids = [op["operationId"] for _, op in ops]
    # A generator's method name: snake_case words, no path or method mangled into it.
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    by_route = dict(zip([label for label, _ in ops], ids, strict=True))
    assert by_route["GET /v1/staff/requests"] == "list_requests"
    assert by_route["POST /v1/requests"] == "file_request"
    assert by_route["POST /v1/staff/requests"] == "file_staff_request"
    assert by_route["POST /v1/staff/requests/{reference}/decision"] == "draft_decision"
    assert by_route["GET /v1/staff/members"] == "list_members"

    problem = {"$ref": "#/components/schemas/Problem"}
    for label, op in ops:
        errors = {s: r for s, r in op["responses"].items() if s.isdigit() and int(s) >= 400}
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in errors, label
        for status, response in errors.items():
            assert response["content"] == {"application/problem+json": {"schema": problem}}, (
                label,
                status,
            )
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    field_error = schemas["ProblemFieldError"]["properties"]
    assert {"field", "code", "message", "allowed", "limit", "value"} <= set(field_error)
