"""Consent withdrawal by legal basis (PIPA arts. 15(1), 37(1), (3), (4)): a withdrawal reaches
only what was processed on consent; items on the contract or a statute are kept and the notice
says why; a refusal cites art. 37(3) proviso with its art. 37(2) ground."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.runtime import Runtime
from tests.conftest import carry_out
from tests.factories import Desk, notice_text

Headers = Callable[..., dict[str, str]]

# 우노's 선택항목: the only items it processes on consent.
CONSENT_ITEMS = {"birth_date", "staff_mobile_phone"}
STATUTORY_RECORDS = {"contract_payment_records", "complaint_records"}


def tasks_of(client: TestClient, desk: Desk) -> list[dict[str, Any]]:
    resp = client.get(f"/v1/staff/requests/{desk.ref}/tasks", headers=desk.agent)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def test_a_withdrawal_naming_no_items_destroys_only_consent_based_items(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, type="consent_withdrawal")
    drafted = desk.staff_write("decision", {"outcome": "granted"})
    assert drafted.status_code < 300, drafted.text
    approved = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert approved.json()["status"] == "executing", approved.text

    asked = {
        (i["item"], i["instruction"]) for t in tasks_of(client, desk) for i in t["instructions"]
    }
    assert {item for item, _ in asked} == CONSENT_ITEMS
    assert {instruction for _, instruction in asked} == {"delete"}
    assert not {item for item, _ in asked} & STATUTORY_RECORDS

    assert carry_out(client, desk.ref, desk.handler)["request_status"] == "completed"
    text = notice_text(db, runtime, "action_result")
    assert "생년월일, 직원 휴대전화 번호를 복구·재생할 수 없도록 파기했습니다." in text
    assert "이번 동의 철회로 파기하지 않습니다" in text
    # What it left, each group with its basis and the provision.
    assert (
        "- 서비스 이용계약의 이행에 필요해 처리하는 정보(개인정보 보호법 제15조제1항제4호):"
        " 담당자 이름, 관리자 전화번호"
    ) in text
    assert "- 법령에 따라 만들고 보존해야 하는 정보(개인정보 보호법 제15조제1항제2호," in text
    assert (
        "계약·청약철회·대금결제·재화 등의 공급 기록, 소비자 불만 또는 분쟁처리에 관한 기록" in text
    )


def test_a_withdrawal_naming_a_statutory_record_keeps_it_and_cites_37_3_proviso(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(
        client,
        staff_headers,
        type="consent_withdrawal",
        items=["staff_mobile_phone", "contract_payment_records"],
    )
    refused_all = desk.staff_write("decision", {"outcome": "granted"})
    assert refused_all.status_code == 422
    assert refused_all.json()["errors"][0]["code"] == "retention_conflict"
    drafted = desk.staff_write(
        "decision",
        {"outcome": "partially_granted", "reason": "결제 기록은 법령상 보존 의무가 있습니다."},
    )
    assert drafted.status_code < 300, drafted.text
    detail = client.get(f"/v1/staff/requests/{desk.ref}", headers=desk.agent).json()
    decision = detail["decision"]
    assert decision["grounds"] == ["37-2-1"]
    assert decision["items_withheld"] == ["contract_payment_records"]
    desk.staff_write("approval", {"approve": True}, who=desk.officer)

    asked = {i["item"] for t in tasks_of(client, desk) for i in t["instructions"]}
    assert asked == {"staff_mobile_phone"}
    assert carry_out(client, desk.ref, desk.handler)["request_status"] == "completed"
    text = notice_text(db, runtime, "action_result")
    assert "개인정보 보호법 제37조제3항 단서" in text and "개인정보 보호법 제37조제2항제1호" in text
    assert (
        "계약·청약철회·대금결제·재화 등의 공급 기록: 법령에 따라 만들고 보존해야 하는 정보로,"
        " 동의 철회의 대상이 아닙니다"
    ) in text


def test_a_withdrawal_of_contract_data_rests_on_37_2_4_while_the_contract_runs(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers, type="consent_withdrawal", items=["manager_name"])
    body = {"outcome": "refused", "reason": "서비스 이용계약에 필요한 정보입니다."}
    unstated = desk.staff_write("decision", body)
    assert unstated.status_code == 422, unstated.text  # 37(2)4 needs the contract still running
    drafted = desk.staff_write("decision", {**body, "subject_stated_termination": False})
    assert drafted.status_code < 300, drafted.text
    detail = client.get(f"/v1/staff/requests/{desk.ref}", headers=desk.agent).json()
    assert detail["decision"]["grounds"] == ["37-2-4"]


def test_the_catalog_shows_each_items_basis_and_each_statutory_rules_article(
    client: TestClient,
) -> None:
    catalog = client.get("/v1/catalog").json()
    uno = next(s for s in catalog["services"] if s["code"] == "uno")
    basis = {i["code"]: (i["basis"], i["basis_article"]) for i in uno["items"]}
    assert basis["birth_date"] == ("consent", "개인정보 보호법 제15조제1항제1호")
    assert basis["manager_name"] == ("contract", "개인정보 보호법 제15조제1항제4호")
    assert basis["contract_payment_records"][0] == "statute"
    rules = {r["code"]: r for r in catalog["retention_rules"]}
    assert rules["ecommerce_contract"]["article"].startswith("제6조제1항")
    assert rules["until_withdrawal"]["article"] is None


def test_a_withdrawal_can_be_refused_on_another_37_2_ground_and_its_notice_cites_37_3_proviso(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, type="consent_withdrawal")
    body = {
        "outcome": "refused",
        "grounds": ["37-2-2"],
        "reason": "다른 직원의 급여 정산에 이 번호가 필요합니다.",
    }
    drafted = desk.staff_write("decision", body)
    assert drafted.status_code < 300, drafted.text
    done = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert done.json()["status"] == "completed", done.text
    assert tasks_of(client, desk) == []  # nothing is destroyed or separated anywhere
    text = notice_text(db, runtime, "action_result")
    assert "개인정보 보호법 제37조제3항 단서" in text and "개인정보 보호법 제37조제2항제2호" in text
    assert "■ 이의제기 방법" in text
