"""Processor mode (PIPA art. 26(8)): a request about a clinic's patient data that Carelabs'
CRM holds as the clinic's processor goes to the clinic (the controller), whose signed page
records its receipt and instruction; staff carry the instruction out as holder tasks, and the
requester hears the clinic's decision. Over HTTP, with a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import app.routers.clinics as clinics_router
from app.db import transaction
from app.policy import DEFAULT_POLICY_FILE
from app.runtime import Runtime
from app.services.audit.purge import purge_proof
from app.services.clinics.forwarding import confirm_url, forward_of, record_instruction
from app.services.notices.outbox import Outbox
from app.services.requests.detail import request_by_reference
from tests.conftest import Clock, carry_out, request_body, subject
from tests.factories import (
    FORM_STEP,
    RECORD_MATCH,
    assert_problem,
    csrf_token,
    deliver_access,
    file,
    form_fields,
    match_account_record,
    post_form,
)
from tests.servers import SmtpServer, free_port

Headers = Callable[..., dict[str, str]]

CLINIC_MAIL = "privacy@haneul-clinic.example"
POLICY_CLINIC_MAIL = "office@barun-clinic.example"
PATIENT = subject(name="박가상", phone="010-3333-4444", email="park.gasang@example.com")

POLICY_CLINIC = f'''

[[clinics]]
code = "barun_clinic"
name = "바른의원"
email = "{POLICY_CLINIC_MAIL}"
phone = "02-000-0000"
services = ["uno"]
'''


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(smtp: SmtpServer, tmp_path: Path) -> dict[str, Any]:
    # The shipped policy names no clinic; this one adds one in the file (`[[clinics]]`).
    policy = tmp_path / "policy.toml"
    policy.write_text(DEFAULT_POLICY_FILE.read_text(encoding="utf-8") + POLICY_CLINIC, "utf-8")
    return {
        "smtp_url": f"smtp://127.0.0.1:{smtp.port}",
        "public_base_url": "http://testserver",
        "policy_file": policy,
    }


@pytest.fixture
def admin(staff_headers: Headers) -> dict[str, str]:
    return staff_headers("admin")


@pytest.fixture
def clinic(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    resp = client.post(
        "/v1/staff/admin/clinics",
        json={
            "code": "haneul_clinic",
            "name": "하늘피부과의원",
            "email": CLINIC_MAIL,
            "phone": "02-123-4567",
            "services": ["uno"],
        },
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def deliver(runtime: Runtime) -> None:
    while Outbox(runtime).run_once():
        pass


def mails_to(smtp: SmtpServer, address: str) -> list[tuple[str, str]]:
    found = []
    for m in smtp.handler.received:
        if m.rcpt_tos == [address]:
            body = m.message.get_body()
            assert body is not None
            found.append((str(m.message["Subject"]), str(body.get_content())))
    return found


def clinic_link(text: str) -> str:
    link = re.search(r"http://testserver(/clinics/confirm\?token=\S+)", text)
    assert link is not None, "the forward carries the clinic's signed link"
    return link.group(1)


def page_form(html: str) -> dict[str, str]:
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html)
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert csrf and token
    return {"csrf_token": csrf.group(1), "token": token.group(1)}


def file_for_clinic(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = request_body(type="deletion", subject=PATIENT, controller="haneul_clinic")
    body.update(overrides)
    resp = file(client, body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def identify(client: TestClient, ref: str, handler: dict[str, str]) -> None:
    """Our own identity check: staff match the patient against the service's records; the
    request enters review and only then is the clinic told (its e-mail names the patient)."""
    assert match_account_record(client, ref, handler)["status"] == "in_review"


def instruct(
    client: TestClient, runtime: Runtime, smtp: SmtpServer, **form: str
) -> tuple[str, Any]:
    """The clinic opens the link of its e-mail and answers; returns (link, answer)."""
    deliver(runtime)
    [(_, text)] = mails_to(smtp, CLINIC_MAIL)[-1:]
    link = clinic_link(text)
    page = client.get(link)
    assert page.status_code == 200, page.text
    # The request is framed as what it is, not styled as an error summary.
    assert '<dl class="case">' in page.text and 'class="summary"' not in page.text
    return link, client.post("/clinics/confirm", data={**page_form(page.text), **form})


def apply(client: TestClient, ref: str, handler: dict[str, str]) -> Any:
    url = f"/v1/staff/requests/{ref}"
    etag = client.get(url, headers=handler).headers["etag"]
    return client.post(f"{url}/clinic-instruction/apply", headers={**handler, "If-Match": etag})


def notices_of(client: TestClient, created: dict[str, Any]) -> list[dict[str, Any]]:
    mine = {"X-Access-Code": created["access_code"]}
    resp = client.get(f"/v1/requests/{created['reference']}", headers=mine)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["notices"])


def test_a_clinic_request_is_forwarded_instructed_carried_out_and_closed_naming_the_clinic(
    client: TestClient,
    runtime: Runtime,
    smtp: SmtpServer,
    staff_headers: Headers,
    clinic: dict[str, Any],
) -> None:
    handler = staff_headers("security")
    created = file_for_clinic(client, details="예약 기록과 연락처를 지워 주세요.")
    ref = created["reference"]
    assert created["controller"] == "haneul_clinic"

    # Nothing goes to the clinic on an unverified requester's word: the e-mail names the
    # patient, so it waits for our identity check.
    deliver(runtime)
    assert mails_to(smtp, CLINIC_MAIL) == []
    waiting = client.get(f"/v1/staff/requests/{ref}", headers=handler).json()
    assert waiting["clinic"]["forwarded_at"] is None
    identify(client, ref, handler)

    # The clinic's e-mail: the request, its deadline and the link; the patient's name and
    # birth date to find the chart, never the contact or the free text.
    deliver(runtime)
    [(subject_line, text)] = mails_to(smtp, CLINIC_MAIL)
    assert ref in subject_line and "삭제" in subject_line and "2026년 12월 28일" in subject_line
    assert "하늘피부과의원" in text and "수탁자" in text and "제26조" in text
    assert "박가상" in text and "1990" in text
    assert "본인 확인(연락처 인증 또는 서비스 기록 대조)은 저희가 마친 뒤 전달" in text
    assert "park.gasang" not in text and "3333" not in text and "예약 기록" not in text

    # The receipt tells the requester who the controller is and that Carelabs forwards it.
    [receipt] = [n for n in notices_of(client, created) if n["kind"] == "receipt"]
    assert "하늘피부과의원이 개인정보처리자로서" in receipt["body"]
    assert "수탁자" in receipt["body"] and "02-123-4567" in receipt["body"]
    assert "의료법" not in receipt["body"]
    # The deadline and the result are the clinic's; we pass the result on.
    promise = re.search(
        r"하늘피부과의원의 처리기한은 (.+?)까지이며, 결과는 저희가 전달해", receipt["body"]
    )
    assert promise is not None and promise.group(1).startswith("2026년 12월 28일")
    assert "회사 기준에 따라" not in receipt["body"]

    # Staff see the clinic and its deadline, in the detail and in the queue.
    detail = client.get(f"/v1/staff/requests/{ref}", headers=handler).json()
    assert detail["controller"] == "haneul_clinic" and detail["clinic_due_on"] == "2026-12-28"
    assert detail["clinic"]["name"] == "하늘피부과의원" and detail["clinic"]["received_at"] is None
    [row] = client.get("/v1/staff/requests", headers=handler).json()["items"]
    assert (row["controller"], row["clinic_due_on"], row["clinic_instruction"]) == (
        "haneul_clinic",
        "2026-12-28",
        None,
    )
    # Nothing to carry out before the clinic has said; and the clinic decides, not us.
    assert_problem(apply(client, ref, handler), 409, "invalid_transition")
    etag = client.get(f"/v1/staff/requests/{ref}", headers=handler).headers["etag"]
    ours = client.post(
        f"/v1/staff/requests/{ref}/decision",
        json={"outcome": "refused", "reason": "보존 기간", "grounds": ["art36-1-proviso"]},
        headers={**handler, "If-Match": etag},
    )
    assert_problem(ours, 409, "clinic_decides", "outcome")
    assert "clinic-instruction/apply" in ours.json()["detail"]

    link, answer = instruct(client, runtime, smtp)  # no choice made
    assert answer.status_code == 422 and "지시를 하나 골라" in answer.text
    answer = client.post(
        "/clinics/confirm",
        data={**page_form(client.get(link).text), "instruction": "carry_out"},
    )
    assert answer.status_code == 200 and "병원의 지시를 받았습니다" in answer.text
    assert "지시(<strong>요구대로 처리</strong>)" in answer.text
    # The link records one instruction; the page then says so.
    assert "이미 지시를 주셨습니다" in client.get(link).text

    detail = client.get(f"/v1/staff/requests/{ref}", headers=handler).json()
    assert detail["status"] == "in_review"
    assert detail["clinic"]["instruction"] == "carry_out"
    assert detail["clinic"]["received_at"] is not None

    # Staff carry the instruction out: one task per holder of the service's data.
    applied = apply(client, ref, handler)
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "executing"
    tasks = client.get(f"/v1/staff/requests/{ref}/tasks", headers=handler).json()["items"]
    assert "uno_service_db" in {t["holder_code"] for t in tasks}
    assert all(i["instruction"] == "delete" for t in tasks for i in t["instructions"])

    assert carry_out(client, ref, handler)["request_status"] == "completed"
    deliver(runtime)
    [result] = [n for n in notices_of(client, created) if n["kind"] == "clinic_result"]
    assert "개인정보처리자인 하늘피부과의원이 결정한" in result["body"]
    assert "요구하신 대로 처리했습니다" in result["body"]
    assert "이의제기는 하늘피부과의원에" in result["body"]
    assert not [n for n in notices_of(client, created) if n["kind"] == "action_result"]
    # The result reached the requester's mailbox too.
    assert any("처리 결과" in s for s, _ in mails_to(smtp, PATIENT["email"]))


def test_a_clinic_refusal_reaches_the_requester_with_the_clinics_reason(
    client: TestClient,
    runtime: Runtime,
    smtp: SmtpServer,
    staff_headers: Headers,
    clinic: dict[str, Any],
) -> None:
    handler = staff_headers("security")
    created = file_for_clinic(client)
    identify(client, created["reference"], handler)
    _, answer = instruct(client, runtime, smtp, instruction="refuse")
    assert answer.status_code == 422 and "거절 사유" in answer.text
    _, answer = instruct(
        client, runtime, smtp, instruction="refuse", reason="진료 후 5년 보존 의무 기간입니다."
    )
    assert answer.status_code == 200, answer.text
    applied = apply(client, created["reference"], handler)
    assert applied.status_code == 200 and applied.json()["status"] == "completed"
    assert applied.json()["outcome"] == "refused"
    [result] = [n for n in notices_of(client, created) if n["kind"] == "clinic_result"]
    assert "하늘피부과의원이 요구를 받아들이지 않기로" in result["body"]
    assert "거절 사유: 진료 후 5년 보존 의무 기간입니다." in result["body"]
    url = f"/v1/staff/requests/{created['reference']}"
    assert client.get(url, headers=handler).json()["clinic"]["reason"].startswith("진료 후")
    # The reason is proof of what the patient was told: it goes with the other proof.
    with transaction(runtime.engine) as session:
        purge_proof(session, runtime, request_by_reference(session, created["reference"]))
    assert client.get(url, headers=handler).json()["clinic"]["reason"] is None


def test_a_clinic_that_answers_itself_keeps_the_request_open_until_it_confirms_it_did(
    client: TestClient,
    runtime: Runtime,
    smtp: SmtpServer,
    staff_headers: Headers,
    clinic: dict[str, Any],
    clock: Clock,
) -> None:
    handler = staff_headers("security")
    created = file_for_clinic(client, type="access")
    ref = created["reference"]
    identify(client, ref, handler)
    link, answer = instruct(client, runtime, smtp, instruction="clinic_answers")
    assert answer.status_code == 200, answer.text
    applied = apply(client, ref, handler)
    # Still open: the clinic has said it will answer, not that it did.
    assert applied.status_code == 200 and applied.json()["status"] == "in_review"
    assert applied.json()["clinic"]["awaiting_answer"] is True
    assert_problem(apply(client, ref, handler), 409, "invalid_transition")
    [result] = [n for n in notices_of(client, created) if n["kind"] == "clinic_result"]
    due = re.search(r"병원이 직접 답변할 예정이며 기한은 (.+?)까지입니다", result["body"])
    assert due is not None and due.group(1).startswith("2026년 12월 28일")
    assert "02-123-4567" in result["body"]

    # Past the clinic's deadline without its confirmation, staff see it overdue.
    [row] = client.get("/v1/staff/requests", headers=handler).json()["items"]
    assert row["clinic_overdue"] is False
    clock.advance(days=30)
    [row] = client.get("/v1/staff/requests", headers=handler).json()["items"]
    assert row["clinic_overdue"] is True and row["status"] == "in_review"

    # The clinic confirms on its page that it answered: the request completes.
    page = client.get(link)
    assert "정보주체에게 답변했습니다" in page.text
    done = client.post("/clinics/confirm", data={**page_form(page.text), "step": "answered"})
    assert done.status_code == 200 and "답변 완료를 확인했습니다" in done.text
    detail = client.get(f"/v1/staff/requests/{ref}", headers=handler).json()
    assert detail["status"] == "completed" and detail["clinic"]["answered_at"] is not None
    assert detail["clinic_overdue"] is False
    assert "정보주체에게 답변했습니다" not in client.get(link).text


def test_a_clinics_instruction_never_replaces_our_identity_check(
    client: TestClient,
    runtime: Runtime,
    smtp: SmtpServer,
    staff_headers: Headers,
    clinic: dict[str, Any],
) -> None:
    handler = staff_headers("security")
    created = file_for_clinic(client, type="access")
    ref = created["reference"]
    # A link the clinic holds while the requester is still unverified (say, from an e-mail
    # it was sent before): its instruction is recorded, and the request waits for identity.
    with transaction(runtime.engine) as session:
        forward = forward_of(session, request_by_reference(session, ref))
        assert forward is not None
        link = confirm_url(runtime, forward)
    assert link is not None
    page = client.get(link.removeprefix("http://testserver"))
    answer = client.post(
        "/clinics/confirm", data={**page_form(page.text), "instruction": "carry_out"}
    )
    assert answer.status_code == 200, answer.text
    detail = client.get(f"/v1/staff/requests/{ref}", headers=handler).json()
    assert detail["status"] == "identity_pending"
    assert detail["clinic"]["instruction"] == "carry_out"
    assert_problem(apply(client, ref, handler), 409, "identity_pending")

    # The requester proves the contact (the one-time code): review, but a grant still waits
    # for the account-record match (Decree art. 46(1)).
    deliver(runtime)
    [(_, code_mail)] = [m for m in mails_to(smtp, PATIENT["email"]) if "인증번호" in m[0]]
    code = re.search(r"\b(\d{6})\b", code_mail)
    assert code is not None
    verified = client.post(
        f"/v1/requests/{ref}/verification",
        json={"code": code.group(1)},
        headers={"X-Access-Code": created["access_code"]},
    )
    assert verified.status_code == 200, verified.text
    assert_problem(apply(client, ref, handler), 409, "identity_not_matched", "outcome")
    url = f"/v1/staff/requests/{ref}"
    etag = client.get(url, headers=handler).headers["etag"]
    matched = client.post(
        f"{url}/identity", json=RECORD_MATCH, headers={**handler, "If-Match": etag}
    )
    assert matched.status_code == 200, matched.text
    assert apply(client, ref, handler).json()["status"] == "executing"


def test_a_clinic_approved_access_tells_the_patient_how_to_get_the_data(
    client: TestClient,
    runtime: Runtime,
    smtp: SmtpServer,
    staff_headers: Headers,
    clinic: dict[str, Any],
) -> None:
    handler = staff_headers("security")
    created = file_for_clinic(client, type="access", items=["birth_date", "terminal_info"])
    ref = created["reference"]
    identify(client, ref, handler)
    instruct(client, runtime, smtp, instruction="carry_out")
    assert apply(client, ref, handler).json()["status"] == "executing"
    released = deliver_access(client, ref, handler)
    assert released.status_code == 200, released.text
    [result] = [n for n in notices_of(client, created) if n["kind"] == "clinic_result"]
    body = result["body"]
    assert "■ 조치 내용" in body and "열람하실 수 있는 개인정보" in body
    assert "- 생년월일" in body
    assert "■ 열람 자료 내려받기" in body and "내려받기 기한: 2027년" in body
    assert "이의제기는 하늘피부과의원에" in body


def test_only_types_we_can_carry_out_can_name_a_clinic(
    client: TestClient, clinic: dict[str, Any]
) -> None:
    refused = file(
        client,
        request_body(
            type="automated_decision_explanation",
            controller="haneul_clinic",
            details="자동으로 계정이 제한된 이유를 알려 주세요.",
        ),
    )
    assert_problem(refused, 422, "type_not_forwardable", "controller")
    [error] = refused.json()["errors"]
    assert error["allowed"] == [
        "access",
        "consent_withdrawal",
        "correction",
        "deletion",
        "suspension",
    ]
    assert "병원에 전달할 수 있는 유형" in refused.json()["detail"]


def test_two_clinic_submissions_at_once_record_only_the_first(
    client: TestClient,
    runtime: Runtime,
    smtp: SmtpServer,
    staff_headers: Headers,
    clinic: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = file_for_clinic(client)
    ref = created["reference"]
    identify(client, ref, staff_headers("security"))
    deliver(runtime)
    [(_, text)] = mails_to(smtp, CLINIC_MAIL)
    link = clinic_link(text)
    first, second = page_form(client.get(link).text), page_form(client.get(link).text)

    # The second submission reads the forward (no instruction yet), and the first lands
    # between that read and its write: the race of two posts at once, made deterministic.
    real = clinics_router.forward_for_token
    raced = False

    def read_then_lose_the_race(*args: Any) -> Any:
        nonlocal raced
        found = real(*args)
        if not raced:
            raced = True
            with transaction(runtime.engine) as other:
                fwd = forward_of(other, request_by_reference(other, ref, for_update=True))
                assert fwd is not None
                req = request_by_reference(other, ref)
                record_instruction(other, runtime, fwd, req, "carry_out", None)
        return found

    monkeypatch.setattr(clinics_router, "forward_for_token", read_then_lose_the_race)
    loser = client.post(
        "/clinics/confirm", data={**second, "instruction": "refuse", "reason": "보존 의무"}
    )
    assert loser.status_code == 200 and "이미 지시를 주셨습니다" in loser.text
    assert "요구대로 처리" in loser.text
    monkeypatch.setattr(clinics_router, "forward_for_token", real)
    again = client.post("/clinics/confirm", data={**first, "instruction": "refuse", "reason": "x"})
    assert "이미 지시를 주셨습니다" in again.text
    detail = client.get(f"/v1/staff/requests/{ref}", headers=staff_headers("security")).json()
    assert detail["clinic"]["instruction"] == "carry_out" and detail["clinic"]["reason"] is None


def test_medical_records_are_pointed_to_the_clinics_medical_service_act_procedure(
    client: TestClient,
    runtime: Runtime,
    smtp: SmtpServer,
    staff_headers: Headers,
    clinic: dict[str, Any],
) -> None:
    created = file_for_clinic(client, type="access", details="제 진료기록 사본을 받고 싶습니다.")
    [receipt] = [n for n in notices_of(client, created) if n["kind"] == "receipt"]
    assert "「의료법」 제21조" in receipt["body"] and "하늘피부과의원에 신청" in receipt["body"]
    identify(client, created["reference"], staff_headers("security"))
    deliver(runtime)
    [(_, text)] = mails_to(smtp, CLINIC_MAIL)
    assert "■ 진료기록" in text and "제21조" in text
    detail = client.get(
        f"/v1/staff/requests/{created['reference']}", headers=staff_headers("security")
    ).json()
    assert detail["clinic"]["medical_records"] is True


def test_bad_controllers_are_refused_naming_the_allowed_clinics(
    client: TestClient, admin: dict[str, str], clinic: dict[str, Any]
) -> None:
    unknown = file(client, request_body(controller="nowhere_clinic"))
    assert_problem(unknown, 422, "unknown_controller", "controller")
    assert "barun_clinic, haneul_clinic" in unknown.json()["detail"]
    # A clinic is offered only for the services Carelabs runs for it.
    other = file(client, request_body(service="smartcrm", controller="haneul_clinic"))
    assert_problem(other, 422, "unknown_controller", "controller")
    bad_code = file(client, request_body(controller="하늘\u202e"))
    assert bad_code.status_code == 422
    # A deactivated clinic can no longer be named; its code stays taken.
    gone = client.post("/v1/staff/admin/clinics/haneul_clinic/deactivate", headers=admin)
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert_problem(
        file(client, request_body(controller="haneul_clinic")), 422, "unknown_controller"
    )
    # Without `controller` the request is the policy's controller's, as before.
    plain = file(client, request_body())
    assert plain.status_code == 201 and plain.json()["controller"] is None


def test_the_admin_keeps_the_clinic_list_beside_the_policys_clinics(
    client: TestClient, admin: dict[str, str], clinic: dict[str, Any], staff_headers: Headers
) -> None:
    listed = client.get("/v1/staff/admin/clinics", headers=admin).json()["items"]
    assert [(c["code"], c["source"]) for c in listed] == [
        ("barun_clinic", "policy"),
        ("haneul_clinic", "staff"),
    ]
    clinic_body = {"code": "barun_clinic", "name": "다른의원", "email": "a@b.example",
                   "services": ["uno"]}  # fmt: skip
    assert_problem(
        client.post("/v1/staff/admin/clinics", json=clinic_body, headers=admin),
        409,
        "clinic_exists",
    )
    assert_problem(
        client.post(
            "/v1/staff/admin/clinics",
            json={**clinic_body, "code": "new_clinic", "services": ["nowhere"]},
            headers=admin,
        ),
        422,
        "unknown_service",
        "services",
    )
    assert_problem(
        client.post(
            "/v1/staff/admin/clinics", json={**clinic_body, "code": "Bad Code"}, headers=admin
        ),
        422,
        "validation_error",
        "code",
    )
    assert_problem(
        client.post("/v1/staff/admin/clinics/barun_clinic/deactivate", headers=admin),
        409,
        "clinic_in_policy",
    )
    assert_problem(
        client.post("/v1/staff/admin/clinics/nowhere/deactivate", headers=admin), 404, "not_found"
    )
    # Case workers do not manage the list.
    assert (
        client.get("/v1/staff/admin/clinics", headers=staff_headers("officer")).status_code == 403
    )


def test_the_policys_clinic_is_forwarded_to_like_a_listed_one(
    client: TestClient, runtime: Runtime, smtp: SmtpServer, staff_headers: Headers
) -> None:
    created = file(client, request_body(controller="barun_clinic"))
    assert created.status_code == 201 and created.json()["controller"] == "barun_clinic"
    identify(client, created.json()["reference"], staff_headers("security"))
    deliver(runtime)
    [(_, text)] = mails_to(smtp, POLICY_CLINIC_MAIL)
    assert "바른의원" in text and created.json()["reference"] in text


def test_the_clinic_page_refuses_forged_links_and_posts_without_the_csrf_token(
    client: TestClient,
    runtime: Runtime,
    smtp: SmtpServer,
    clinic: dict[str, Any],
    staff_headers: Headers,
) -> None:
    identify(client, file_for_clinic(client)["reference"], staff_headers("security"))
    deliver(runtime)
    [(_, text)] = mails_to(smtp, CLINIC_MAIL)
    link = clinic_link(text)
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert client.get(forged).status_code == 404
    form = page_form(client.get(link).text)
    no_csrf = client.post(
        "/clinics/confirm", data={"token": form["token"], "instruction": "refuse"}
    )
    assert no_csrf.status_code == 403
    hostile = client.post(
        "/clinics/confirm", data={**form, "instruction": "refuse", "reason": "거절\u202e\x1b[2J"}
    )
    assert hostile.status_code == 422 and "제어 문자" in hostile.text
    # Nothing was recorded by the refused posts: the page still asks.
    assert "병원의 지시" in client.get(link).text and "이미 지시를" not in client.get(link).text


def test_a_patient_picks_the_clinic_on_the_web_form_and_the_request_goes_to_it(
    client: TestClient,
    runtime: Runtime,
    smtp: SmtpServer,
    clinic: dict[str, Any],
    staff_headers: Headers,
) -> None:
    step = client.get(FORM_STEP).text
    # Offered for 우노, the service Carelabs runs for both clinics; "no clinic" comes first.
    assert 'name="controller"' in step and "병원의 환자 정보인가요?" in step
    assert '<option value="barun_clinic"' in step and '<option value="haneul_clinic"' in step
    assert "수탁자" in step and "「의료법」 제21조" in step
    assert 'name="controller"' not in client.get(FORM_STEP.replace("uno", "smartcrm")).text
    # Not offered where a clinic's instruction cannot be carried out (Carelabs' own decisions).
    ad_step = FORM_STEP.replace("type=access", "type=automated_decision_explanation")
    assert ad_step != FORM_STEP and 'name="controller"' not in client.get(ad_step).text
    done = post_form(client, form_fields(csrf_token(client), controller="haneul_clinic"))
    assert done.status_code == 200 and "접수" in done.text, done.text
    handler = staff_headers("security")
    [row] = client.get("/v1/staff/requests", headers=handler).json()["items"]
    identify(client, row["reference"], handler)
    deliver(runtime)
    [(subject_line, _)] = mails_to(smtp, CLINIC_MAIL)
    assert "열람" in subject_line
    # A clinic the list no longer has comes back to the form, on its field.
    bad = post_form(client, form_fields(csrf_token(client), controller="nowhere_clinic"))
    error = re.search(r'id="controller-error">(.*?)</p>', bad.text, re.S)
    assert error is not None and "허용되는 값" in error.group(1)
