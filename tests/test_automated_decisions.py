"""Automated decisions (PIPA art. 37-2, Decree arts. 44-2 to 44-4) over HTTP: filing the three
requests, the published decisions, the 30-day deadline and its two extensions, and the
outcomes with their notices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.notice import Notice
from app.policy import DEFAULT_POLICY_FILE
from app.runtime import Runtime
from app.workflows.deadlines import KST
from tests.conftest import Clock, delegation_for, request_body, subject
from tests.factories import Desk, assert_problem, csrf_token, file, notice_text

Headers = Callable[..., dict[str, str]]

EXPLAIN = "automated_decision_explanation"
REFUSE = "automated_decision_refusal"
REVIEW = "automated_decision_review"
VIEWS = "해외 출장 중 접속한 것이라 부정 이용이 아닙니다. 사람이 다시 봐 주세요."


def _kst(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 10, 0, tzinfo=KST)


def _notices(db: Session, runtime: Runtime, kind: str) -> list[str]:
    db.expire_all()
    rows = db.exec(select(Notice).where(Notice.kind == kind)).all()
    return [runtime.vault.decrypt(n.body_enc, field="notice.body") for n in rows]


def _detail(desk: Desk) -> dict[str, Any]:
    resp = desk.client.get(f"/v1/staff/requests/{desk.ref}", headers=desk.handler)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """With a parameter: the shipped policy whose first automated decision rests on that
    art. 15(1) basis and is made by an AI system."""
    basis = getattr(request, "param", None)
    if basis is None:
        return {}
    shipped = 'legal_basis = ["15-1-4"]\nai_system = false'
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    assert shipped in text
    path = tmp_path / "policy.toml"
    path.write_text(
        text.replace(shipped, f'legal_basis = ["{basis}"]\nai_system = true', 1), encoding="utf-8"
    )
    return {"policy_file": path}


# --- the deadline: 30 days, counted like the 10-day ones ------------------------------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # Seollal 2027: received Thu 01-07 (not counted, 민법 157); day 1 = 01-08; day 30 =
        # 01-08 + 29 = 02-06 (Sat, 설날 전날) -> 02-07 (Sun, 설날) -> 02-08 (Mon, 설날 다음날)
        # -> 02-09 (Tue, 설날 대체 휴일) -> due Wed 2027-02-10 (민법 161).
        ("2027-01-07T10:00:00+09:00", "2027-02-10"),
        # Chuseok 2027: received Mon 08-16; day 1 = 08-17; day 30 = 08-17 + 29 = 09-15 (Wed,
        # 추석) -> 09-16 (Thu, 추석 다음날) -> due Fri 2027-09-17.
        ("2027-08-16T10:00:00+09:00", "2027-09-17"),
        # Chuseok 2026 inside the period changes nothing (calendar days): received Thu
        # 2026-09-10; day 1 = 09-11; day 30 = 09-11 + 29 = 10-10 (Sat) -> 10-11 (Sun) -> Mon
        # 2026-10-12.
        ("2026-09-10T10:00:00+09:00", "2026-10-12"),
    ],
)
def test_an_explanation_gets_30_days_counted_the_civil_act_way(
    client: TestClient, received: str, due: str
) -> None:
    resp = client.get("/v1/deadlines", params={"type": EXPLAIN, "received_at": received})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["period_days"] == 30 and body["legal_deadline"] == due
    assert body["explain"][-1]["date"] == due


def test_a_filed_explanation_carries_the_30_day_deadline_and_says_so(
    client: TestClient, clock: Clock, db: Session, runtime: Runtime
) -> None:
    clock.now = _kst(2027, 1, 7)  # the Seollal vector above
    resp = file(client, request_body(type=EXPLAIN, automated_decision="member_restriction"))
    assert resp.status_code == 201, resp.text
    assert resp.json()["legal_deadline"] == "2027-02-10"
    receipt = notice_text(db, runtime, "receipt")
    assert "자동화된 결정 설명 요구" in receipt and "2027년 2월 10일(수)" in receipt
    assert "시행령 제44조의3에 따라 요구를 받은 날부터 30일 이내" in receipt
    assert "30일씩 2번까지 연장" in receipt


# --- extensions (Decree art. 44-3) ------------------------------------------------------------


def test_two_extensions_move_the_deadline_30_days_each_with_a_notice_and_a_third_is_refused(
    client: TestClient, staff_headers: Headers, clock: Clock, db: Session, runtime: Runtime
) -> None:
    # Received Sun 2027-07-18: day 1 = 07-19, day 30 = 07-19 + 29 = Tue 2027-08-17.
    clock.now = _kst(2027, 7, 18)
    desk = Desk(client, staff_headers, type=EXPLAIN, automated_decision="member_restriction")
    assert _detail(desk)["legal_deadline"] == "2027-08-17"
    # 1st: from Tue 08-17 (not counted), day 1 = 08-18, day 30 = 08-18 + 29 = 09-16 (Thu,
    # 추석 다음날) -> due Fri 2027-09-17.
    first = desk.staff_write("extension", {"reason": "보안 업체의 접속 분석 결과를 기다립니다."})
    assert first.status_code == 200, first.text
    assert first.json()["legal_deadline"] == "2027-09-17" and first.json()["extensions"] == 1
    # 2nd: from Fri 09-17, day 1 = 09-18, day 30 = 09-18 + 29 = 10-17 (Sun) -> Mon 2027-10-18.
    second = desk.staff_write("extension", {"reason": "분석 결과를 담당 부서가 검토 중입니다."})
    assert second.json()["legal_deadline"] == "2027-10-18" and second.json()["extensions"] == 2
    third = desk.staff_write("extension", {"reason": "한 번 더"})
    assert_problem(third, 409, "extension_limit")
    assert _detail(desk)["legal_deadline"] == "2027-10-18"
    sent = _notices(db, runtime, "deadline_extension")
    assert len(sent) == 2
    assert "보안 업체의 접속 분석 결과" in sent[0] and "연장한 기한: 2027년 9월 17일(금)" in sent[0]
    assert "종전 기한: 2027년 9월 17일(금)" in sent[1] and "이번이 두 번째 연장" in sent[1]
    # The requester sees the new deadline and both notices; the timeline keeps the dates.
    mine = desk.mine()
    assert mine["legal_deadline"] == "2027-10-18"
    assert [n["kind"] for n in mine["notices"]].count("deadline_extension") == 2
    events = [e for e in _detail(desk)["events"] if e["kind"] == "deadline_extended"]
    assert [e["data"]["new_due_on"] for e in events] == ["2027-09-17", "2027-10-18"]
    assert all("reason" not in e["data"] for e in events)


def test_the_queue_and_sla_state_follow_the_extended_deadline(
    client: TestClient, staff_headers: Headers, clock: Clock
) -> None:
    # Received Tue 2026-12-15: day 30 = 12-16 + 29 = Thu 2027-01-14.
    desk = Desk(client, staff_headers, type=EXPLAIN, automated_decision="member_restriction")
    clock.now = datetime(2027, 1, 14, 23, 30, tzinfo=KST)  # the last evening of the period
    # Extended from 01-14: day 30 = 01-15 + 29 = 02-13 (Sat) -> 02-14 (Sun) -> Mon 02-15.
    resp = desk.staff_write("extension", {"reason": "외부 보안 업체 확인이 늦어지고 있습니다."})
    assert resp.status_code == 200, resp.text
    assert resp.json()["legal_deadline"] == "2027-02-15"
    clock.now = _kst(2027, 1, 15)  # a day past the first deadline: no longer overdue
    assert _detail(desk)["sla"] != "overdue"
    queue = client.get("/v1/staff/requests", headers=desk.agent).json()
    row = next(r for r in queue["items"] if r["reference"] == desk.ref)
    assert row["legal_deadline"] == "2027-02-15" and row["sla"] != "overdue"


def test_a_deadline_that_has_passed_cannot_be_extended(
    client: TestClient, staff_headers: Headers, clock: Clock, db: Session, runtime: Runtime
) -> None:
    # Received Tue 2026-12-15: due Thu 2027-01-14. Decree art. 44-3 extends a running period.
    desk = Desk(client, staff_headers, type=EXPLAIN, automated_decision="member_restriction")
    clock.now = datetime(2027, 1, 15, 0, 5, tzinfo=KST)  # just past midnight in Seoul
    assert _detail(desk)["sla"] == "overdue"
    late = desk.staff_write("extension", {"reason": "외부 보안 업체 확인이 늦어지고 있습니다."})
    assert_problem(late, 409, "deadline_passed")
    assert "2027-01-14" in late.json()["detail"]
    after = _detail(desk)
    assert after["legal_deadline"] == "2027-01-14" and after["extensions"] == 0
    assert after["sla"] == "overdue"
    assert _notices(db, runtime, "deadline_extension") == []


def test_only_the_three_automated_decision_types_can_be_extended(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers)  # an access request
    resp = desk.staff_write("extension", {"reason": "시간이 더 필요합니다."})
    assert_problem(resp, 409, "invalid_transition")
    empty = Desk(client, staff_headers, type=REVIEW, details=VIEWS)
    assert_problem(empty.staff_write("extension", {"reason": " "}), 422, "validation_error")
    no_match = client.post(
        f"/v1/staff/requests/{empty.ref}/extension",
        json={"reason": "x"},
        headers=empty.handler,
    )
    assert_problem(no_match, 428, "precondition_required")


# --- filing ------------------------------------------------------------------------------------


def test_a_request_names_a_published_decision_or_unknown(
    client: TestClient, staff_headers: Headers
) -> None:
    named = Desk(client, staff_headers, type=REFUSE, automated_decision="member_restriction")
    assert _detail(named)["automated_decision"] == "member_restriction"
    unknown = Desk(client, staff_headers, type=EXPLAIN)
    assert _detail(unknown)["automated_decision"] == "unknown"
    wrong = file(client, request_body(type=EXPLAIN, automated_decision="credit_score"))
    assert_problem(wrong, 422, "unknown_automated_decision", "automated_decision")
    detail = wrong.json()["errors"][0]["message"]
    assert "member_restriction" in detail and "unknown" in detail  # the allowed values
    assert wrong.json()["errors"][0]["allowed"] == [
        "member_restriction",
        "unauthorized_access_block",
        "unknown",
    ]
    # The CARECRM brand site publishes none.
    site = file(
        client,
        request_body(
            type=EXPLAIN,
            service="carecrm",
            automated_decision="member_restriction",
            subject=subject(birth_date=None, under_14=False),
        ),
    )
    assert_problem(site, 422, "unknown_automated_decision")
    other = file(client, request_body(automated_decision="member_restriction"))
    assert_problem(other, 422, "validation_error", "automated_decision")


def test_a_review_carries_the_subjects_views(client: TestClient, staff_headers: Headers) -> None:
    silent = file(client, request_body(type=REVIEW, automated_decision="member_restriction"))
    assert_problem(silent, 422, "validation_error", "details")
    desk = Desk(
        client, staff_headers, type=REVIEW, automated_decision="member_restriction", details=VIEWS
    )
    assert _detail(desk)["details"] == VIEWS


def test_a_delegate_needs_the_automated_decision_box_of_the_power_of_attorney(
    client: TestClient,
) -> None:
    subj = subject()
    delegate = {"name": "이대리", "birth_date": "1985-03-03", "email": "agent@example.com"}
    requester = {"relationship": "delegate", **delegate}
    body = request_body(type=EXPLAIN, subject=subj, requester=requester)
    missing = file(client, {**body, "delegation": delegation_for(subj, delegate)})
    assert_problem(missing, 422, "delegation_scope_mismatch")
    scoped = delegation_for(subj, delegate, scope=["automated_decision"])
    assert file(client, {**body, "delegation": scoped}).status_code == 201


def test_staff_resolve_unknown_with_a_timeline_entry(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers, type=EXPLAIN)
    early = desk.staff_write("decision", _explanation())
    assert_problem(early, 422, "automated_decision_unresolved")
    bad = desk.staff_write("automated-decision", {"code": "nothing_like_it"})
    assert_problem(bad, 422, "unknown_automated_decision", "code")
    ok = desk.staff_write("automated-decision", {"code": "member_restriction"}, who=desk.agent)
    assert ok.status_code == 200, ok.text
    assert ok.json()["automated_decision"] == "member_restriction"
    event = [e for e in ok.json()["events"] if e["kind"] == "automated_decision_resolved"][-1]
    assert event["data"] == {"previous": "unknown", "automated_decision": "member_restriction"}


# --- the catalog (Decree art. 44-4) ---------------------------------------------------------


def test_the_catalog_publishes_the_automated_decisions(client: TestClient) -> None:
    catalog = client.get("/v1/catalog").json()
    codes = [t["code"] for t in catalog["request_types"]]
    assert {EXPLAIN, REFUSE, REVIEW} <= set(codes)
    periods = {t["code"]: t["period_days"] for t in catalog["request_types"]}
    assert periods[EXPLAIN] == periods[REFUSE] == periods[REVIEW] == 30
    restriction = next(
        d for d in catalog["automated_decisions"] if d["code"] == "member_restriction"
    )
    assert restriction["name"] == "불량회원 이용 제한"
    assert restriction["fully_automated"] and restriction["significant_effect"]
    assert restriction["ai_system"] is False
    assert restriction["legal_basis"] == ["15-1-4"]
    assert restriction["refusable"] is False  # art. 37-2(1) proviso: a contract
    assert "불량 혹은 비정상 이용기록 정보" in restriction["item_names"]
    assert restriction["services"] == ["uno", "smartcrm", "webersoft"]
    grounds = {g["code"]: g for g in catalog["grounds"]}
    assert {"art37-2-1-proviso", "art37-2-1", "art37-2-3"} <= grounds.keys()
    # The proviso is quoted; the main-text and art. 37-2(3) texts are summaries.
    assert grounds["art37-2-1-proviso"]["verbatim"] is True
    assert grounds["art37-2-1"]["verbatim"] is False
    assert grounds["art37-2-3"]["verbatim"] is False
    assert grounds["art37-2-1"]["applies_to"] == [REFUSE]


# --- outcomes ----------------------------------------------------------------------------------


def _explanation() -> dict[str, Any]:
    return {
        "outcome": "granted",
        "explanation": {
            "result": "2026년 12월 1일부터 30일 동안 계정 이용이 제한되었습니다.",
            "criteria": "하루 로그인 실패가 50회를 넘으면 자동으로 제한합니다.",
            "data_types": ["abnormal_usage_records", "access_records"],
        },
    }


def test_an_explanation_is_written_by_staff_and_the_notice_carries_it(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, type=EXPLAIN, automated_decision="member_restriction")
    partial = _explanation()
    del partial["explanation"]["criteria"]
    assert_problem(desk.staff_write("decision", partial), 422, "validation_error")
    unknown_item = _explanation()
    unknown_item["explanation"]["data_types"] = ["credit_rating"]
    assert_problem(desk.staff_write("decision", unknown_item), 422, "unknown_item")
    resp = desk.staff_write("decision", _explanation())
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "completed"  # a full explanation needs no approval
    assert resp.json()["decision"]["explanation"]["data_types"] == [
        "abnormal_usage_records",
        "access_records",
    ]
    text = notice_text(db, runtime, "automated_decision_result")
    assert "불량회원 이용 제한" in text and "■ 결정의 결과" in text
    assert "하루 로그인 실패가 50회" in text
    assert "- 불량 혹은 비정상 이용기록 정보" in text and "- 접속기록" in text


def test_a_refusal_granted_names_its_measure(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, type=REFUSE, automated_decision="unauthorized_access_block")
    no_measure = desk.staff_write("decision", {"outcome": "granted"})
    assert_problem(no_measure, 422, "validation_error", "measure")
    resp = desk.staff_write("decision", {"outcome": "granted", "measure": "not_applied"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["decision"]["measure"] == "not_applied"
    text = notice_text(db, runtime, "automated_decision_result")
    assert "거부 요구를 받아들였습니다" in text and "적용하지 않기로" in text


def test_a_refusal_granted_by_human_reprocessing_tells_the_subject_the_result(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, type=REFUSE, automated_decision="unauthorized_access_block")
    bare = {"outcome": "granted", "measure": "human_reprocessing"}
    blank = {**bare, "explanation": {"result": "  "}}
    for body in (bare, blank):
        resp = desk.staff_write("decision", body)
        assert_problem(resp, 422, "validation_error", "explanation.result")
    result = "담당자가 접속 기록을 다시 확인하여 로그인 차단을 해제하였습니다."
    resp = desk.staff_write("decision", {**bare, "explanation": {"result": result}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["decision"]["explanation"]["result"] == result
    text = notice_text(db, runtime, "automated_decision_result")
    assert "인적 개입에 의한 재처리" in text and f"■ 다시 처리한 결과\n{result}" in text


def test_a_decision_that_cannot_be_refused_is_refused_on_the_main_text_and_the_other_two_remain(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    ground = {
        "outcome": "refused",
        "grounds": ["art37-2-1"],
        "reason": "로그인 차단은 본인 확인으로 바로 풀리며, 권리나 의무에 중대한 영향이 없습니다.",
    }
    # The catalog publishes the restriction as fully automated with a significant effect: it
    # can be refused (the proviso is another ground), so the main text does not fit it.
    restriction = Desk(client, staff_headers, type=REFUSE, automated_decision="member_restriction")
    assert_problem(
        restriction.staff_write("decision", ground), 422, "ground_not_applicable", "grounds"
    )
    # Only a refusal is answered with it.
    explain = Desk(
        client, staff_headers, type=EXPLAIN, automated_decision="unauthorized_access_block"
    )
    assert explain.staff_write("decision", ground).status_code == 422
    # The login block is published as without a significant effect.
    desk = Desk(client, staff_headers, type=REFUSE, automated_decision="unauthorized_access_block")
    drafted = desk.staff_write("decision", ground)
    assert drafted.json()["status"] == "awaiting_approval", drafted.text
    approved = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert approved.json()["outcome"] == "refused"
    text = notice_text(db, runtime, "automated_decision_result")
    assert "개인정보 보호법 제37조의2제1항 본문\n  (요지) 완전히 자동화된 시스템" in text
    assert '"완전히 자동화된' not in text  # a summary is not quoted as the statute's words
    assert "■ 설명·검토 요구" in text and "'자동화된 결정 설명' 또는 '자동화된 결정 검토'" in text
    # The requester's page labels the summary too.
    [cited] = desk.mine()["decision"]["grounds"]
    assert cited["code"] == "art37-2-1" and cited["verbatim"] is False
    form = {
        "csrf_token": csrf_token(client, "/status"),
        "reference": desk.ref,
        "access_code": desk.code,
    }
    page = client.post("/status", data=form).text
    assert "제37조의2제1항 본문: (요지) 완전히 자동화된 시스템" in page


def test_refusing_a_refusal_on_the_proviso_needs_a_contract_consent_or_statute_basis(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    refusal = {
        "outcome": "refused",
        "grounds": ["art37-2-1-proviso"],
        "reason": "이용 제한은 서비스 이용계약(이용약관)에 따라 이루어집니다.",
    }
    # The login block rests on the contract too, but let the proviso be checked on a
    # decision of a type that has no proviso: an explanation cannot cite it at all.
    explain = Desk(client, staff_headers, type=EXPLAIN, automated_decision="member_restriction")
    assert_problem(explain.staff_write("decision", refusal), 422, "ground_not_applicable")
    desk = Desk(client, staff_headers, type=REFUSE, automated_decision="member_restriction")
    explained = {**refusal, "explanation": {"result": "제한을 유지합니다."}}
    assert_problem(desk.staff_write("decision", explained), 422, "validation_error", "explanation")
    drafted = desk.staff_write("decision", refusal)
    assert drafted.json()["status"] == "awaiting_approval"  # a refusal: the officer approves
    approved = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert approved.json()["status"] == "completed" and approved.json()["outcome"] == "refused"
    text = notice_text(db, runtime, "automated_decision_result")
    assert "제37조의2제1항 단서" in text and "이용약관" in text
    assert "이의제기 방법" in text  # art. 38(5)
    assert desk.mine()["decision"]["objection_method"]


@pytest.mark.parametrize("settings_overrides", ["15-1-6"], indirect=True)
def test_the_proviso_is_not_a_ground_where_the_decision_rests_elsewhere(
    client: TestClient, staff_headers: Headers
) -> None:
    # The same decision on art. 15(1)6 (legitimate interests) and made by an AI system.
    entry = client.get("/v1/catalog").json()["automated_decisions"][0]
    assert entry["legal_basis"] == ["15-1-6"] and entry["refusable"] is True
    assert entry["ai_system"] is True
    desk = Desk(client, staff_headers, type=REFUSE, automated_decision="member_restriction")
    proviso = {"outcome": "refused", "grounds": ["art37-2-1-proviso"], "reason": "계약에 따름"}
    assert_problem(desk.staff_write("decision", proviso), 422, "ground_not_applicable")
    justified = {
        "outcome": "refused",
        "grounds": ["art37-2-3"],
        "reason": "부정 이용 조사가 진행 중이어서 지금은 제한을 풀 수 없습니다.",
    }
    assert desk.staff_write("decision", justified).json()["status"] == "awaiting_approval"


def test_a_review_records_the_views_and_notifies_the_reconsidered_result(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    desk = Desk(
        client, staff_headers, type=REVIEW, automated_decision="member_restriction", details=VIEWS
    )
    empty = desk.staff_write("decision", {"outcome": "granted"})
    assert_problem(empty, 422, "validation_error", "explanation")
    result = "제출하신 출장 일정을 확인하여 이용 제한을 해제하였습니다."
    resp = desk.staff_write("decision", {"outcome": "granted", "explanation": {"result": result}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["details"] == VIEWS
    text = notice_text(db, runtime, "automated_decision_result")
    assert "제출하신 의견을 반영하여" in text and result in text


def test_an_upheld_objection_reopens_the_request_about_the_same_decision(
    client: TestClient, staff_headers: Headers
) -> None:
    desk = Desk(client, staff_headers, type=REFUSE, automated_decision="member_restriction")
    refusal = {
        "outcome": "refused",
        "grounds": ["art37-2-1-proviso"],
        "reason": "이용 제한은 서비스 이용계약에 따라 이루어집니다.",
    }
    desk.staff_write("decision", refusal)
    desk.staff_write("approval", {"approve": True}, who=desk.officer)
    objection = client.post(
        f"/v1/requests/{desk.ref}/objections",
        json={"reason": "계약서 어디에 자동 제한이 있는지 모르겠습니다."},
        headers={"X-Access-Code": desk.code},
    )
    assert objection.status_code == 201, objection.text
    oref = objection.json()["reference"]
    etag = client.get(f"/v1/staff/requests/{oref}", headers=desk.agent).headers["etag"]
    upheld = client.post(
        f"/v1/staff/requests/{oref}/decision",
        json={"outcome": "granted"},
        headers={**desk.handler, "If-Match": etag},
    )
    assert upheld.json()["status"] == "completed", upheld.text
    queue = client.get("/v1/staff/requests", params={"type": REFUSE}, headers=desk.agent)
    [reopened] = [i for i in queue.json()["items"] if i["reference"] != desk.ref]
    detail = client.get(f"/v1/staff/requests/{reopened['reference']}", headers=desk.agent)
    assert detail.json()["automated_decision"] == "member_restriction"
    assert detail.json()["period_days"] == 30
