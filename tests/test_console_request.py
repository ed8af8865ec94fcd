"""One request's page in the staff console (/staff/requests/{ref}): the purpose asked once per
view, the parties, identity, documents, decision forms, approval, tasks and certificate; every
action a CSRF form post naming the version it was based on, behind the API's role checks."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.models.staff import AccessLog
from app.runtime import Runtime
from app.services.notices.outbox import Outbox
from tests.conftest import request_body, subject
from tests.console_story import (
    PURPOSE,
    browser,
    form_state,
    open_request,
    post,
    post_and_follow,
)
from tests.factories import ELF, file, match_account_record, multipart, pdf_bytes, png_bytes


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"console_cookie_secure": False}


def deletion(client: TestClient, staff_headers: Any, **body: Any) -> str:
    """A request (a deletion unless `type` says otherwise) matched to the account records."""
    body.setdefault("subject", subject(phone="010-1234-5678"))
    body.setdefault("type", "deletion")
    ref: str = file(client, request_body(**body)).json()["reference"]
    match_account_record(client, ref, staff_headers("security"))
    return ref


def test_the_page_asks_the_purpose_before_showing_personal_data(
    client: TestClient, runtime: Runtime, staff_headers: Any, db: Session
) -> None:
    ref = deletion(client, staff_headers)
    tab = browser(client, runtime, "보안 가상", "security")
    first = tab.get(f"/staff/requests/{ref}")
    assert first.status_code == 200
    assert "열람 목적" in first.text and "kim.gasang@example.com" not in first.text
    empty = tab.get(f"/staff/requests/{ref}", params={"purpose": ""})
    assert empty.status_code == 422 and "열람 목적을 고르거나 적어 주세요" in empty.text
    page = open_request(tab, ref, "민원 회신 확인")
    assert "김가상" in page.text and "kim.gasang@example.com" in page.text
    logs = db.exec(select(AccessLog).order_by(col(AccessLog.id))).all()
    assert [(a.action, a.purpose) for a in logs if a.action == "view_detail"][-1] == (
        "view_detail",
        "민원 회신 확인",
    )


def test_a_deletion_is_drafted_approved_carried_out_and_certified_in_the_console(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = deletion(client, staff_headers, items=["manager_name", "contract_payment_records"])
    security = browser(client, runtime, "보안 가상", "security")
    officer = browser(client, runtime, "책임자 가상", "officer")
    page = open_request(security, ref)
    assert "결정 작성" in page.text
    # The record dates of the statutory rules holding the payment records are asked for:
    # without them the form comes back with the error beside each date, the outcome kept.
    missing = post(security, ref, "decision", page.text, {"outcome": "partially_granted"})
    assert missing.status_code == 422
    assert 'id="decision-record_dates-ecommerce_contract-error"' in missing.text
    assert 'value="partially_granted" checked' in missing.text
    dates = {
        "outcome": "partially_granted",
        "reason": "결제 기록은 전자상거래법에 따라 보관합니다.",
        "record_date.ecommerce_contract": "2025-11-20",
        "record_date.ecommerce_advertising": "",
        "record_none.ecommerce_advertising": "1",
    }
    drafted = post_and_follow(security, ref, "decision", missing.text, dates)
    assert "결재 대기" in drafted.text
    # The retention plan made from those dates: the payment records kept, with their date.
    assert "보존·파기 계획" in drafted.text and "2030년" in drafted.text
    assert 'action="/staff/requests/' + ref + '/approval"' not in drafted.text  # not theirs
    page = open_request(officer, ref)
    approved = post_and_follow(officer, ref, "approval", page.text, {"approve": "yes"})
    assert "승인됨" in approved.text or "시행 중" in approved.text
    page = open_request(security, ref)
    while 'action="/staff/requests/' + ref + '/tasks/complete"' in page.text:
        task_id = re.search(r'name="task_id" value="(\d+)"', page.text)
        assert task_id
        form = page.text[page.text.index(task_id.group(0)) :]
        form = form[: form.index("</form>")]
        methods = re.findall(r'name="(method\.[a-z_]+)"><option value="([a-z_]+)"', form)
        page = post_and_follow(
            security, ref, "tasks/complete", page.text,
            [("task_id", task_id.group(1)), *methods],
        )  # fmt: skip
    assert "완료" in page.text
    cert = security.get(f"/staff/requests/{ref}/certificate", params={"purpose": PURPOSE})
    assert cert.status_code == 200, cert.text


def _ready_for_approval(client: TestClient, runtime: Runtime, staff_headers: Any) -> str:
    ref = deletion(client, staff_headers, items=["manager_name"])
    security = browser(client, runtime, "보안 가상", "security")
    page = open_request(security, ref)
    post_and_follow(security, ref, "decision", page.text, {"outcome": "granted"})
    return ref


def test_an_agent_cannot_decide_and_sees_no_decision_form(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = deletion(client, staff_headers, items=["manager_name"])
    agent = browser(client, runtime, "상담 가상", "agent")
    page = open_request(agent, ref)
    assert "결정 작성" not in page.text and "담당자 지정" in page.text
    refused = post(agent, ref, "decision", page.text, {"outcome": "granted"})
    assert refused.status_code == 403 and "권한이 없습니다" in refused.text
    # An agent's own writes (triage) go through: an internal note.
    noted = post_and_follow(agent, ref, "notes", page.text, {"note": "전화로 진행 상황 문의함"})
    assert "전화로 진행 상황 문의함" in noted.text
    security = browser(client, runtime, "보안 가상", "security")
    assert "검토 중" in open_request(security, ref).text  # nothing was decided


def test_the_officer_cannot_approve_their_own_draft_and_sends_back_with_a_note(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = deletion(client, staff_headers, items=["manager_name"])
    officer = browser(client, runtime, "책임자 가상", "officer")
    page = open_request(officer, ref)
    drafted = post_and_follow(officer, ref, "decision", page.text, {"outcome": "granted"})
    own = post(officer, ref, "approval", drafted.text, {"approve": "yes"})
    assert own.status_code == 422, own.text
    assert 'id="approval-error"' in own.text and "결재 대기" in own.text
    second = browser(client, runtime, "책임자 둘 가상", "officer")
    page = open_request(second, ref)
    no_note = post(second, ref, "approval", page.text, {"approve": "no"})
    assert no_note.status_code == 422 and 'id="approval-note-error"' in no_note.text
    back = post_and_follow(
        second, ref, "approval", page.text, {"approve": "no", "note": "근거를 다시 확인해 주세요."}
    )
    assert "검토 중" in back.text and "결정 작성" in back.text
    # The drafter reads why, on the page they draft the next one.
    again = open_request(officer, ref)
    assert "결정이 반려되었습니다" in again.text and "근거를 다시 확인해 주세요." in again.text


def test_a_stale_form_changes_nothing_and_lists_what_changed(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = _ready_for_approval(client, runtime, staff_headers)
    officer = browser(client, runtime, "책임자 가상", "officer")
    old = open_request(officer, ref)
    other = browser(client, runtime, "책임자 둘 가상", "officer")
    post_and_follow(
        other, ref, "approval", open_request(other, ref).text,
        {"approve": "no", "note": "다시 작성해 주세요."},
    )  # fmt: skip
    stale = post(officer, ref, "approval", old.text, {"approve": "yes"})
    assert stale.status_code == 409
    assert "다른 사람이 이 요청을 바꿨습니다" in stale.text
    assert "검토 중(결재 대기) → 검토 중" in stale.text and "책임자 둘 가상" in stale.text
    assert "검토 중" in open_request(officer, ref).text  # the stale approval did nothing


def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = deletion(client, staff_headers, items=["manager_name"])
    security = browser(client, runtime, "보안 가상", "security")
    page = open_request(security, ref)
    forged = page.text.replace('name="csrf_token" value="', 'name="csrf_token" value="x')
    refused = post(security, ref, "notes", forged, {"note": "위조된 메모"})
    assert refused.status_code == 403
    assert "위조된 메모" not in open_request(security, ref).text


def test_documents_open_inline_uncached_and_are_logged_with_the_purpose(
    client: TestClient, runtime: Runtime, staff_headers: Any, db: Session
) -> None:
    created = file(client, request_body(type="deletion")).json()
    ref = created["reference"]
    up = multipart(
        client, f"/v1/requests/{ref}/attachments",
        [("identity_document", "신분증.png", png_bytes())],
        headers={"X-Access-Code": created["access_code"]},
    )  # fmt: skip
    assert up.status_code == 201, up.text
    security = browser(client, runtime, "보안 가상", "security")
    page = open_request(security, ref, "신분증 대조")
    link = re.search(r'href="(/staff/requests/[^"]+/documents/\d+\?purpose=[^"]+)"', page.text)
    assert link, "the page offers no inline view of the document"
    shown = security.get(unescape(link.group(1)))
    assert shown.status_code == 200
    assert shown.content == png_bytes()
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"] == "inline"
    assert shown.headers["cache-control"] == "no-store"
    assert shown.headers["x-content-type-options"] == "nosniff"
    assert shown.headers["content-security-policy"].startswith("default-src 'none'")
    db.expire_all()
    logged = db.exec(select(AccessLog).where(AccessLog.action == "download_attachment")).all()
    assert [(a.purpose, a.attachment_id is not None) for a in logged] == [("신분증 대조", True)]
    # Without a purpose the document is not shown: back to the purpose question.
    bare = security.get(link.group(1).split("?")[0], follow_redirects=False)
    assert (bare.status_code, bare.headers["location"]) == (303, f"/staff/requests/{ref}")


def test_identity_check_and_info_request_from_the_page(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = file(client, request_body(type="deletion")).json()["reference"]
    security = browser(client, runtime, "보안 가상", "security")
    page = open_request(security, ref)
    matched = post_and_follow(
        security, ref, "identity", page.text,
        {"result": "verified", "method": "account_record_match"},
    )  # fmt: skip
    assert "서비스 회원 기록과 대조: 확인됨" in matched.text
    blank = post(security, ref, "info-requests", matched.text, {"message": ""})
    assert blank.status_code == 422 and 'id="info-message-error"' in blank.text
    asked = post_and_follow(
        security, ref, "info-requests", matched.text, {"message": "가입하신 이메일을 알려 주세요."}
    )
    assert "가입하신 이메일을 알려 주세요." in asked.text and "보완 요청" in asked.text


def _upload(tab: TestClient, ref: str, action: str, html: str, fields: dict[str, str],
            files: list[tuple[str, tuple[str, bytes, str]]]) -> Any:  # fmt: skip
    data = {**form_state(html), **fields}
    return tab.post(
        f"/staff/requests/{ref}/{action}", data=data, files=files, follow_redirects=False
    )


def test_task_evidence_is_uploaded_and_viewable_from_the_page(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = _ready_for_approval(client, runtime, staff_headers)
    officer = browser(client, runtime, "책임자 가상", "officer")
    approved = post_and_follow(
        officer, ref, "approval", open_request(officer, ref).text, {"approve": "yes"}
    )
    task_id = re.search(r'name="task_id" value="(\d+)"', approved.text)
    assert task_id
    wrong = _upload(
        officer, ref, "tasks/evidence", approved.text, {"task_id": task_id.group(1)},
        [("attachments", ("report.exe", ELF, "application/octet-stream"))],
    )  # fmt: skip
    assert wrong.status_code == 415 and 'id="evidence-files-error"' in wrong.text
    done = _upload(
        officer, ref, "tasks/evidence", approved.text, {"task_id": task_id.group(1)},
        [("attachments", ("파기확인서.pdf", pdf_bytes(), "application/pdf"))],
    )  # fmt: skip
    assert done.status_code == 303, done.text
    page = officer.get(done.headers["location"])
    link = re.search(r'href="(/staff/requests/[^"]+/documents/\d+\?[^"]+)">파일 1<', page.text)
    assert link, "the task shows no evidence link"
    shown = officer.get(unescape(link.group(1)))
    assert shown.status_code == 200 and shown.content == pdf_bytes()
    assert shown.headers["content-disposition"] == "inline"


def test_an_access_package_is_uploaded_and_released_from_the_page(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = file(client, request_body(items=["manager_name"])).json()["reference"]
    match_account_record(client, ref, staff_headers("security"))
    security = browser(client, runtime, "보안 가상", "security")
    page = open_request(security, ref)
    granted = post_and_follow(
        security, ref, "decision", page.text,
        {"outcome": "granted", "access_method": "electronic",
         "access_place": "요청 조회 화면에서 내려받기"},
    )  # fmt: skip
    officer = browser(client, runtime, "책임자 가상", "officer")
    if "결재 대기" in granted.text:
        post_and_follow(
            officer, ref, "approval", open_request(officer, ref).text, {"approve": "yes"}
        )
    page = open_request(security, ref)
    early = post(security, ref, "access-package/release", page.text)
    assert early.status_code in (409, 422) and 'id="release-error"' in early.text
    select = page.text[page.text.index('id="extracts-holder"') :]
    holders = re.findall(r'<option value="([^"]+)"', select[: select.index("</select>")])
    assert holders, "no holder to upload an extract for"
    for holder in holders:
        up = _upload(
            security, ref, "access-package/files", page.text, {"holders": holder},
            [("files", (f"{holder}.pdf", pdf_bytes(), "application/pdf"))],
        )  # fmt: skip
        assert up.status_code == 303, up.text
        page = security.get(up.headers["location"])
    assert f"{holders[0]}.pdf" in page.text
    released = post_and_follow(security, ref, "access-package/release", page.text)
    assert "제공함" in released.text


def test_in_person_access_is_recorded_as_given_from_the_page(
    client: TestClient, runtime: Runtime, staff_headers: Any, clock: Any
) -> None:
    ref = file(client, request_body(items=["manager_name"], delivery="in_person")).json()[
        "reference"
    ]
    match_account_record(client, ref, staff_headers("security"))
    security = browser(client, runtime, "보안 가상", "security")
    page = open_request(security, ref)
    granted = post_and_follow(
        security, ref, "decision", page.text,
        {"outcome": "granted", "access_method": "in_person",
         "access_available_at": "2026-12-18T14:00:00+09:00", "access_place": "본사 3층 상담실"},
    )  # fmt: skip
    if "결재 대기" in granted.text:
        officer = browser(client, runtime, "책임자 가상", "officer")
        post_and_follow(
            officer, ref, "approval", open_request(officer, ref).text, {"approve": "yes"}
        )
    page = open_request(security, ref)
    assert 'id="provided"' in page.text and "방문 열람 기록" in page.text
    select = page.text[page.text.index('id="extracts-holder"') :]
    for holder in re.findall(r'<option value="([^"]+)"', select[: select.index("</select>")]):
        up = _upload(
            security, ref, "access-package/files", page.text, {"holders": holder},
            [("files", (f"{holder}.pdf", pdf_bytes(), "application/pdf"))],
        )  # fmt: skip
        assert up.status_code == 303, up.text
        page = security.get(up.headers["location"])
    clock.advance(days=3, hours=5)  # after the visit; a new day, a new sign-in
    security = browser(client, runtime, "보안 가상", "security")
    page = open_request(security, ref)
    # A visit in the future is refused beside its field, nothing recorded.
    future = post(security, ref, "access/provided", page.text, {"at": "2026-12-30T10:00"})
    assert future.status_code == 422 and 'id="provided-at-error"' in future.text
    # The form's date and time are Korean time.
    done = post_and_follow(
        security, ref, "access/provided", page.text,
        {"at": "2026-12-18T14:30", "note": "본인 방문, 사본 교부"},
    )  # fmt: skip
    assert 'id="provided"' not in done.text
    detail = client.get(f"/v1/staff/requests/{ref}", headers=staff_headers("security")).json()
    assert detail["status"] == "completed"


def test_a_delivered_notice_is_sent_again_from_the_page(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = file(client, request_body()).json()["reference"]
    security = browser(client, runtime, "보안 가상", "security")
    headers = staff_headers("security")
    before = client.get(f"/v1/staff/requests/{ref}/notices", headers=headers).json()["items"]
    receipt = next(n for n in before if n["kind"] == "receipt")
    # Queued, not yet delivered: nothing to send again.
    page = open_request(security, ref)
    assert f'name="notice_id" value="{receipt["id"]}"' not in page.text
    while Outbox(runtime).run_once():  # the outbox delivers what is queued
        pass
    page = open_request(security, ref)
    assert f'name="notice_id" value="{receipt["id"]}"' in page.text
    post_and_follow(security, ref, "notices/resend", page.text, {"notice_id": str(receipt["id"])})
    after = client.get(f"/v1/staff/requests/{ref}/notices", headers=headers).json()["items"]
    assert [n["kind"] for n in after].count("receipt") == 2
    # A notice of another request is not found, beside the notices.
    page = open_request(security, ref)
    wrong = post(security, ref, "notices/resend", page.text, {"notice_id": "999999"})
    assert wrong.status_code in (404, 422) and 'id="resend-error"' in wrong.text


def test_an_explanation_is_named_extended_and_explained_from_the_page(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = deletion(client, staff_headers, type="automated_decision_explanation")
    agent = browser(client, runtime, "상담 가상", "agent")
    page = open_request(agent, ref)
    named = post_and_follow(
        agent, ref, "automated-decision", page.text, {"code": "member_restriction"}
    )
    assert 'id="resolve"' not in named.text
    security = browser(client, runtime, "보안 가상", "security")
    page = open_request(security, ref)
    blank = post(security, ref, "extension", page.text, {"reason": ""})
    assert blank.status_code == 422 and 'id="extension-reason-error"' in blank.text
    extended = post_and_follow(
        security, ref, "extension", page.text, {"reason": "관련 부서 검토에 시간이 더 필요합니다."}
    )
    assert "(연장 1회)" in extended.text
    # The explanation's fields: the result is required; the data types are the policy's items.
    no_result = post(security, ref, "decision", extended.text, {"outcome": "granted"})
    assert no_result.status_code == 422
    data_type = re.search(r'name="explanation_data_types" value="([^"]+)"', extended.text)
    assert data_type, "the explanation offers no data types"
    explanation = [
        ("outcome", "granted"),
        ("explanation_result", "이용 제한은 신고 누적 기준으로 정해졌습니다."),
        ("explanation_criteria", "최근 30일 신고 3건 이상"),
        ("explanation_data_types", data_type.group(1)),
    ]
    explained = post_and_follow(security, ref, "decision", extended.text, explanation)
    assert "인용(요구대로 처리)" in explained.text


def test_access_is_postponed_and_the_postponement_ended_from_the_page(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = deletion(client, staff_headers, type="access")
    security = browser(client, runtime, "보안 가상", "security")
    page = open_request(security, ref)
    blank = post(security, ref, "postponement", page.text, {"reason": ""})
    assert blank.status_code == 422 and 'id="postponement-reason-error"' in blank.text
    reason = "수사기관의 자료 보존 요청으로 열람을 잠시 미룹니다."
    postponed = post_and_follow(security, ref, "postponement", page.text, {"reason": reason})
    assert reason in postponed.text and 'id="postponement_end"' in postponed.text
    ended = post_and_follow(security, ref, "postponement/end", postponed.text, {})
    assert "새 기한" in ended.text and "결정 작성" in ended.text


def test_assigning_from_the_page_shows_the_assignee(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = deletion(client, staff_headers)
    agent = browser(client, runtime, "상담 가상", "agent")
    open_request(browser(client, runtime, "보안 가상", "security"), ref)  # a person to pick
    page = open_request(agent, ref)
    chosen = re.search(r'<option value="(\d+)">보안 가상</option>', page.text)
    assert chosen
    assigned = post_and_follow(agent, ref, "assign", page.text, {"assignee": chosen.group(1)})
    assert "<dt>담당자</dt><dd>보안 가상</dd>" in assigned.text


def test_a_task_fails_is_reopened_and_the_officer_alone_waives_it(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    ref = _ready_for_approval(client, runtime, staff_headers)
    officer = browser(client, runtime, "책임자 가상", "officer")
    page = post_and_follow(
        officer, ref, "approval", open_request(officer, ref).text, {"approve": "yes"}
    )
    task_id = re.search(r'name="task_id" value="(\d+)"', page.text)
    assert task_id
    tid = task_id.group(1)
    security = browser(client, runtime, "보안 가상", "security")
    page = open_request(security, ref)
    no_reason = post(security, ref, "tasks/fail", page.text, {"task_id": tid, "reason": ""})
    assert no_reason.status_code == 422 and 'id="fail-reason-error"' in no_reason.text
    reason = "수탁사 시스템 점검으로 삭제하지 못했습니다."
    failed = post_and_follow(
        security, ref, "tasks/fail", page.text, {"task_id": tid, "reason": reason}
    )
    assert reason in failed.text and f'id="reopen-{tid}"' in failed.text
    assert f'id="waive-{tid}"' not in failed.text  # the officer's
    refused = post(security, ref, "tasks/waive", failed.text, {"task_id": tid, "reason": "면제"})
    assert refused.status_code == 403
    reopened = post_and_follow(security, ref, "tasks/reopen", failed.text, {"task_id": tid})
    assert f'id="tasks-{tid}"' in reopened.text
    page = open_request(officer, ref)
    waived = post_and_follow(
        officer, ref, "tasks/waive", page.text,
        {"task_id": tid, "reason": "해당 수탁사는 이 항목을 보유하지 않음을 확인했습니다."},
    )  # fmt: skip
    assert (
        "면제" in waived.text
        and "해당 수탁사는 이 항목을 보유하지 않음을 확인했습니다." in waived.text
    )


def test_an_unknown_request_or_an_early_certificate_is_a_page_not_json(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    security = browser(client, runtime, "보안 가상", "security")
    missing = security.get("/staff/requests/DSR-2612-AAAAAAAA")
    assert missing.status_code == 404 and "요청을 찾을 수 없습니다" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    ref = deletion(client, staff_headers, items=["manager_name"])
    early = security.get(f"/staff/requests/{ref}/certificate", params={"purpose": PURPOSE})
    assert early.status_code == 409 and early.headers["content-type"].startswith("text/html")
