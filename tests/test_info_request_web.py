"""보완 요청 answered on the web: the requester's view carries the open question and its date,
and the status page takes a text answer (api.md, "보완 요청 answered on the web")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.runtime import Runtime
from tests.conftest import request_body
from tests.factories import (
    CHILD,
    PARENT,
    browser_multipart,
    csrf_token,
    file,
    multipart,
    pdf_bytes,
)

Headers = Callable[..., dict[str, str]]
QUESTION = "가족관계증명서를 보내 주세요."


def asked(client: TestClient, staff_headers: Headers) -> dict[str, Any]:
    created: dict[str, Any] = file(client, request_body(subject=CHILD, requester=PARENT)).json()
    staff, ref = staff_headers(), created["reference"]
    etag = client.get(f"/v1/staff/requests/{ref}", headers=staff).headers["etag"]
    resp = client.post(
        f"/v1/staff/requests/{ref}/info-requests",
        json={"message": QUESTION, "respond_by": "2026-12-20"},
        headers={**staff, "If-Match": etag},
    )
    assert resp.status_code == 200, resp.text
    return created


def test_the_view_carries_the_open_question_until_it_is_answered(
    client: TestClient, staff_headers: Headers
) -> None:
    created = asked(client, staff_headers)
    url, h = f"/v1/requests/{created['reference']}", {"X-Access-Code": created["access_code"]}
    mine = client.get(url, headers=h).json()
    assert mine["info_request"] == {"message": QUESTION, "respond_by": "2026-12-20"}
    assert client.post(f"{url}/replies", json={"message": "보냈습니다."}, headers=h).is_success
    assert client.get(url, headers=h).json()["info_request"] is None


def status_form(client: TestClient, created: dict[str, Any], **extra: str) -> dict[str, str]:
    token = csrf_token(client, "/status")
    ref, code = created["reference"], created["access_code"]
    return {"csrf_token": token, "reference": ref, "access_code": code, **extra}


def test_the_status_page_shows_the_question_and_takes_a_text_answer(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    created = asked(client, staff_headers)
    page = client.post("/status", data=status_form(client, created)).text
    assert QUESTION in page and "2026년 12월 20일" in page and 'action="/status/reply"' in page
    # An empty answer is said beside the field; nothing is sent.
    empty = client.post("/status/reply", data=status_form(client, created, message="  "))
    assert empty.status_code == 422 and 'id="reply-error"' in empty.text and QUESTION in empty.text
    answered = client.post(
        "/status/reply", data=status_form(client, created, message="어머니가 보냅니다.")
    )
    assert answered.status_code == 200 and "답변을 보냈습니다" in answered.text
    assert 'action="/status/reply"' not in answered.text
    staff = staff_headers()
    detail = client.get(f"/v1/staff/requests/{created['reference']}", headers=staff).json()
    assert detail["replies"][0]["message"] == "어머니가 보냅니다."


def test_a_wrong_file_type_keeps_the_person_on_the_status_page(
    client: TestClient, staff_headers: Headers
) -> None:
    created = asked(client, staff_headers)
    body, headers = browser_multipart(
        status_form(client, created, kind_1="other", kind_2="other"),
        [
            ("attachment_1", "", "application/octet-stream", b""),
            ("attachment_2", "memo.txt", "text/plain", b"just some words, not a document"),
        ],
    )
    resp = client.post("/status/documents", content=body, headers=headers)
    assert resp.status_code == 415
    # Still the status page, with the question and the forms, the code still in them.
    assert QUESTION in resp.text and created["access_code"] in resp.text
    assert 'id="attachment_2-error"' in resp.text and "파일 2: PDF" in resp.text
    assert 'aria-invalid="true"' in resp.text and "attachment_2 " not in resp.text
    assert "'attachment_" not in resp.text


def test_the_status_page_lists_the_items_and_the_documents_sent(
    client: TestClient, staff_headers: Headers
) -> None:
    body = request_body(subject=CHILD, requester=PARENT, items=["manager_name"])
    created: dict[str, Any] = file(client, body).json()
    url, h = f"/v1/requests/{created['reference']}", {"X-Access-Code": created["access_code"]}
    up = multipart(
        client, f"{url}/attachments", [("proof_of_representation", "f.pdf", pdf_bytes())], headers=h
    )
    assert up.status_code == 201, up.text
    mine = up.json()
    assert mine["items"] == ["manager_name"]
    assert [d["kind"] for d in mine["documents"]] == ["proof_of_representation"]
    assert "f.pdf" not in up.text  # a file's name can be personal: never in the view
    page = client.post("/status", data=status_form(client, created)).text
    assert "요청한 항목" in page and "담당자" in page
    assert "보내신 서류" in page and "법정대리인" in page
