"""Identity and authority through the API: files, one-time codes, staff checks, 보완 요청."""

from __future__ import annotations

import asyncio
import json
import threading
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.identity import Attachment, Verification
from app.models.notice import Notice
from app.models.request import Event, Request
from app.models.staff import AccessLog
from app.runtime import Runtime
from tests.conftest import Clock, delegation_for, request_body, subject
from tests.factories import (
    CHILD,
    ELF,
    PARENT,
    assert_problem,
    deliver_and_read_code,
    evidence_files,
    file,
    jpeg_bytes,
    multipart,
    pdf_bytes,
    png_bytes,
)

Headers = Callable[..., dict[str, str]]
MB = 1024 * 1024

DELEGATE = {"name": "이대리", "birth_date": "1980-02-02", "email": "lee.daeri@example.com"}


def code_url(created: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return f"/v1/requests/{created['reference']}", {"X-Access-Code": created["access_code"]}


# --- the subject filing for themself: a one-time code -----------------------------------------


def test_subject_verifies_with_the_code_and_review_starts(
    client: TestClient, runtime: Runtime, db: Session
) -> None:
    created = file(client, request_body()).json()
    assert created["next_action"] == "verify_contact"
    code = deliver_and_read_code(runtime)
    url, h = code_url(created)
    resp = client.post(f"{url}/verification", json={"code": code}, headers=h)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "in_review" and resp.json()["next_action"] == "wait"
    # The code is nowhere in clear: not in the verification row, not in the delivered notice.
    v = db.exec(select(Verification)).one()
    assert code not in v.code_hash
    for n in db.exec(select(Notice)).all():
        assert code not in runtime.vault.decrypt(n.body_enc, field="notice.body")
    with runtime.engine.connect() as conn:
        dump = repr(
            [
                tuple(r)
                for t in ("verification", "notice", "event")
                for r in conn.exec_driver_sql(f"SELECT * FROM {t}")
            ]
        )
    assert code not in dump


def test_wrong_codes_lock_the_verification(
    client: TestClient, runtime: Runtime, clock: Clock
) -> None:
    created = file(client, request_body()).json()
    code = deliver_and_read_code(runtime)
    wrong = "000000" if code != "000000" else "111111"
    url, h = code_url(created)
    for left in (4, 3, 2, 1):
        resp = client.post(f"{url}/verification", json={"code": wrong}, headers=h)
        assert_problem(resp, 422, "invalid_code", "code")
        assert f"{left}번 더" in resp.json()["detail"]
    locked = client.post(f"{url}/verification", json={"code": wrong}, headers=h)
    assert_problem(locked, 429, "rate_limited", "code")
    assert int(locked.headers["retry-after"]) == 15 * 60
    # Locked: even the right code is refused now.
    again = client.post(f"{url}/verification", json={"code": code}, headers=h)
    assert_problem(again, 429, "rate_limited")
    assert client.get(url, headers=h).json()["status"] == "identity_pending"
    # After the lock, a new code can be requested and works.
    assert_problem(client.post(f"{url}/verification/resend", headers=h), 429, "rate_limited")
    clock.advance(minutes=16)
    assert client.post(f"{url}/verification/resend", headers=h).status_code == 202
    fresh = deliver_and_read_code(runtime)
    ok = client.post(f"{url}/verification", json={"code": fresh}, headers=h)
    assert ok.status_code == 200 and ok.json()["status"] == "in_review"


def test_parallel_wrong_codes_are_evaluated_at_most_the_limit(
    live_server: str, runtime: Runtime, db: Session
) -> None:
    """60 wrong codes at once, over real connections: no more than OTP_MAX_ATTEMPTS (5) are
    judged. The rest are refused unjudged, as the lock refuses them one at a time."""
    with httpx.Client(base_url=live_server, timeout=60) as http:
        created = http.post("/v1/requests", json=request_body()).json()
    code = deliver_and_read_code(runtime)
    wrong = [f"{n:06d}" for n in range(100000, 100061) if f"{n:06d}" != code][:60]
    url, h = code_url(created)
    barrier = threading.Barrier(len(wrong))
    answers: list[tuple[int, str]] = []

    def guess(otp: str) -> None:
        with httpx.Client(base_url=live_server, timeout=60) as c:
            barrier.wait()
            r = c.post(f"{url}/verification", json={"code": otp}, headers=h)
            answers.append((r.status_code, r.json()["code"]))

    threads = [threading.Thread(target=guess, args=(otp,)) for otp in wrong]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == len(wrong)
    judged_wrong = [a for a in answers if a == (422, "invalid_code")]
    assert len(judged_wrong) == 4  # the fifth wrong one locks (429), the rest are refused
    assert all(a == (429, "rate_limited") for a in answers if a not in judged_wrong)
    v = db.exec(select(Verification)).one()
    assert v.failed_attempts == 5 and v.locked_until is not None
    locks = db.exec(select(Event).where(Event.kind == "code_locked")).all()
    assert len(locks) == 1


def test_codes_expire_and_resends_are_throttled(
    client: TestClient, runtime: Runtime, clock: Clock
) -> None:
    created = file(client, request_body()).json()
    code = deliver_and_read_code(runtime)
    url, h = code_url(created)
    too_soon = client.post(f"{url}/verification/resend", headers=h)
    assert_problem(too_soon, 429, "rate_limited")
    assert 1 <= int(too_soon.headers["retry-after"]) <= 60
    clock.advance(minutes=11)
    expired = client.post(f"{url}/verification", json={"code": code}, headers=h)
    assert_problem(expired, 422, "code_expired", "code")
    assert client.post(f"{url}/verification/resend", headers=h).status_code == 202
    old_code_now = client.post(f"{url}/verification", json={"code": code}, headers=h)
    assert old_code_now.status_code == 422  # the new code replaced the old one


def test_verification_needs_the_access_code(client: TestClient) -> None:
    created = file(client, request_body()).json()
    resp = client.post(
        f"/v1/requests/{created['reference']}/verification",
        json={"code": "123456"},
        headers={"X-Access-Code": "WRONG"},
    )
    assert_problem(resp, 404, "not_found")


# --- representatives: documents, then a person checks them ------------------------------------


def test_child_only_through_a_legal_representative_with_proof(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    refused = file(client, request_body(subject=subject(**CHILD)))
    assert_problem(refused, 422, "legal_representative_required")

    body = request_body(subject=CHILD, requester=PARENT)
    resp = multipart(
        client,
        "/v1/requests",
        [
            ("identity_document", "parent-id.jpg", jpeg_bytes()),
            ("proof_of_representation", "가족관계증명서.pdf", pdf_bytes()),
        ],
        body=body,
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["next_action"] == "wait"  # everything in; a person checks the documents

    h = staff_headers("security")
    ref = created["reference"]
    detail = client.get(f"/v1/staff/requests/{ref}", headers=h)
    data = detail.json()
    assert data["missing"] == [] and data["verification"] is None  # no code for a representative
    assert sorted(a["kind"] for a in data["attachments"]) == [
        "identity_document",
        "proof_of_representation",
    ]
    assert {a["filename"] for a in data["attachments"]} == {"parent-id.jpg", "가족관계증명서.pdf"}
    check = {"result": "verified", "method": "id_copy", "note": "가족관계증명서 확인"}
    no_match = client.post(f"/v1/staff/requests/{ref}/identity", json=check, headers=h)
    assert_problem(no_match, 428, "precondition_required")
    stale = client.post(
        f"/v1/staff/requests/{ref}/identity", json=check, headers={**h, "If-Match": '"99"'}
    )
    assert_problem(stale, 412, "version_mismatch")
    ok = client.post(
        f"/v1/staff/requests/{ref}/identity",
        json=check,
        headers={**h, "If-Match": detail.headers["etag"]},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "in_review"
    assert ok.json()["identity_checks"][0]["note"] == "가족관계증명서 확인"
    mine = client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": created["access_code"]})
    assert mine.json()["status"] == "in_review"


def test_delegate_reports_each_missing_piece_by_name(
    client: TestClient, staff_headers: Headers
) -> None:
    subj = subject(email=None, phone="010-2000-0001")
    body = request_body(
        subject=subj,
        requester={"relationship": "delegate", **DELEGATE},
        delegation=delegation_for(subj, DELEGATE),
    )
    created = file(client, body).json()
    url, h = code_url(created)
    staff = staff_headers()
    ref = created["reference"]

    def missing() -> list[str]:
        return client.get(f"/v1/staff/requests/{ref}", headers=staff).json()["missing"]

    assert created["next_action"] == "submit_power_of_attorney"
    assert missing() == ["submit_power_of_attorney", "submit_identity_document"]
    up = multipart(
        client, f"{url}/attachments", [("power_of_attorney", "위임장.pdf", pdf_bytes())], headers=h
    )
    assert up.status_code == 201, up.text
    assert up.json()["next_action"] == "submit_identity_document"
    assert missing() == ["submit_identity_document"]
    up = multipart(
        client, f"{url}/attachments", [("identity_document", "id.png", png_bytes())], headers=h
    )
    assert up.json()["next_action"] == "wait" and missing() == []


def test_failed_check_rejects_with_a_notice(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    body = request_body(subject=CHILD, requester=PARENT)
    created = file(client, body).json()
    h = staff_headers()
    ref = created["reference"]
    etag = client.get(f"/v1/staff/requests/{ref}", headers=h).headers["etag"]
    resp = client.post(
        f"/v1/staff/requests/{ref}/identity",
        json={
            "result": "failed",
            "method": "id_copy",
            "reason": "가족관계증명서가 제출되지 않았습니다.",
        },
        headers={**h, "If-Match": etag},
    )
    assert resp.json()["status"] == "rejected"
    notice = db.exec(select(Notice).where(Notice.kind == "identity_rejected")).one()
    text = runtime.vault.decrypt(notice.body_enc, field="notice.body")
    assert "가족관계증명서가 제출되지 않았습니다" in text and "다시 요청" in text
    assert runtime.vault.decrypt(notice.recipient_enc, field="notice.recipient") == PARENT["email"]


# --- files: type by content, size limits, nothing half-written ---------------------------------


def test_png_named_pdf_is_stored_as_png_and_staff_download_it(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    content = png_bytes()
    body = request_body(subject=CHILD, requester=PARENT)
    resp = multipart(
        client, "/v1/requests", [("proof_of_representation", "scan.pdf", content)], body=body
    )
    assert resp.status_code == 201, resp.text
    ref = resp.json()["reference"]
    attachment = db.exec(select(Attachment)).one()
    assert attachment.content_type == "image/png"
    assert all(content not in p.read_bytes() for p in evidence_files(runtime))  # encrypted
    h = staff_headers("security")
    got = client.get(f"/v1/staff/requests/{ref}/attachments/{attachment.id}", headers=h)
    assert got.status_code == 200 and got.content == content
    assert got.headers["content-type"] == "image/png"
    log = db.exec(select(AccessLog).where(AccessLog.action == "download_attachment")).one()
    assert log.attachment_id == attachment.id
    admin = client.get(
        f"/v1/staff/requests/{ref}/attachments/{attachment.id}", headers=staff_headers("admin")
    )
    assert_problem(admin, 403, "forbidden")


def test_executable_named_pdf_is_refused_and_nothing_is_kept(
    client: TestClient, db: Session, runtime: Runtime
) -> None:
    body = request_body(subject=CHILD, requester=PARENT)
    resp = multipart(
        client,
        "/v1/requests",
        [
            ("identity_document", "id.jpg", jpeg_bytes()),
            ("proof_of_representation", "family.pdf", ELF),
        ],
        body=body,
    )
    assert_problem(resp, 415, "unsupported_media_type", "attachments.1")
    assert db.exec(select(Request)).all() == []
    assert evidence_files(runtime) == []


def test_refused_filing_deletes_its_files(
    client: TestClient, db: Session, runtime: Runtime
) -> None:
    body = request_body(subject=subject(**CHILD))  # a child filing alone: refused
    resp = multipart(client, "/v1/requests", [("other", "a.pdf", pdf_bytes())], body=body)
    assert_problem(resp, 422, "legal_representative_required")
    assert evidence_files(runtime) == []
    kinds = multipart(
        client, "/v1/requests", [("selfie", "a.pdf", pdf_bytes())], body=request_body()
    )
    assert_problem(kinds, 422, "validation_error", "attachment_kinds.0")
    assert evidence_files(runtime) == [] and db.exec(select(Request)).all() == []


def test_a_20_mb_upload_over_a_10_mb_limit_is_refused_without_buffering(
    app: FastAPI, db: Session, runtime: Runtime
) -> None:
    """Driven as raw ASGI: the test client would buffer the whole body itself."""
    boundary = "rightsdesk-test-boundary"
    body = json.dumps(request_body(subject=CHILD, requester=PARENT), ensure_ascii=False)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="request"\r\n\r\n'
        f"{body}\r\n--{boundary}\r\nContent-Disposition: form-data; "
        'name="attachment_kinds"\r\n\r\nother\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
        'filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n'
    ).encode()
    chunk = b"0" * (64 * 1024)
    total = 20 * MB // len(chunk)
    sent = 0
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent += 1
        if sent == 1:
            return {"type": "http.request", "body": head, "more_body": True}
        if sent <= total:
            return {"type": "http.request", "body": chunk, "more_body": True}
        return {
            "type": "http.request",
            "body": f"\r\n--{boundary}--\r\n".encode(),
            "more_body": False,
        }

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] = answer.get("body", b"") + message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/requests",
        "raw_path": b"/v1/requests",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())],
    }
    tracemalloc.start()
    try:
        asyncio.run(app(scope, receive, send))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer["status"] == 413
    problem = json.loads(answer["body"])
    assert problem["code"] == "payload_too_large"
    assert problem["errors"][0]["field"] == "attachments.0"
    assert sent <= total // 2 + 2  # it stopped reading at the 10 MB limit
    assert peak < 5 * MB, f"peak {peak / MB:.1f} MB while refusing a 20 MB upload"
    assert db.exec(select(Request)).all() == [] and evidence_files(runtime) == []


# --- 보완 요청 -----------------------------------------------------------------------------------


def test_information_request_waits_for_a_reply_and_the_deadline_runs_on(
    client: TestClient, staff_headers: Headers, runtime: Runtime, db: Session
) -> None:
    created = file(
        client,
        request_body(
            type="correction",
            correction={
                "item": "manager_name",
                "current_value": "김가상",
                "requested_value": "김가람",
            },
        ),
    )
    created = created.json()
    url, h = code_url(created)
    code = deliver_and_read_code(runtime)
    client.post(f"{url}/verification", json={"code": code}, headers=h)
    staff = staff_headers()
    ref = created["reference"]
    etag = client.get(f"/v1/staff/requests/{ref}", headers=staff).headers["etag"]
    asked = client.post(
        f"/v1/staff/requests/{ref}/info-requests",
        json={
            "message": "개명 사실을 확인할 수 있는 서류를 보내 주세요.",
            "respond_by": "2026-12-20",
        },
        headers={**staff, "If-Match": etag},
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "awaiting_requester"
    assert asked.json()["legal_deadline"] == created["legal_deadline"]  # the clock does not stop
    mine = client.get(url, headers=h).json()
    assert mine["next_action"] == "provide_information"
    assert [n["kind"] for n in mine["notices"]][-1] == "info_request"
    info = db.exec(select(Notice).where(Notice.kind == "info_request")).one()
    assert "개명 사실" in runtime.vault.decrypt(info.body_enc, field="notice.body")

    replied = client.post(f"{url}/replies", json={"message": "기본증명서를 첨부합니다."}, headers=h)
    assert replied.status_code == 200 and replied.json()["status"] == "in_review"
    detail = client.get(f"/v1/staff/requests/{ref}", headers=staff).json()
    assert detail["replies"][0]["message"] == "기본증명서를 첨부합니다."
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds.index("requester_replied") > kinds.index("status_changed")
    again = client.post(f"{url}/replies", json={"message": "또"}, headers=h)
    assert_problem(again, 409, "invalid_transition")


def test_an_upload_also_answers_an_information_request(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    body = request_body(subject=CHILD, requester=PARENT)
    created = file(client, body).json()
    staff = staff_headers()
    ref = created["reference"]
    etag = client.get(f"/v1/staff/requests/{ref}", headers=staff).headers["etag"]
    client.post(
        f"/v1/staff/requests/{ref}/info-requests",
        json={"message": "가족관계증명서를 보내 주세요."},
        headers={**staff, "If-Match": etag},
    )
    url, h = code_url(created)
    up = multipart(
        client,
        f"{url}/attachments",
        [("proof_of_representation", "family.pdf", pdf_bytes())],
        headers=h,
    )
    assert up.status_code == 201, up.text
    assert up.json()["status"] == "identity_pending"  # back where it was
    assert up.json()["next_action"] == "submit_identity_document"


@pytest.mark.parametrize("content", [b"", b"just text"])
def test_supplement_needs_a_real_file(client: TestClient, content: bytes, runtime: Runtime) -> None:
    created = file(client, request_body(subject=CHILD, requester=PARENT)).json()
    url, h = code_url(created)
    resp = multipart(client, f"{url}/attachments", [("other", "x.pdf", content)], headers=h)
    assert resp.status_code in (415, 422), resp.text
    assert evidence_files(runtime) == []
