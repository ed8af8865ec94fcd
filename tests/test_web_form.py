"""The data subject's web form (HTML, no JavaScript), driven with the TestClient."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.identity import Attachment
from app.models.notice import Notice
from app.models.request import Request
from app.runtime import Runtime
from tests.factories import (
    ELF,
    FORM_STEP,
    Desk,
    browser_multipart,
    csrf_token,
    dd_after,
    deliver_and_read_code,
    filed,
    form_fields,
    loosely_typed,
    pdf_bytes,
    png_bytes,
    post_form,
)


def file_via_form(client: TestClient) -> tuple[str, str, httpx.Response]:
    resp = post_form(client, form_fields(csrf_token(client)))
    assert resp.status_code == 200, resp.text
    return dd_after(resp.text, "접수번호"), dd_after(resp.text, "확인코드"), resp


def test_landing_page_shows_the_policy_facts(client: TestClient, runtime: Runtime) -> None:
    resp = client.get("/")
    assert resp.status_code == 200
    text = resp.text
    assert runtime.policy.controller.name in text
    assert "(주)케어랩스 CRM사업부" in text
    assert "정보보안팀" in text and "heegon.oh@carelabs.co.kr" in text
    for right in ("열람", "정정", "삭제", "처리정지", "동의 철회"):
        assert f"<dt>{right}</dt>" in text
    assert "별지 제11호" in text and "만 14세 미만" in text
    assert "10일" in text and "민법" in text
    assert "우노" in text  # a service from the policy, with its items
    assert 'lang="ko"' in text


def test_filing_through_the_form_shows_reference_code_and_deadline(
    client: TestClient, db: Session
) -> None:
    reference, code, resp = file_via_form(client)
    assert reference.startswith("DSR-2612-")
    assert re.fullmatch(r"[A-Z0-9-]{6,}", code)
    assert "2026년 12월 28일" in resp.text
    assert "한 번만" in resp.text  # the write-it-down warning
    assert resp.headers["cache-control"] == "no-store"
    [row] = filed(db)
    assert row.reference == reference and row.channel == "web" and row.type == "access"
    # The access code appears only in the page body, never in the URL.
    assert code not in str(resp.url) and resp.history == []


def test_post_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, db: Session
) -> None:
    token = csrf_token(client)
    missing = post_form(client, form_fields(None))
    wrong = post_form(client, form_fields(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")))
    for resp in (missing, wrong):
        assert resp.status_code == 403
        assert "요청을 처리할 수 없습니다" in resp.text
    # A right field without the cookie is refused too.
    client.cookies.clear()
    assert post_form(client, form_fields(token)).status_code == 403
    assert filed(db) == []


def test_csrf_cookie_is_strict_and_http_only(client: TestClient) -> None:
    cookie = client.get("/form").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie


def test_a_filled_honeypot_files_nothing(client: TestClient, db: Session) -> None:
    token = csrf_token(client)
    resp = post_form(client, form_fields(token, website="http://spam.example"))
    assert resp.status_code == 200
    assert "접수를 마치지 못했습니다" in resp.text
    assert "접수번호" not in resp.text
    assert filed(db) == []
    page = client.get(FORM_STEP).text
    assert re.search(r'<input id="website"[^>]*tabindex="-1"[^>]*autocomplete="off"', page)


def test_a_child_filing_as_self_gets_the_legal_representative_guidance(
    client: TestClient, db: Session
) -> None:
    token = csrf_token(client)
    resp = post_form(
        client, form_fields(token, subject_name="이아동", subject_birth_date="2013-06-01")
    )
    assert resp.status_code == 200
    assert filed(db) == []
    html = resp.text
    # The message sits next to the 관계 field and the select points at it.
    error = re.search(r'<div class="error" id="relationship-error">(.*?)</div>', html, re.S)
    assert error, "no error next to the relationship field"
    assert "법정대리인" in error.group(1) and "가족관계증명서" in error.group(1)
    select_tag = re.search(r'<select id="relationship"[^>]*>', html)
    assert select_tag and 'aria-invalid="true"' in select_tag.group(0)
    assert "relationship-error" in select_tag.group(0)
    assert 'href="#relationship"' in html  # in the summary at the top
    # What was typed is still there.
    assert re.search(r'<input id="subject_name"[^>]*value="이아동"', html)
    assert re.search(r'<input id="subject_birth_date"[^>]*value="2013-06-01"', html)


def test_a_service_without_birth_dates_asks_under_14_instead(
    client: TestClient, db: Session
) -> None:
    page = client.get("/form?type=access&service=webersoft&relationship=self").text
    assert "만 14세 미만입니까?" in page and 'id="subject_birth_date"' not in page
    uno = client.get(FORM_STEP).text  # 우노 collected birth dates: asked as before
    assert 'id="subject_birth_date"' in uno and "만 14세 미만입니까?" not in uno
    landing = client.get("/").text
    assert "위버소프트, 브랜드 사이트(CARECRM) 서비스는 생년월일을 받지 않았으므로" in landing

    adult = form_fields(csrf_token(client), service="webersoft", subject_birth_date="")
    unanswered = post_form(client, adult)
    assert filed(db) == []
    assert 'id="subject_under_14-error"' in unanswered.text
    assert 'href="#subject_under_14"' in unanswered.text

    child = post_form(client, {**adult, "subject_under_14": "yes"})
    assert filed(db) == []
    assert 'id="relationship-error"' in child.text and "가족관계증명서" in child.text
    assert re.search(r'id="subject_under_14_yes"[^>]*value="yes" checked', child.text)

    resp = post_form(client, {**adult, "subject_under_14": "no"})
    assert resp.status_code == 200 and "접수번호" in resp.text
    assert len(filed(db)) == 1


def test_a_service_with_birth_dates_still_needs_one_on_the_form(
    client: TestClient, db: Session
) -> None:
    fields = form_fields(csrf_token(client), subject_birth_date="", subject_under_14="no")
    resp = post_form(client, fields)
    assert filed(db) == []
    assert 'id="subject_birth_date-error"' in resp.text


def test_field_errors_are_tied_to_their_inputs(client: TestClient, db: Session) -> None:
    token = csrf_token(client)
    resp = post_form(client, form_fields(token, subject_birth_date="", subject_email="bad"))
    assert filed(db) == []
    html = resp.text
    for field in ("subject_birth_date", "subject_email"):
        tag = re.search(rf'<input id="{field}"[^>]*>', html)
        assert tag and 'aria-invalid="true"' in tag.group(0), field
        assert f'id="{field}-error"' in html and f"{field}-error" in tag.group(0)
    assert re.search(r'<input id="subject_name"[^>]*value="김가상"', html)


# The second step of the case with the most sections: a delegate asking for a correction.
DELEGATE_CORRECTION = "/form?type=correction&service=uno&relationship=delegate"


def test_every_input_has_a_label(client: TestClient) -> None:
    html = client.get(DELEGATE_CORRECTION).text
    ids = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', html)
    assert len(ids) > 20
    for input_id in ids:
        assert f'<label for="{input_id}"' in html, input_id
    hidden = re.findall(r'<input type="hidden"', html)
    assert hidden  # the CSRF token, which needs no label
    assert "<script" not in html


def test_status_page_is_reached_by_post_only(client: TestClient) -> None:
    reference, code, _ = file_via_form(client)
    token = csrf_token(client, "/status")
    resp = client.post(
        "/status", data={"csrf_token": token, "reference": reference, "access_code": code}
    )
    assert resp.status_code == 200
    assert "본인 확인 중" in resp.text and "접수 안내" in resp.text
    assert resp.history == [] and code not in str(resp.url)
    # No link or form action on the page carries the code in a URL.
    for url in re.findall(r'(?:href|action)="([^"]*)"', resp.text):
        assert code not in url and reference not in url
    assert resp.headers["cache-control"] == "no-store"
    wrong = client.post(
        "/status", data={"csrf_token": token, "reference": reference, "access_code": "AAAA"}
    )
    assert wrong.status_code == 404 and "본인 확인 중" not in wrong.text
    no_csrf = client.post("/status", data={"reference": reference, "access_code": code})
    assert no_csrf.status_code == 403 and "본인 확인 중" not in no_csrf.text


def test_status_page_accepts_the_reference_as_typed(client: TestClient) -> None:
    reference, code, _ = file_via_form(client)
    token = csrf_token(client, "/status")
    for typed in loosely_typed(reference):
        form = {"csrf_token": token, "reference": typed, "access_code": code}
        resp = client.post("/status", data=form)
        assert resp.status_code == 200, typed
        assert dd_after(resp.text, "접수번호") == reference


def test_verification_code_moves_the_request_into_review(
    client: TestClient, runtime: Runtime, db: Session
) -> None:
    reference, code, _ = file_via_form(client)
    otp = deliver_and_read_code(runtime)
    token = csrf_token(client, "/status")
    base = {"csrf_token": token, "reference": reference, "access_code": code}
    bad = client.post("/status/verify", data={**base, "code": "000000" if otp != "000000" else "1"})
    assert 'id="code-error"' in bad.text
    resp = client.post("/status/verify", data={**base, "code": otp})
    assert resp.status_code == 200
    assert re.search(r'<strong class="status">검토 중</strong>', resp.text)
    [row] = filed(db)
    assert row.status == "in_review"


def test_withdrawal_through_the_status_page(client: TestClient, db: Session) -> None:
    reference, code, _ = file_via_form(client)
    token = csrf_token(client, "/status")
    base = {"csrf_token": token, "reference": reference, "access_code": code}
    unconfirmed = client.post("/status/withdraw", data=base)
    assert 'id="withdraw-error"' in unconfirmed.text
    assert filed(db)[0].status == "identity_pending"
    resp = client.post("/status/withdraw", data={**base, "confirm": "yes"})
    assert re.search(r'<strong class="status">취소됨</strong>', resp.text)
    assert filed(db)[0].status == "withdrawn"


def test_security_headers_on_every_page(client: TestClient) -> None:
    csp = (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    token = csrf_token(client)
    pages = [
        client.get("/"),
        client.get("/form"),
        client.get("/status"),
        post_form(client, form_fields(None)),  # the 403 page
        post_form(client, form_fields(token, subject_name="")),  # a re-rendered form
    ]
    for resp in pages:
        assert resp.headers["content-security-policy"] == csp
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "no-referrer"
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["cache-control"] == "no-store"
        assert "<script" not in resp.text


def test_stylesheet_is_served_by_the_app(client: TestClient) -> None:
    resp = client.get("/static/web.css")
    assert resp.status_code == 200 and "@media print" in resp.text
    assert "@media (max-width" in resp.text
    html = client.get("/form").text
    assert re.findall(r'(?:href|src)="(https?:)?//', html) == []


def blobs(runtime: Runtime) -> list[str]:
    return sorted(p.name for p in runtime.evidence.root.rglob("*") if p.is_file())


def delegate_fields(token: str, **overrides: str | list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = form_fields(
        token,
        relationship="delegate",
        requester_name="박대리",
        requester_birth_date="1985-03-15",
        requester_phone="010-2000-0002",
        delegator_phone="010-2000-0001",
        delegate_phone="010-2000-0002",
        relationship_to_subject="배우자",
        signed_on="2026-12-10",
    )
    fields["scope"] = ["access", "correction_deletion"]
    fields["kind_1"] = "power_of_attorney"
    fields["kind_2"] = "identity_document"
    fields.update(overrides)
    return fields


def test_a_delegate_files_with_the_power_of_attorney_attached(
    client: TestClient, runtime: Runtime, db: Session
) -> None:
    token = csrf_token(client)
    files = [
        ("attachment_1", "wiimjang.png", "image/png", png_bytes()),
        ("attachment_2", "", "application/octet-stream", b""),
        ("attachment_3", "", "application/octet-stream", b""),
    ]
    resp = post_form(client, delegate_fields(token), files)
    assert resp.status_code == 200, resp.text
    assert "접수번호" in resp.text
    [row] = filed(db)
    assert row.channel == "web"
    kinds = [a.kind for a in db.exec(select(Attachment)).all()]
    assert kinds == ["power_of_attorney"]
    assert len(blobs(runtime)) == 1


def test_a_refused_filing_keeps_no_uploaded_file(
    client: TestClient, runtime: Runtime, db: Session
) -> None:
    token = csrf_token(client)
    files = [("attachment_1", "wiimjang.png", "image/png", png_bytes())]
    # The 위임장 does not cover this request type: refused after the file was stored.
    resp = post_form(client, delegate_fields(token, scope=["suspension"]), files)
    assert filed(db) == [] and blobs(runtime) == []
    html = resp.text
    assert re.search(r'<p class="error" id="scope-error">', html)
    assert "다시 첨부" in html
    assert re.search(r'<input id="requester_name"[^>]*value="박대리"', html)
    assert re.search(r'<input type="checkbox" id="scope_suspension"[^>]*checked', html)
    # A forged POST with a file keeps nothing either.
    assert post_form(client, delegate_fields("x" * 43), files).status_code == 403
    assert blobs(runtime) == []


def test_documents_resend_and_objection_from_the_status_page(
    client: TestClient,
    staff_headers: Callable[..., dict[str, str]],
    clock: Any,
    db: Session,
    runtime: Runtime,
) -> None:
    # A legal representative's request: the proof of representation is uploaded later.
    parent = {
        "relationship": "legal_representative",
        "name": "박부모",
        "birth_date": "1985-07-07",
        "email": "park.parent@example.com",
    }
    created = client.post(
        "/v1/requests",
        json={
            "type": "access",
            "service": "uno",
            "subject": {"name": "박아동", "birth_date": "2016-03-01"},
            "requester": parent,
        },
    ).json()
    token = csrf_token(client, "/status")
    base = {
        "csrf_token": token,
        "reference": created["reference"],
        "access_code": created["access_code"],
    }
    body, headers = browser_multipart(
        {
            **base,
            "kind_1": "proof_of_representation",
            "kind_2": "identity_document",
            "kind_3": "other",
        },
        [
            ("attachment_1", "가족관계증명서.pdf", "application/pdf", pdf_bytes()),
            ("attachment_2", "", "application/octet-stream", b""),
            ("attachment_3", "", "application/octet-stream", b""),
        ],
    )
    up = client.post("/status/documents", content=body, headers=headers)
    assert up.status_code == 200 and "서류를 제출했습니다" in up.text
    kinds = [a.kind for a in db.exec(select(Attachment)).all()]
    assert kinds == ["proof_of_representation"]
    no_token = client.post(
        "/status/documents",
        content=browser_multipart({k: v for k, v in base.items() if k != "csrf_token"})[0],
        headers=headers,
    )
    assert no_token.status_code == 403

    # A self-filer asks for a new code: too soon, then after the interval.
    reference, code, _ = file_via_form(client)
    mine = {
        "csrf_token": csrf_token(client, "/status"),
        "reference": reference,
        "access_code": code,
    }
    soon = client.post("/status/resend", data=mine)
    assert 'id="code-error"' in soon.text
    clock.advance(seconds=61)
    again = client.post("/status/resend", data=mine)
    assert "새 인증번호를 보내 드렸습니다" in again.text
    db.expire_all()
    codes = db.exec(select(Notice).where(Notice.kind == "verification_code")).all()
    assert len(codes) == 2  # the first code and the new one (the parent gets none)

    # An objection after a refusal, through the page, with its own confirmation.
    desk = Desk(client, staff_headers)
    desk.staff_write(
        "decision",
        {"outcome": "refused", "grounds": ["35-4-1"], "reason": "법률에 따라 제한됩니다."},
    )
    desk.staff_write("approval", {"approve": True}, who=desk.officer)
    form = {
        "csrf_token": csrf_token(client, "/status"),
        "reference": desk.ref,
        "access_code": desk.code,
    }
    status = client.post("/status", data=form)
    assert "이의제기" in status.text and "제35조제4항제1호" in status.text
    hostile = client.post("/status/objection", data={**form, "reason": "\u202e요세주 려알"})
    assert "제어 문자" in hostile.text and "이의제기가 접수되었습니다" not in hostile.text
    objected = client.post("/status/objection", data={**form, "reason": "근거 법률을 알려 주세요."})
    assert objected.status_code == 200 and "이의제기가 접수되었습니다" in objected.text
    assert dd_after(objected.text, "확인코드")
    db.expire_all()
    assert [r.type for r in db.exec(select(Request).where(Request.type == "objection")).all()] == [
        "objection"
    ]


def test_a_refused_file_keeps_what_was_typed(
    client: TestClient, db: Session, runtime: Runtime
) -> None:
    fields = form_fields(csrf_token(client), subject_name="김입력")
    resp = post_form(
        client,
        fields,
        [
            ("attachment_1", "id.pdf", "application/pdf", ELF),
            ("attachment_2", "", "application/octet-stream", b""),
            ("attachment_3", "", "application/octet-stream", b""),
        ],
    )
    assert resp.status_code == 415
    assert 'value="김입력"' in resp.text  # typed before the files: kept
    assert "PDF, JPEG, PNG" in resp.text
    assert filed(db) == [] and blobs(runtime) == []


def test_files_come_last_so_a_refused_file_loses_no_typed_field(client: TestClient) -> None:
    """A browser sends fields in page order and an upload is refused mid-stream: every typed
    field must come before the first file input."""
    html = client.get(DELEGATE_CORRECTION).text
    first_file = html.index('type="file"')
    for name in ("notify_by", "subject_name", "correction_requested", "signed_on"):
        assert html.index(f'name="{name}"') < first_file, name
    html = client.get(FORM_STEP).text
    assert html.index('name="delivery"') < html.index('type="file"')


def test_an_item_of_another_service_is_refused_never_dropped(
    client: TestClient, db: Session
) -> None:
    """Dropping it would turn a deletion of one item into one of every item of the service."""
    page = client.get("/form?type=deletion&service=uno&relationship=self").text
    ticks = re.findall(r'name="items" value="([^"]+)"', page)
    assert ticks and all(v.startswith("uno:") for v in ticks)  # only the chosen service's
    assert "모든 항목</strong>의 삭제" in page  # what ticking none means, said on the page
    fields: dict[str, Any] = form_fields(csrf_token(client), type="deletion")
    fields["items"] = ["webersoft:name"]
    resp = post_form(client, fields)
    assert filed(db) == []
    assert 'id="items-error"' in resp.text and 'href="#items"' in resp.text
    assert re.search(r'<input id="subject_name"[^>]*value="김가상"', resp.text)


def test_the_confirmation_echoes_the_items_and_details_received(
    client: TestClient, db: Session
) -> None:
    fields: dict[str, Any] = form_fields(
        csrf_token(client), type="deletion", details="광고 문자를 그만 받고 싶습니다."
    )
    fields["items"] = ["uno:manager_name"]
    resp = post_form(client, fields)
    assert resp.status_code == 200, resp.text
    assert dd_after(resp.text, "대상 항목") == "담당자 이름"
    assert "광고 문자를 그만 받고 싶습니다." in resp.text
    [row] = filed(db)
    assert row.items == ["manager_name"]
    everything = post_form(client, form_fields(csrf_token(client), type="deletion"))
    assert dd_after(everything.text, "대상 항목") == "우노의 모든 항목"


# --- automated decisions (art. 37-2) ---------------------------------------------------------

AD_STEP = "/form?type=automated_decision_explanation&service=uno&relationship=self"


def test_the_landing_page_publishes_the_automated_decisions(client: TestClient) -> None:
    text = client.get("/").text
    for right in ("자동화된 결정 거부", "자동화된 결정 설명", "자동화된 결정 검토"):
        assert f"<dt>{right}</dt>" in text
    assert "불량회원 이용 제한" in text and "불량 혹은 비정상 이용기록 정보" in text
    assert "개인정보 보호법 제15조제1항제4호" in text
    assert "인공지능 기술을 적용한 시스템이 아닙니다" in text  # 2027-03-09: said either way
    assert "거부할 수 없고(법 제37조의2제1항 단서)" in text
    assert "30일 이내" in text and "시행령 제44조의3" in text


def test_an_explanation_is_filed_through_the_form_naming_the_decision(
    client: TestClient, db: Session
) -> None:
    page = client.get(AD_STEP).text
    assert "어떤 자동화된 결정에 관한 요구인가요?" in page
    assert 'value="member_restriction"' in page and 'value="unknown" checked' in page
    assert 'name="items"' not in page  # about a decision, not about items
    token = csrf_token(client, AD_STEP)
    fields = form_fields(
        token,
        type="automated_decision_explanation",
        automated_decision="member_restriction",
        details="계정이 자동으로 정지된 이유를 설명해 주세요.",
    )
    resp = post_form(client, fields)
    assert resp.status_code == 200, resp.text
    assert dd_after(resp.text, "대상 자동화된 결정") == "불량회원 이용 제한"
    # 30 days from Tue 2026-12-15: day 30 = 12-16 + 29 = Thu 2027-01-14.
    assert "2027년 1월 14일" in resp.text
    [row] = filed(db)
    assert row.type == "automated_decision_explanation"
    assert row.automated_decision == "member_restriction" and row.period_days == 30


def test_a_review_on_the_form_asks_for_the_views_and_keeps_the_choice(
    client: TestClient, db: Session
) -> None:
    step = AD_STEP.replace("explanation", "review")
    page = client.get(step).text
    assert "의견 (다시 검토해 달라는 이유)" in page
    fields = form_fields(
        csrf_token(client, step),
        type="automated_decision_review",
        automated_decision="unauthorized_access_block",
    )
    resp = post_form(client, fields)
    assert 'id="details-error"' in resp.text and filed(db) == []
    assert 'value="unauthorized_access_block" checked' in resp.text  # the choice stays
    fields["details"] = "AI 판단 말고 사람이 다시 봐 주세요."
    assert dd_after(post_form(client, fields).text, "대상 자동화된 결정") == "비인가 접속 차단"


def test_the_power_of_attorney_has_a_box_for_automated_decisions(client: TestClient) -> None:
    page = client.get(AD_STEP.replace("relationship=self", "relationship=delegate")).text
    assert 'name="scope" value="automated_decision"' in page
    assert "자동화된 결정 거부·설명·검토" in page
