"""Carrying decisions out: a task per holder of the data, evidence, the processor's e-mail and
its confirmation link, the certificate, reminders (PIPA arts. 21(3), 26, 36(3))."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import Session, col, select

from app.models.notice import Notice
from app.models.task import Task
from app.runtime import Runtime
from app.services.notices.outbox import Outbox
from app.services.tasks.links import remind_overdue
from tests.conftest import Clock, carry_out
from tests.factories import Case
from tests.servers import SmtpServer, free_port

Headers = Callable[..., dict[str, str]]

# Who holds 우노's 관리자 전화번호 (admin_phone) in the policy's data map.
ADMIN_PHONE_HOLDERS = {
    "uno_service_db",
    "aws",
    "channel_corp",
    "sweettracker",
    "signok",
    "tradesign",
    "oksign",
    "woori_mobile",
}
DELETED = [{"action": "deleted", "method": "irreversible_deletion"}]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(smtp: SmtpServer) -> dict[str, Any]:
    return {"smtp_url": f"smtp://127.0.0.1:{smtp.port}", "public_base_url": "http://testserver"}


def result_notices(db: Session) -> list[Notice]:
    db.expire_all()
    return list(db.exec(select(Notice).where(Notice.kind == "action_result")).all())


def test_a_deletion_makes_a_task_for_exactly_the_holders_and_completes_only_when_all_are_settled(
    client: TestClient, staff_headers: Headers, db: Session
) -> None:
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    case.decide_and_approve()
    page = case.tasks()
    assert page["request_status"] == "executing"
    assert {t["holder_code"] for t in page["items"]} == ADMIN_PHONE_HOLDERS
    assert all(t["instructions"] == [{"item": "admin_phone", "instruction": "delete"}]
               for t in page["items"])  # fmt: skip
    # Due inside the legal deadline (Mon 2026-12-28): two days before, on a working day.
    assert {t["due_on"] for t in page["items"]} == {"2026-12-24"}
    queue = client.get("/v1/staff/requests?blocked_on_tasks=true", headers=case.agent).json()
    assert [(i["reference"], i["tasks_pending"]) for i in queue["items"]] == [(case.ref, 8)]

    for holder in sorted(ADMIN_PHONE_HOLDERS - {"woori_mobile"}):
        assert case.act(holder, "complete", {"actions": DELETED}).status_code == 200
        assert case.status() == "executing"  # not while one holder has not acted
    assert result_notices(db) == []
    cert = client.get(f"{case.url}/certificate", headers=case.agent)
    assert "아직 완료되지 않은 조치가 있습니다" in cert.text

    # Only the officer waives, and says why.
    assert case.act("woori_mobile", "waive", {"reason": "수신거부 목록에 없음"}).status_code == 403
    waived = case.act("woori_mobile", "waive", {"reason": "수신거부 목록에 없음"}, case.officer)
    assert waived.status_code == 200 and waived.json()["request_status"] == "completed"
    assert len(result_notices(db)) == 1
    cert = client.get(f"{case.url}/certificate", headers=case.agent)
    assert cert.status_code == 200 and cert.headers["content-type"].startswith("text/html")
    assert "아직 완료되지 않은" not in cert.text
    for name in ("우노 서비스 DB", "(주)채널코퍼레이션(채널톡)", "(주)우리모바일"):
        assert name in cert.text
    assert "수신거부 목록에 없음" in cert.text and "복구·재생할 수 없도록 영구 삭제" in cert.text
    pdf = client.get(f"{case.url}/certificate?format=pdf", headers=case.agent)
    assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"


def test_the_processor_gets_its_instruction_by_smtp_and_its_confirmation_closes_its_task(
    client: TestClient, staff_headers: Headers, runtime: Runtime, smtp: SmtpServer, db: Session
) -> None:
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    case.decide_and_approve()
    while Outbox(runtime).run_once():
        pass
    [mail] = [m for m in smtp.handler.received if m.rcpt_tos == ["privacy@sweettracker.co.kr"]]
    body = mail.message.get_body()
    assert body is not None
    text = body.get_content()
    assert case.ref in text and "관리자 전화번호: 삭제(파기)" in text
    assert "2026년 12월 24일(목)까지" in text
    # Sweettracker finds records by phone only: it gets the phone, not the name or e-mail.
    assert "010-1234-5678" in text and "김가상" not in text and "kim.gasang" not in text
    link = re.search(r"http://testserver(/tasks/confirm\?token=\S+)", text)
    assert link is not None

    page = client.get(link.group(1))
    assert page.status_code == 200 and case.ref in page.text
    assert '<dl class="case">' in page.text and 'class="summary"' not in page.text  # not an error
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert csrf and token
    form = {"csrf_token": csrf.group(1), "token": token.group(1), "note": "발송 이력 삭제"}
    missing = client.post("/tasks/confirm", data=form)
    assert missing.status_code == 422 and "방법을 골라" in missing.text
    chosen = {**form, "method_deleted": "irreversible_deletion"}
    hostile = client.post("/tasks/confirm", data={**chosen, "note": "삭제\u202e\x1b[2J"})
    assert hostile.status_code == 422 and "제어 문자" in hostile.text
    done = client.post("/tasks/confirm", data=chosen)
    assert done.status_code == 200 and "조치 완료가 확인되었습니다" in done.text
    task = case.task("sweettracker")
    assert (task["status"], task["completed_by"]) == ("done", "holder:sweettracker")
    assert task["note"] == "발송 이력 삭제"
    # The link confirms once; a forged one shows nothing.
    assert "이미 처리된 작업" in client.get(link.group(1)).text
    forged = link.group(1)[:-3] + ("AAA" if not link.group(1).endswith("AAA") else "BBB")
    assert client.get(forged).status_code == 404


def test_evidence_must_answer_what_was_asked_in_an_accepted_way(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    case.decide_and_approve()
    wrong = case.act(
        "aws", "complete", {"actions": [{"action": "deleted", "method": "record_updated"}]}
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "method_not_accepted"
    other = case.act(
        "aws", "complete", {"actions": [{"action": "corrected", "method": "record_updated"}]}
    )
    assert other.json()["code"] == "action_not_asked"
    assert case.act("aws", "complete", {"actions": DELETED}).status_code == 200
    again = case.act("aws", "complete", {"actions": DELETED})
    assert again.status_code == 409
    # A failed task is reopened (or waived by the officer), never left as it is.
    assert case.act("oksign", "fail", {"reason": "계약서 보관 시스템 점검 중"}).status_code == 200
    assert case.task("oksign")["status"] == "failed"
    assert case.act("oksign", "reopen").json()["request_status"] == "executing"


def test_a_deletion_with_a_statutory_hold_asks_holders_to_separate_those_records(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(
        client, staff_headers, type="deletion", items=["manager_name", "contract_payment_records"]
    )
    case.decide_and_approve(
        outcome="partially_granted",
        reason="결제 기록은 법령에 따라 보존합니다.",
        record_dates={"ecommerce_contract": "2025-11-20", "ecommerce_advertising": None},
    )
    hecto = case.task("hecto_financial")
    assert hecto["instructions"] == [
        {"item": "contract_payment_records", "instruction": "separate"}
    ]
    signok = case.task("signok")
    assert {i["instruction"] for i in signok["instructions"]} == {"delete", "separate"}
    half = case.act("signok", "complete", {"actions": DELETED})
    assert half.json()["code"] == "evidence_incomplete"
    both = [*DELETED, {"action": "separated", "method": "separate_storage"}]
    assert case.act("signok", "complete", {"actions": both}).status_code == 200


def test_refusals_have_no_tasks_and_access_asks_each_holder_for_an_extract(
    client: TestClient, staff_headers: Headers
) -> None:
    refused = Case(client, staff_headers, type="suspension")
    body = {"outcome": "refused", "grounds": ["37-2-1"], "reason": "법률에 특별한 규정이 있음"}
    refused.write("decision", body)
    refused.write("approval", {"approve": True}, who=refused.officer)
    assert refused.status() == "completed" and refused.tasks()["items"] == []
    assert client.get(f"{refused.url}/certificate", headers=refused.agent).status_code == 409
    access = Case(client, staff_headers, type="access", items=["manager_name"])
    terms = {"method": "electronic", "place": "요청 조회 화면에서 내려받기", "fee_krw": 0}
    access.write(
        "decision", {"outcome": "granted", "items_granted": ["manager_name"], "access": terms}
    )
    # Art. 35(3): the person must see the data, so each holder sends an extract first.
    tasks = access.tasks()["items"]
    assert access.status() == "executing"
    assert {t["holder_code"] for t in tasks} >= {"uno_service_db", "aws", "channel_corp"}
    assert {i["instruction"] for t in tasks for i in t["instructions"]} == {"extract"}


def test_a_holder_reads_how_to_return_its_extract_line_by_line(
    client: TestClient, staff_headers: Headers, runtime: Runtime, smtp: SmtpServer
) -> None:
    access = Case(client, staff_headers, type="access", items=["admin_phone"])
    terms = {"method": "electronic", "place": "요청 조회 화면에서 내려받기", "fee_krw": 0}
    access.write("decision", {"outcome": "granted", "access": terms})
    while Outbox(runtime).run_once():
        pass
    [mail] = [m for m in smtp.handler.received if m.rcpt_tos == ["privacy@sweettracker.co.kr"]]
    body = mail.message.get_body()
    assert body is not None
    text = body.get_content()
    assert "자료 제출 요청" in mail.message["Subject"]
    assert "관리자 전화번호: 열람용 사본(추출 파일) 제출" in text
    # Each heading and sentence on its own line: what to send, then how to send it.
    assert "\n■ 제출 방법\n- 위 항목에 대해" in text
    assert re.search(r"\n■ 완료 확인\n아래 링크에서 추출 파일을 올려 주세요[^\n]*\nhttp", text)
    assert "\n기한 안에 조치하기 어려우시면" in text and "삭제(파기)" not in text
    # Signed by the legal person with the unit that acts for it.
    assert "(주)케어랩스 CRM사업부 정보보안팀" in text


def test_an_overdue_task_reminds_its_owner_once(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock, db: Session
) -> None:
    case = Case(client, staff_headers, type="suspension")
    case.decide_and_approve()
    tasks = case.tasks()["items"]
    assert {t["instructions"][0]["instruction"] for t in tasks} == {"suspend"}
    for t in tasks[1:]:
        case.act(
            t["holder_code"],
            "complete",
            {"actions": [{"action": "suspended", "method": "processing_blocked"}]},
        )
    assert remind_overdue(runtime) == 0  # not due yet
    [row] = client.get("/v1/staff/requests", headers=case.agent).json()["items"]
    assert (row["tasks_pending"], row["tasks_overdue"]) == (1, 0)
    clock.advance(days=11)  # past 2026-12-24
    # The queue says a holder is late, without opening the request.
    [row] = client.get("/v1/staff/requests", headers=case.agent).json()["items"]
    assert (row["tasks_pending"], row["tasks_overdue"]) == (1, 1)
    assert remind_overdue(runtime) == 1
    assert remind_overdue(runtime) == 0
    db.expire_all()
    [reminder] = db.exec(select(Notice).where(Notice.kind == "task_overdue")).all()
    assert reminder.audience == "staff"
    open_task = db.exec(select(Task).where(col(Task.status) == "open")).one()
    assert open_task.holder_code == tasks[0]["holder_code"]
    overdue = client.get("/v1/staff/tasks?overdue=true", headers=case.agent).json()["items"]
    assert [t["holder_code"] for t in overdue] == [tasks[0]["holder_code"]]


def test_evidence_files_assignment_and_due_dates_show_on_the_task_and_the_certificate(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    case.decide_and_approve()
    aws = case.task("aws")
    url = f"{case.url}/tasks/{aws['id']}"
    report = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    files = {"attachments": ("aws-snapshot-purge.pdf", report, "application/pdf")}
    handler = {**case.handler, "If-Match": case.etag()}
    uploaded = client.post(f"{url}/evidence", files=files, headers=handler)
    assert uploaded.status_code == 200, uploaded.text
    [evidence] = case.task("aws")["evidence"]
    assert evidence["content_type"] == "application/pdf" and evidence["size"] == len(report)
    exe = {"attachments": ("x.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")}
    assert client.post(f"{url}/evidence", files=exe, headers=handler).status_code == 415

    me = client.get("/v1/staff/me", headers=case.agent).json()["staff_id"]
    agent = {**case.agent, "If-Match": case.etag()}
    assigned = client.patch(url, json={"assignee_id": me, "due_on": "2026-12-23"}, headers=agent)
    assert assigned.status_code == 200, assigned.text
    assert (case.task("aws")["assignee_id"], case.task("aws")["due_on"]) == (me, "2026-12-23")
    late = client.patch(url, json={"due_on": "2026-12-29"}, headers=agent)  # past 12-28
    assert late.status_code == 422 and late.json()["code"] == "due_on_out_of_range"
    mine = client.get("/v1/staff/tasks?assignee=me", headers=case.agent).json()["items"]
    assert [t["holder_code"] for t in mine] == ["aws"]

    carry_out(client, case.ref, case.handler)
    pdf = client.get(f"{case.url}/certificate", headers={**case.agent, "Accept": "application/pdf"})
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    flat = re.sub(r"\s+", "", text)  # table cells wrap lines anywhere
    assert case.ref in flat and "aws-snapshot-purge.pdf" in flat
    assert "AmazonWebServices" in flat and "우노서비스DB" in flat
    assert "김가상" not in flat  # the subject is named by the reference only


def test_a_withdrawn_request_leaves_no_tasks_owed(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock
) -> None:
    case = Case(client, staff_headers, type="suspension")
    case.decide_and_approve()
    assert client.get("/v1/staff/tasks", headers=case.agent).json()["items"]
    withdrawn = client.post(
        f"/v1/requests/{case.ref}/withdrawal", headers={"X-Access-Code": case.code}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert client.get("/v1/staff/tasks", headers=case.agent).json() == {
        "items": [],
        "next_cursor": None,
    }
    clock.advance(days=20)
    assert remind_overdue(runtime) == 0


def test_every_task_write_needs_the_requests_version_as_if_match(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    case.decide_and_approve()
    task = case.task("aws")
    url = f"{case.url}/tasks/{task['id']}"
    stale = '"1"'  # the version at filing: identity, decision and approval moved it on
    report = {"attachments": ("r.pdf", b"%PDF-1.4\n")}
    writes = [
        ("post", f"{url}/complete", {"json": {"actions": DELETED}}, case.handler),
        ("post", f"{url}/fail", {"json": {"reason": "응답 없음"}}, case.handler),
        ("post", f"{url}/reopen", {}, case.handler),
        ("post", f"{url}/waive", {"json": {"reason": "대상 아님"}}, case.officer),
        ("patch", url, {"json": {"due_on": "2026-12-23"}}, case.agent),
        ("post", f"{url}/evidence", {"files": report}, case.handler),
    ]
    for method, path, body, who in writes:
        missing = client.request(method, path, headers=who, **body)
        assert missing.status_code == 428, (path, missing.text)
        assert missing.json()["code"] == "precondition_required"
        old = client.request(method, path, headers={**who, "If-Match": stale}, **body)
        assert old.status_code == 412 and old.json()["code"] == "version_mismatch", path
    assert case.task("aws") == task  # nothing changed
    listed = client.get(f"{case.url}/tasks", headers=case.agent)
    assert listed.headers["etag"] == case.etag()
    done = client.post(
        f"{url}/complete",
        json={"actions": DELETED},
        headers={**case.handler, "If-Match": listed.headers["etag"]},
    )
    assert done.status_code == 200 and done.headers["etag"] == case.etag()
