"""Errors that teach (issue 23 item 1): each kind of error says what would have been right.

Every body keeps the contract's problem+json shape (api.md "Errors"); the teaching is in the
Korean message and in additive keys of `errors[]`: `allowed` (the accepted values), `limit`
(the bound crossed) and `value` (the refused vocabulary code, never free text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import request_body
from tests.factories import Case, Desk, file, staff_file

Headers = Callable[..., dict[str, str]]
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}
TYPES = [
    "access",
    "correction",
    "deletion",
    "suspension",
    "consent_withdrawal",
]


def _errors(resp: Any, status: int = 422) -> dict[str, dict[str, Any]]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert set(body) == PROBLEM_KEYS
    return {e["field"]: e for e in body["errors"]}


def test_an_invalid_choice_lists_the_allowed_values(client: TestClient) -> None:
    errors = _errors(file(client, request_body(type="erasure", delivery="pigeon")))
    kind = errors["type"]
    assert kind["code"] == "invalid_choice"
    assert set(TYPES) <= set(kind["allowed"])
    assert all(t in kind["message"] for t in TYPES)
    assert "erasure" not in kind["message"]  # the input is never echoed
    assert errors["delivery"]["allowed"] == ["electronic", "mail", "in_person"]
    assert "electronic, mail, in_person" in errors["delivery"]["message"]


def test_an_invalid_identity_method_lists_the_methods(
    client: TestClient, staff_headers: Headers
) -> None:
    security = staff_headers("security")
    ref = file(client, request_body()).json()["reference"]
    etag = client.get(f"/v1/staff/requests/{ref}", headers=security).headers["etag"]
    resp = client.post(
        f"/v1/staff/requests/{ref}/identity",
        json={"result": "verified", "method": "looked_honest"},
        headers={**security, "If-Match": etag},
    )
    method = _errors(resp)["method"]
    assert method["code"] == "invalid_choice"
    assert "account_record_match" in method["allowed"] and "id_in_person" in method["allowed"]
    assert all(m in method["message"] for m in method["allowed"])


def test_length_and_range_errors_name_their_bound(
    client: TestClient, staff_headers: Headers
) -> None:
    agent = staff_headers("agent")
    too_many = _errors(client.get("/v1/staff/requests?limit=500", headers=agent))["limit"]
    assert too_many["code"] == "too_large" and too_many["limit"] == 200
    assert "200" in too_many["message"]
    desk = Desk(client, staff_headers, type="access")
    long_reason = desk.staff_write("decision", {"outcome": "refused", "reason": "가" * 4001})
    reason = _errors(long_reason)["reason"]
    assert reason["code"] == "too_long" and reason["limit"] == 4000
    assert "4000자" in reason["message"]
    short = desk.staff_write("postponement", {"reason": ""})
    assert _errors(short)["reason"]["limit"] == 1


def test_unknown_item_names_the_item_and_the_services_items(client: TestClient) -> None:
    resp = file(client, request_body(items=["admin_phone", "shoe_size"]))
    assert resp.json()["code"] == "unknown_item"
    error = _errors(resp)["items.1"]
    assert error["value"] == "shoe_size" and "'shoe_size'" in error["message"]
    assert "admin_phone" in error["allowed"] and "shoe_size" not in error["allowed"]
    # Free text where a code belongs is not repeated back.
    odd = _errors(file(client, request_body(items=["내 주민번호 900101"])))["items.0"]
    assert "value" not in odd
    assert "900101" not in str(odd)


def test_ground_not_applicable_lists_the_grounds_that_apply(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers, type="access")
    resp = desk.staff_write(
        "decision",
        {"outcome": "refused", "reason": "사유", "grounds": ["35-4-3-ga", "37-2-1"]},
    )
    body = resp.json()
    assert body["code"] == "ground_not_applicable"
    refused = [e for e in body["errors"] if e["code"] == "ground_not_applicable"]
    assert [e["value"] for e in refused] == ["35-4-3-ga", "37-2-1"]  # both, in one answer
    for e in refused:
        # A private controller's access refusal: art. 35(4) 1 and 2, not the public 3 가-마.
        assert e["allowed"] == ["35-4-1", "35-4-2"]
        assert "35-4-1, 35-4-2" in e["message"]
    none = desk.staff_write("decision", {"outcome": "refused", "reason": "사유"})
    assert none.json()["errors"][0]["allowed"] == ["35-4-1", "35-4-2"]


def test_action_not_asked_says_what_was_asked(client: TestClient, staff_headers: Headers) -> None:
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    case.decide_and_approve()
    wrong = {"actions": [{"action": "corrected", "method": "record_updated"}]}
    resp = case.act("aws", "complete", wrong)
    error = _errors(resp)["actions.0.action"]
    assert error["code"] == "action_not_asked"
    assert error["allowed"] == ["deleted"] and error["value"] == "corrected"
    assert "요청한 조치" in error["message"] and "(deleted)" in error["message"]


def test_every_missing_record_date_comes_in_one_answer(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(
        client,
        staff_headers,
        type="deletion",
        service="smartcrm",
        items=["inquiry_contact", "contract_payment_records"],
    )
    resp = desk.staff_write("decision", {"outcome": "partially_granted", "reason": "보관"})
    errors = _errors(resp)
    assert {"record_dates.ecommerce_contract", "record_dates.ecommerce_advertising"} <= set(errors)
    assert all(e["code"] == "required" for e in errors.values())
    assert "ecommerce_contract" in resp.json()["detail"]
    assert "'contract_payment_records'" in errors["record_dates.ecommerce_contract"]["message"]


def test_a_decision_bodys_validation_and_domain_errors_come_together(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers, type="access")
    resp = desk.staff_write(
        "decision",
        {
            "outcome": "partially_granted",
            "reason": "가" * 4001,  # a validation error
            "grounds": ["36-1-proviso"],  # a deletion ground on an access request
            "items_granted": ["admin_phone"],
            "items_withheld": ["shoe_size"],  # not an item of the service
        },
    )
    body = resp.json()
    assert resp.status_code == 422 and body["code"] == "validation_error"
    codes = {(e["field"], e["code"]) for e in body["errors"]}
    assert {
        ("reason", "too_long"),
        ("grounds", "ground_not_applicable"),
        ("items_withheld.0", "unknown_item"),
    } <= codes
    # Nothing was drafted.
    assert (
        client.get(f"/v1/staff/requests/{desk.ref}", headers=desk.agent).json()["decision"] is None
    )
    # With the deletion's record dates too.
    deletion = Desk(
        client, staff_headers, type="deletion", service="smartcrm",
        items=["contract_payment_records"],
    )  # fmt: skip
    both = deletion.staff_write("decision", {"outcome": "granted", "changes": 7})
    fields = {e["field"] for e in both.json()["errors"]}
    assert {"changes", "record_dates.ecommerce_contract"} <= fields


def test_a_filings_validation_and_catalog_errors_come_together(
    client: TestClient, staff_headers: Headers
) -> None:
    body = request_body(items=["shoe_size"], delivery="pigeon")
    public = _errors(file(client, body))
    assert public["delivery"]["code"] == "invalid_choice"
    assert public["items.0"]["code"] == "unknown_item" and public["items.0"]["value"] == "shoe_size"
    staff = _errors(staff_file(client, staff_headers("agent"), items=["shoe_size"], channel="owl"))
    assert staff["channel"]["code"] == "invalid_choice" and "letter" in staff["channel"]["allowed"]
    assert staff["items.0"]["code"] == "unknown_item"
    unknown_service = _errors(file(client, request_body(service="nope", delivery="pigeon")))
    assert unknown_service["service"]["code"] == "unknown_service"
    assert "uno" in unknown_service["service"]["allowed"]


def test_staff_refusals_do_not_read_as_a_refused_request(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers, type="access")
    staff_side = desk.staff_write("decision", {"outcome": "refused", "reason": "사유"}).json()
    public_side = file(client, request_body(items=["shoe_size"])).json()
    assert public_side["title"] == "요청을 받을 수 없습니다."
    assert staff_side["title"] != public_side["title"]
    assert "요청" not in staff_side["title"] and "처리" in staff_side["title"]


def test_an_unknown_service_lists_the_services(client: TestClient) -> None:
    resp = file(client, request_body(service="nope"))
    assert resp.json()["code"] == "unknown_service"
    service = _errors(resp)["service"]
    assert service["allowed"] == ["uno", "smartcrm", "webersoft", "carecrm"]
