"""Outcomes completed (api.md): every requested item accounted for, no_data_held and unchanged
with the objection they offer, access within the deadline, and the staff detail while the
decision is carried out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.runtime import Runtime
from tests.conftest import carry_out
from tests.factories import ACCESS_TERMS, Desk, assert_problem, deliver_access, notice_text

Headers = Callable[..., dict[str, str]]

THREE = ["manager_name", "access_records", "ip_address"]
PARTIAL = {
    "outcome": "partially_granted",
    "grounds": ["35-4-2"],
    "reason": "접속기록에 다른 직원의 기록이 함께 있어 그 부분은 제외합니다.",
    "access": ACCESS_TERMS,
}


def object_to(client: TestClient, desk: Desk) -> Any:
    return client.post(
        f"/v1/requests/{desk.ref}/objections",
        json={"reason": "다시 확인해 주세요."},
        headers={"X-Access-Code": desk.code},
    )


# --- partial-grant integrity (law rule 9, Decree art. 42(1)) ------------------------------------


def test_a_partial_grant_names_every_item_it_leaves_out(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers, items=THREE)
    resp = desk.staff_write(
        "decision",
        {**PARTIAL, "items_granted": ["manager_name"], "items_withheld": ["access_records"]},
    )
    assert_problem(resp, 422, "items_unaccounted")
    errors = resp.json()["errors"]
    assert [e["code"] for e in errors] == ["items_unaccounted"]
    assert "ip_address" in errors[0]["message"] and errors[0]["field"] == "items_withheld"
    ok = desk.staff_write(
        "decision",
        {
            **PARTIAL,
            "items_granted": ["manager_name", "ip_address"],
            "items_withheld": ["access_records"],
        },
    )
    assert ok.json()["status"] == "awaiting_approval", ok.text


def test_a_partial_grant_of_all_the_service_items_accounts_for_each(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers)  # no items named: all of the service's
    resp = desk.staff_write(
        "decision",
        {**PARTIAL, "items_granted": ["manager_name"], "items_withheld": ["access_records"]},
    )
    assert_problem(resp, 422, "items_unaccounted")
    service = runtime.policy.service("uno")
    assert service is not None
    named = {e["message"].split("'")[1] for e in resp.json()["errors"]}
    assert named == {i.code for i in service.items} - {"manager_name", "access_records"}


def test_a_full_grant_grants_them_all(client: TestClient, staff_headers: Headers) -> None:
    desk = Desk(client, staff_headers, items=THREE)
    subset = desk.staff_write(
        "decision",
        {"outcome": "granted", "items_granted": ["manager_name"], "access": ACCESS_TERMS},
    )
    assert_problem(subset, 422, "items_unaccounted", "items_granted")
    assert len(subset.json()["errors"]) == 2
    done = desk.staff_write("decision", {"outcome": "granted", "access": ACCESS_TERMS})
    # Granted: the holders are asked for their extracts of all three items.
    assert done.json()["status"] == "executing", done.text
    assert done.json()["decision"]["items_granted"] == THREE


def test_the_partial_notice_never_says_all(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, items=["manager_name", "access_records"])
    desk.staff_write(
        "decision",
        {**PARTIAL, "items_granted": ["manager_name"], "items_withheld": ["access_records"]},
    )
    desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert deliver_access(client, desk.ref, desk.handler).status_code == 200
    text = notice_text(db, runtime, "access_result")
    assert "일부" in text and "모두" not in text and "전부" not in text


def test_a_partial_suspension_names_what_was_stopped(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, type="suspension", items=["manager_name", "ip_address"])
    desk.staff_write(
        "decision",
        {
            "outcome": "partially_granted",
            "grounds": ["37-2-1"],
            "reason": "법률에 특별한 규정이 있어 접속 IP는 계속 처리합니다.",
            "items_granted": ["manager_name"],
            "items_withheld": ["ip_address"],
        },
    )
    desk.staff_write("approval", {"approve": True}, who=desk.officer)
    carry_out(client, desk.ref, desk.handler)
    text = notice_text(db, runtime, "action_result")
    assert "요구하신 개인정보 중" in text and "일부만" in text
    assert "요구하신 개인정보의 처리를 정지했습니다" not in text


# --- no_data_held and unchanged ------------------------------------------------------------------


@pytest.mark.parametrize("rtype", ["access", "deletion", "suspension"])
def test_no_data_held_tells_how_to_object_and_an_objection_follows(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime, rtype: str
) -> None:
    desk = Desk(client, staff_headers, type=rtype)
    drafted = desk.staff_write(
        "decision", {"outcome": "no_data_held", "reason": "회원 기록에서 찾을 수 없었습니다."}
    )
    assert drafted.json()["status"] == "awaiting_approval", drafted.text
    done = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert done.json()["status"] == "completed", done.text  # no tasks: nothing is held
    assert done.json()["tasks_pending"] == 0
    kind = "access_result" if rtype == "access" else "action_result"
    text = notice_text(db, runtime, kind)
    assert "처리하고 있는 귀하의 개인정보가 없어" in text
    assert "회원 기록에서 찾을 수 없었습니다." in text and "이의제기 방법" in text
    mine = desk.mine()
    assert mine["outcome"] == "no_data_held" and mine["decision"]["objection_method"]
    objection = object_to(client, desk)
    assert objection.status_code == 201, objection.text


def test_no_data_held_names_no_items_and_cites_no_ground(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers, items=THREE)
    with_items = desk.staff_write(
        "decision", {"outcome": "no_data_held", "items_withheld": ["manager_name"]}
    )
    assert_problem(with_items, 422, "validation_error", "items_granted")
    with_ground = desk.staff_write("decision", {"outcome": "no_data_held", "grounds": ["35-4-1"]})
    assert_problem(with_ground, 422, "validation_error", "grounds")


CORRECTION = {"item": "manager_name", "requested_value": "김가람"}


def test_unchanged_correction_waits_for_the_officer_and_can_be_objected_to(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, type="correction", correction=CORRECTION)
    no_reason = desk.staff_write("decision", {"outcome": "unchanged"})
    assert_problem(no_reason, 422, "validation_error", "reason")
    reason = "가입 때 제출하신 재직증명서의 이름과 같아 현재 정보가 정확합니다."
    drafted = desk.staff_write("decision", {"outcome": "unchanged", "reason": reason})
    assert drafted.json()["status"] == "awaiting_approval", drafted.text
    done = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert done.json()["status"] == "completed" and done.json()["tasks_pending"] == 0
    text = notice_text(db, runtime, "action_result")
    assert "정정하지 않았습니다" in text and reason in text and "이의제기 방법" in text
    assert desk.mine()["decision"]["objection_method"]
    assert object_to(client, desk).status_code == 201


@pytest.mark.parametrize("rtype", ["access", "deletion"])
def test_unchanged_is_a_correction_outcome_only(
    client: TestClient, staff_headers: Headers, rtype: str
) -> None:
    desk = Desk(client, staff_headers, type=rtype)
    resp = desk.staff_write("decision", {"outcome": "unchanged", "reason": "정확합니다."})
    assert_problem(resp, 422, "validation_error", "outcome")


# --- access within the deadline (Decree art. 41(5)) -----------------------------------------------


def test_access_after_the_deadline_is_a_postponement_not_a_grant(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers)  # received Tue 2026-12-15, due Mon 2026-12-28
    visit = {"method": "in_person", "place": "본사 3층 상담실", "fee_krw": 0}
    late = desk.staff_write(
        "decision",
        {"outcome": "granted", "access": {**visit, "available_at": "2026-12-29T10:00:00+09:00"}},
    )
    assert_problem(late, 422, "access_after_deadline", "access.available_at")
    in_time = desk.staff_write(
        "decision",
        {"outcome": "granted", "access": {**visit, "available_at": "2026-12-28T17:00:00+09:00"}},
    )
    assert in_time.status_code == 200, in_time.text
    assert in_time.json()["decision"]["access"]["available_at"].startswith("2026-12-28T17:00")


# --- the staff detail while the decision is carried out ------------------------------------------


def test_the_detail_shows_the_decision_and_pending_tasks_while_executing(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(
        client,
        staff_headers,
        type="deletion",
        service="smartcrm",
        items=["inquiry_contact", "contract_payment_records"],
    )
    desk.staff_write(
        "decision",
        {
            "outcome": "partially_granted",
            "reason": "결제 기록은 법령에 따라 보관합니다.",
            "record_dates": {"ecommerce_contract": "2025-11-20", "ecommerce_advertising": None},
        },
    )
    executing = desk.staff_write("approval", {"approve": True}, who=desk.officer).json()
    assert executing["status"] == "executing"
    decision = executing["decision"]
    assert decision["state"] == "approved" and decision["outcome"] == "partially_granted"
    assert decision["items_granted"] == ["inquiry_contact"]
    plan = {p["item"]: p["action"] for p in decision["retention"]}
    assert plan == {"inquiry_contact": "delete", "contract_payment_records": "keep"}
    assert executing["tasks_pending"] > 0
    assert carry_out(client, desk.ref, desk.handler)["request_status"] == "completed"
    completed = client.get(f"/v1/staff/requests/{desk.ref}", headers=desk.agent).json()
    assert completed["tasks_pending"] == 0
    assert completed["decision"]["state"] == "approved"
    assert {p["item"] for p in completed["decision"]["retention"]} == set(plan)


# --- the reports count them -----------------------------------------------------------------------


def test_the_register_the_sla_summary_and_the_metrics_count_the_new_outcomes(
    client: TestClient, staff_headers: Headers
) -> None:
    held = Desk(client, staff_headers, type="deletion")
    held.staff_write("decision", {"outcome": "no_data_held"})
    held.staff_write("approval", {"approve": True}, who=held.officer)
    kept = Desk(client, staff_headers, type="correction", correction=CORRECTION)
    kept.staff_write("decision", {"outcome": "unchanged", "reason": "현재 정보가 정확합니다."})
    kept.staff_write("approval", {"approve": True}, who=kept.officer)

    register = client.get(
        "/v1/staff/reports/register.csv",
        params={"from": "2026-12-15", "to": "2026-12-16"},
        headers=held.agent,
    )
    assert register.status_code == 200, register.text
    text = register.content.decode("utf-8-sig")
    assert "no_data_held" in text and "unchanged" in text
    sla = client.get("/v1/staff/sla/summary", headers=held.agent)
    assert sla.status_code == 200, sla.text
    metrics = client.get("/metrics", headers=held.agent)
    assert metrics.status_code == 200
    assert 'outcome="no_data_held"' in metrics.text and 'outcome="unchanged"' in metrics.text
