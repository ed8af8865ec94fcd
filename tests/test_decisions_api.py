"""Decisions under the law, through the API: grounds, approval, notices, postponement,
retention holds, objections, withdrawal and concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.runtime import Runtime
from tests.conftest import Clock, carry_out, request_body
from tests.factories import (
    ACCESS_TERMS,
    Desk,
    assert_problem,
    deliver_access,
    file,
    notice_text,
)

Headers = Callable[..., dict[str, str]]


# --- access -----------------------------------------------------------------------------------


def test_access_granted_completes_with_form_9_once_the_package_is_released(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, items=["manager_name", "manager_email"])
    resp = desk.staff_write(
        "decision",
        {
            "outcome": "granted",
            "items_granted": ["manager_name", "manager_email"],
            "access": ACCESS_TERMS,
        },
    )
    assert resp.status_code == 200, resp.text
    # The holders' extracts come first (app/services/access): then the release completes it.
    assert resp.json()["status"] == "executing" and resp.json()["outcome"] == "granted"
    released = deliver_access(client, desk.ref, desk.handler)
    assert released.status_code == 200, released.text
    assert desk.mine()["status"] == "completed"
    text = notice_text(db, runtime, "access_result")
    assert "별지 제9호" in text and "담당자 이름" in text and "수수료 없음" in text
    assert "열람 자료 내려받기" in text and "내려받기 기한" in text
    mine = desk.mine()
    assert mine["outcome"] == "granted" and mine["decision"]["objection_method"] is None


def test_partial_access_needs_another_officer_and_tells_how_to_object(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, items=["manager_name", "access_records"])
    decision = {
        "outcome": "partially_granted",
        "grounds": ["35-4-2"],
        "reason": "접속기록에 다른 직원의 기록이 함께 있어 그 부분은 제외합니다.",
        "items_granted": ["manager_name"],
        "items_withheld": ["access_records"],
        "access": ACCESS_TERMS,
    }
    drafted = desk.staff_write("decision", decision, who=desk.officer)
    assert drafted.json()["status"] == "awaiting_approval"
    assert drafted.json()["decision"]["state"] == "awaiting_approval"
    own = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert_problem(own, 403, "forbidden")
    agent = desk.staff_write("approval", {"approve": True}, who=desk.agent)
    assert_problem(agent, 403, "forbidden")
    ok = desk.staff_write("approval", {"approve": True, "note": "확인"}, who=desk.officer2)
    assert ok.json()["status"] == "executing" and ok.json()["outcome"] == "partially_granted"
    assert deliver_access(client, desk.ref, desk.handler).status_code == 200
    assert desk.mine()["status"] == "completed"
    text = notice_text(db, runtime, "access_result")
    for expected in (
        "일부열람",
        "접속기록",
        "제35조제4항제2호",
        "다른 직원의 기록",
        "이의제기 방법",
    ):
        assert expected in text, expected
    summary = desk.mine()["decision"]
    assert summary["grounds"][0]["code"] == "35-4-2"
    assert "부당하게 침해할 우려" in summary["grounds"][0]["text"]
    assert "이의" in summary["objection_method"]


def test_officer_sends_a_refusal_back_for_another_draft(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers)
    desk.staff_write(
        "decision",
        {"outcome": "refused", "grounds": ["35-4-1"], "reason": "법률에 따라 열람이 제한됩니다."},
    )
    back = desk.staff_write(
        "approval", {"approve": False, "note": "근거 법률을 특정하세요"}, who=desk.officer
    )
    assert back.json()["status"] == "in_review" and back.json()["decision"] is None
    again = desk.staff_write(
        "decision",
        {"outcome": "granted", "access": ACCESS_TERMS},
    )
    assert again.json()["status"] == "executing"  # the holders' extracts, then the release


@pytest.mark.parametrize(
    ("body_type", "decision"),
    [
        ("access", {"outcome": "refused", "grounds": ["35-4-3-ga"], "reason": "조세"}),
        ("access", {"outcome": "refused", "grounds": ["36-1-proviso"], "reason": "법령"}),
        ("suspension", {"outcome": "refused", "grounds": ["36-1-proviso"], "reason": "법령"}),
        ("suspension", {"outcome": "refused", "grounds": ["37-2-3"], "reason": "공공"}),
        ("suspension", {"outcome": "refused", "grounds": ["37-2-4"], "reason": "계약"}),
        (
            "suspension",
            {
                "outcome": "refused",
                "grounds": ["37-2-4"],
                "reason": "계약",
                "subject_stated_termination": True,
            },
        ),
        ("access", {"outcome": "refused", "grounds": [], "reason": "그냥"}),
        ("access", {"outcome": "refused", "grounds": ["99-9-9"], "reason": "없는 근거"}),
        ("correction", {"outcome": "refused", "grounds": ["35-4-2"], "reason": "정정 거절"}),
    ],
)
def test_grounds_that_do_not_apply_are_refused(
    client: TestClient, staff_headers: Headers, body_type: str, decision: dict[str, Any]
) -> None:
    extra = (
        {"correction": {"item": "manager_name", "requested_value": "김가람"}}
        if body_type == "correction"
        else {}
    )
    desk = Desk(client, staff_headers, type=body_type, **extra)
    resp = desk.staff_write("decision", decision)
    assert_problem(resp, 422, "ground_not_applicable", "grounds")
    assert (
        client.get(f"/v1/staff/requests/{desk.ref}", headers=desk.agent).json()["status"]
        == "in_review"
    )


def test_contract_ground_with_a_recorded_non_termination_is_accepted(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, type="suspension")
    resp = desk.staff_write(
        "decision",
        {
            "outcome": "refused",
            "grounds": ["37-2-4"],
            "subject_stated_termination": False,
            "reason": "처리를 멈추면 계약하신 서비스를 제공할 수 없습니다.",
        },
    )
    assert resp.json()["status"] == "awaiting_approval"
    desk.staff_write("approval", {"approve": True}, who=desk.officer)
    text = notice_text(db, runtime, "action_result")
    assert "별지 제10호" in text and "제37조제2항제4호" in text and "이의제기 방법" in text


def test_fees_follow_decree_article_47(client: TestClient, staff_headers: Headers) -> None:
    desk = Desk(client, staff_headers)
    base = {"outcome": "granted"}
    caused = desk.staff_write(
        "decision",
        {**base, "access": {"method": "mail", "fee_krw": 1000, "caused_by_controller": True}},
    )
    assert_problem(caused, 422, "fee_not_allowed", "access.fee_krw")
    postage = desk.staff_write(
        "decision",
        {**base, "access": {"method": "electronic", "place": "조회 화면", "postage_krw": 3000}},
    )
    assert_problem(postage, 422, "fee_not_allowed", "access.postage_krw")


# --- deletion and retention holds -------------------------------------------------------------


def test_deletion_keeps_payment_records_until_their_five_year_date(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(
        client,
        staff_headers,
        type="deletion",
        service="smartcrm",
        items=["inquiry_contact", "contract_payment_records"],
    )
    missing = desk.staff_write(
        "decision", {"outcome": "partially_granted", "reason": "일부는 법령에 따라 보관합니다."}
    )
    assert_problem(missing, 422, "validation_error", "record_dates.ecommerce_contract")
    wrong = desk.staff_write(
        "decision",
        {
            "outcome": "granted",
            "record_dates": {"ecommerce_contract": "2025-11-20", "ecommerce_advertising": None},
        },
    )
    assert_problem(wrong, 422, "retention_conflict", "outcome")
    drafted = desk.staff_write(
        "decision",
        {
            "outcome": "partially_granted",
            "reason": "결제 기록은 법령에 따라 보관합니다.",
            "record_dates": {"ecommerce_contract": "2025-11-20", "ecommerce_advertising": None},
        },
    )
    assert drafted.json()["status"] == "awaiting_approval", drafted.text
    pending = drafted.json()["decision"]
    assert pending["items_granted"] == ["inquiry_contact"]
    assert pending["items_withheld"] == ["contract_payment_records"]
    assert pending["grounds"] == ["36-1-proviso"]
    [ev] = [e for e in drafted.json()["events"] if e["data"].get("retention")]
    assert ev["data"]["retention"]["keep_until_latest"] == "2030-11-20"
    approved = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert approved.json()["status"] == "executing"  # every holder acts first
    assert carry_out(client, desk.ref, desk.handler)["request_status"] == "completed"
    text = notice_text(db, runtime, "action_result")
    assert "2030년 11월 20일" in text and "전자상거래 등에서의 소비자 보호에 관한 법률" in text
    assert "파기" in text
    summary = desk.mine()["decision"]
    kept = [r for r in summary["retention"] if r["action"] == "keep"]
    assert kept == [
        {
            "item": "contract_payment_records",
            "item_name": kept[0]["item_name"],
            "action": "keep",
            "keep_until": "2030-11-20",
            "statute": kept[0]["statute"],
        }
    ]


def test_correction_completes_with_what_was_changed(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(
        client,
        staff_headers,
        type="correction",
        correction={"item": "manager_name", "requested_value": "김가람"},
    )
    no_changes = desk.staff_write(
        "decision", {"outcome": "granted", "items_granted": ["manager_name"]}
    )
    assert_problem(no_changes, 422, "validation_error", "changes")
    done = desk.staff_write(
        "decision",
        {
            "outcome": "granted",
            "items_granted": ["manager_name"],
            "changes": "담당자 이름을 '김가람'으로 고쳤습니다.",
        },
    )
    assert done.json()["status"] == "executing"
    assert carry_out(client, desk.ref, desk.handler)["request_status"] == "completed"
    assert "김가람" in notice_text(db, runtime, "action_result")


@pytest.mark.parametrize("rtype", ["suspension", "consent_withdrawal"])
def test_decisions_that_destroy_data_wait_for_the_officer(
    client: TestClient, staff_headers: Headers, rtype: str
) -> None:
    desk = Desk(client, staff_headers, type=rtype)
    drafted = desk.staff_write("decision", {"outcome": "granted"})
    assert drafted.json()["status"] == "awaiting_approval"
    assert (
        desk.staff_write("approval", {"approve": True}, who=desk.officer).json()["status"]
        == "executing"
    )
    assert carry_out(client, desk.ref, desk.handler)["request_status"] == "completed"


# --- postponement (art. 35(3)) ------------------------------------------------------------------


def test_postponement_keeps_both_deadlines_and_counts_from_the_end_of_the_reason(
    client: TestClient, staff_headers: Headers, clock: Clock, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers)
    assert_problem(desk.staff_write("postponement/end", {}), 409, "invalid_transition")
    resp = desk.staff_write(
        "postponement",
        {"reason": "보관 서버 이전 중이라 자료를 꺼낼 수 없습니다.", "expected_end": "2027-02-05"},
    )
    assert resp.json()["status"] == "postponed"
    assert "보관 서버 이전" in notice_text(db, runtime, "postponement")
    clock.now = datetime(2027, 2, 8, 1, 0, tzinfo=UTC)
    future = desk.staff_write("postponement/end", {"ended_on": "2027-02-09"})
    assert_problem(future, 422, "validation_error", "ended_on")
    # The reason ended on Friday 2027-02-05, before the 설날 weekend. Calendar days run through
    # the holidays; only the last day would roll: day 10 is Monday 2027-02-15.
    ended = desk.staff_write("postponement/end", {"ended_on": "2027-02-05"})
    body = ended.json()
    assert body["status"] == "in_review" and body["legal_deadline"] == "2027-02-15"
    [p] = body["postponements"]
    assert p["original_due_on"] == "2026-12-28" and p["new_due_on"] == "2027-02-15"
    ev = next(e for e in body["events"] if e["data"].get("new_due_on"))
    assert ev["data"]["original_due_on"] == "2026-12-28"


def test_a_reason_ending_before_christmas_rolls_the_new_deadline(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers)
    desk.staff_write("postponement", {"reason": "시스템 점검"})
    resp = desk.staff_write("postponement/end", {"ended_on": "2026-12-15"})
    assert resp.json()["legal_deadline"] == "2026-12-28"  # 12-25 성탄절, then the weekend


def test_postponement_only_for_access_and_before_the_deadline(
    client: TestClient, staff_headers: Headers, clock: Clock
) -> None:
    deletion = Desk(client, staff_headers, type="deletion")
    assert_problem(
        deletion.staff_write("postponement", {"reason": "x"}), 422, "postponement_not_allowed"
    )
    late = Desk(client, staff_headers)
    clock.now = datetime(2026, 12, 28, 15, 30, tzinfo=UTC)  # 00:30 KST on 12-29: too late
    assert_problem(
        late.staff_write("postponement", {"reason": "x"}), 422, "postponement_not_allowed"
    )


# --- objections and withdrawal ---------------------------------------------------------------


def test_objection_is_a_linked_request_with_its_own_deadline(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers)
    early = client.post(
        f"/v1/requests/{desk.ref}/objections",
        json={"reason": "왜죠"},
        headers={"X-Access-Code": desk.code},
    )
    assert_problem(early, 409, "invalid_transition")
    desk.staff_write(
        "decision",
        {"outcome": "refused", "grounds": ["35-4-1"], "reason": "법률에 따라 제한됩니다."},
    )
    desk.staff_write("approval", {"approve": True}, who=desk.officer)
    resp = client.post(
        f"/v1/requests/{desk.ref}/objections",
        json={"reason": "어느 법률인지 알려 주세요."},
        headers={"X-Access-Code": desk.code},
    )
    assert resp.status_code == 201, resp.text
    objection = resp.json()
    assert objection["type"] == "objection" and objection["status"] == "in_review"
    assert objection["legal_deadline"] == "2026-12-28"
    assert "이의제기" in notice_text(db, runtime, "objection_receipt")
    queue = client.get(
        "/v1/staff/requests", params={"type": "objection"}, headers=desk.agent
    ).json()["items"]
    assert [i["reference"] for i in queue] == [objection["reference"]]
    detail = client.get(f"/v1/staff/requests/{objection['reference']}", headers=desk.agent)
    assert detail.json()["parent_reference"] == desk.ref
    assert detail.json()["details"] == "어느 법률인지 알려 주세요."
    headers = {**desk.handler, "If-Match": detail.headers["etag"]}
    decided = client.post(
        f"/v1/staff/requests/{objection['reference']}/decision",
        json={
            "outcome": "refused",
            "grounds": ["35-4-1"],
            "reason": "개인정보 보호법 외 특별법에 따른 제한입니다.",
        },
        headers=headers,
    )
    assert decided.json()["status"] == "awaiting_approval", decided.text
    etag = client.get(f"/v1/staff/requests/{objection['reference']}", headers=desk.agent).headers[
        "etag"
    ]
    client.post(
        f"/v1/staff/requests/{objection['reference']}/approval",
        json={"approve": True},
        headers={**desk.officer, "If-Match": etag},
    )
    result = notice_text(db, runtime, "objection_result")
    assert desk.ref in result and "원래의 결정을 유지" in result
    mine = client.get(
        f"/v1/requests/{objection['reference']}",
        headers={"X-Access-Code": objection["access_code"]},
    ).json()
    assert mine["outcome"] == "refused"


def test_requester_withdraws_an_open_request(
    client: TestClient, db: Session, runtime: Runtime
) -> None:
    created = file(client, request_body()).json()
    h = {"X-Access-Code": created["access_code"]}
    resp = client.post(f"/v1/requests/{created['reference']}/withdrawal", headers=h)
    assert resp.status_code == 200 and resp.json()["status"] == "withdrawn"
    assert "취소" in notice_text(db, runtime, "withdrawal")
    again = client.post(f"/v1/requests/{created['reference']}/withdrawal", headers=h)
    assert_problem(again, 409, "invalid_transition")


# --- two staff members deciding at once ---------------------------------------------------------


def test_parallel_deciders_one_wins_the_rest_get_412(
    live_server: str, staff_headers: Headers, runtime: Runtime
) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        created = http.post("/v1/requests", json=request_body(items=["manager_name"])).json()
        ref = created["reference"]
        deciders = [staff_headers("security") for _ in range(6)]
        etag = http.get(f"/v1/staff/requests/{ref}", headers=deciders[0]).headers["etag"]
        verified = http.post(
            f"/v1/staff/requests/{ref}/identity",
            json={"result": "verified", "method": "id_in_person"},
            headers={**deciders[0], "If-Match": etag},
        )
        assert verified.status_code == 200
        etag = (
            verified.headers.get("etag")
            or http.get(f"/v1/staff/requests/{ref}", headers=deciders[0]).headers["etag"]
        )
    barrier = threading.Barrier(len(deciders))
    results: list[int] = []

    def decide(headers: dict[str, str]) -> None:
        with httpx.Client(base_url=live_server, timeout=30) as c:
            barrier.wait()
            r = c.post(
                f"/v1/staff/requests/{ref}/decision",
                json={
                    "outcome": "granted",
                    "access": ACCESS_TERMS,
                },
                headers={**headers, "If-Match": etag},
            )
            results.append(r.status_code)

    threads = [threading.Thread(target=decide, args=(h,)) for h in deciders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [200] + [412] * (len(deciders) - 1), results
    with httpx.Client(base_url=live_server) as http:
        detail = http.get(f"/v1/staff/requests/{ref}", headers=deciders[0]).json()
    assert [e["kind"] for e in detail["events"]].count("status_changed") == 2  # review, done


def test_an_upheld_objection_takes_the_request_up_again(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, type="suspension")
    desk.staff_write(
        "decision",
        {
            "outcome": "refused",
            "grounds": ["37-2-1"],
            "reason": "법령상 의무 때문에 처리를 멈출 수 없습니다.",
        },
    )
    desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert "이의제기 방법" in notice_text(db, runtime, "action_result")
    objection = client.post(
        f"/v1/requests/{desk.ref}/objections",
        json={"reason": "의무 없음"},
        headers={"X-Access-Code": desk.code},
    ).json()
    oref = objection["reference"]
    etag = client.get(f"/v1/staff/requests/{oref}", headers=desk.agent).headers["etag"]
    upheld = client.post(
        f"/v1/staff/requests/{oref}/decision",
        json={"outcome": "granted"},
        headers={**desk.handler, "If-Match": etag},
    )
    assert upheld.json()["status"] == "completed", upheld.text
    text = notice_text(db, runtime, "objection_result")
    reopened = next(
        i
        for i in client.get(
            "/v1/staff/requests", params={"type": "suspension"}, headers=desk.agent
        ).json()["items"]
        if i["reference"] not in (desk.ref,)
    )
    assert reopened["status"] == "in_review" and reopened["reference"] in text
    # The requester's original access code opens the reopened request.
    mine = client.get(f"/v1/requests/{reopened['reference']}", headers={"X-Access-Code": desk.code})
    assert mine.status_code == 200 and mine.json()["type"] == "suspension"
    detail = client.get(f"/v1/staff/requests/{reopened['reference']}", headers=desk.agent).json()
    assert detail["parent_reference"] == oref and detail["subject"]["name"] == "김가상"


class TestApprovalForAll:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"approval_for_all": True}

    def test_even_a_full_grant_of_access_waits_for_the_officer(
        self, client: TestClient, staff_headers: Headers
    ) -> None:
        desk = Desk(client, staff_headers)
        drafted = desk.staff_write(
            "decision",
            {"outcome": "granted", "access": ACCESS_TERMS},
        )
        assert drafted.json()["status"] == "awaiting_approval"


def test_every_request_starts_its_timeline_with_the_same_filed_entry(
    client: TestClient, staff_headers: Headers, db: Session
) -> None:
    """A filing, an objection and a request reopened after it are made by one builder: their
    first entries name the channel, the receipt time and whether the calendar was confirmed."""
    from app.models.request import Event, Request

    desk = Desk(client, staff_headers, type="suspension")
    desk.staff_write(
        "decision",
        {"outcome": "refused", "grounds": ["37-2-1"], "reason": "법령상 의무가 있습니다."},
    )
    desk.staff_write("approval", {"approve": True}, who=desk.officer)
    oref = client.post(
        f"/v1/requests/{desk.ref}/objections",
        json={"reason": "의무 없음"},
        headers={"X-Access-Code": desk.code},
    ).json()["reference"]
    etag = client.get(f"/v1/staff/requests/{oref}", headers=desk.agent).headers["etag"]
    client.post(
        f"/v1/staff/requests/{oref}/decision",
        json={"outcome": "granted"},
        headers={**desk.handler, "If-Match": etag},
    )
    filed = {
        r.reference: e.data
        for e, r in db.exec(
            select(Event, Request).join(Request, Event.request_id == Request.id)  # type: ignore[arg-type]
        ).all()
        if e.kind == "filed"
    }
    assert len(filed) == 3
    for data in filed.values():
        assert {
            "channel",
            "received_at",
            "legal_deadline",
            "deadline_unconfirmed",
            "explain",
        } <= set(data), data
    assert filed[oref]["objection_to"] == desk.ref
