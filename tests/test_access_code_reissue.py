"""A lost access code: a new one to a contact the request was filed with (api.md, "A lost
access code")."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.notice import Notice
from app.models.request import Event
from app.runtime import Runtime
from app.services.notices.outbox import Outbox
from tests.conftest import Clock, mailed_code, request_body, subject
from tests.factories import csrf_token, file, form_fields, post_form


def reissue(client: TestClient, reference: str, contact: str) -> Any:
    return client.post(f"/v1/requests/{reference}/access-code/reissue", json={"contact": contact})


def new_code_from_mail(runtime: Runtime) -> str:
    Outbox(runtime).run_once()
    [eml] = sorted(runtime.settings.mail_dir.glob("*-access_code-*.eml"))[-1:]
    return mailed_code(eml)


def test_a_new_code_goes_to_the_contact_and_the_old_one_stops_working(
    client: TestClient, runtime: Runtime, db: Session
) -> None:
    created = file(client, request_body()).json()
    ref, old = created["reference"], created["access_code"]
    resp = reissue(client, ref.lower().replace("-", ""), " KIM.GASANG@example.com ")
    assert resp.status_code == 202, resp.text
    assert old not in resp.text
    new = new_code_from_mail(runtime)
    assert new != old and new not in resp.text
    assert client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": old}).status_code == 404
    mine = client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": new})
    assert mine.status_code == 200
    kinds = [e.kind for e in db.exec(select(Event).where(Event.kind == "access_code_reissued"))]
    assert kinds == ["access_code_reissued"]
    # The delivered notice keeps the new code only masked.
    db.expire_all()
    n = db.exec(select(Notice).where(Notice.kind == "access_code")).one()
    assert new not in runtime.vault.decrypt(n.body_enc, field="notice.body")


def test_the_same_answer_whatever_matched(
    client: TestClient, runtime: Runtime, db: Session
) -> None:
    created = file(client, request_body()).json()
    ref, old = created["reference"], created["access_code"]
    wrong_contact = reissue(client, ref, "someone.else@example.com")
    unknown_ref = reissue(client, "DSR-2612-ZZZZZZZZ", "kim.gasang@example.com")
    right = reissue(client, ref, "kim.gasang@example.com")
    assert wrong_contact.status_code == unknown_ref.status_code == right.status_code == 202
    assert wrong_contact.json() == unknown_ref.json() == right.json()
    # Only the matching contact changed the code.
    assert db.exec(select(Notice).where(Notice.kind == "access_code")).all().__len__() == 1
    assert client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": old}).status_code == 404


def test_a_phone_the_request_was_filed_with_gets_an_sms(
    client: TestClient, runtime: Runtime, db: Session
) -> None:
    body = request_body(subject=subject(email=None, phone="010-1234-5678"))
    created = file(client, body).json()
    assert reissue(client, created["reference"], "01012345678").status_code == 202
    n = db.exec(select(Notice).where(Notice.kind == "access_code")).one()
    assert n.channel == "sms"
    assert runtime.vault.decrypt(n.recipient_enc, field="notice.recipient").endswith("5678")
    # The new code fits one SMS (90 bytes in EUC-KR), not an LMS.
    text = runtime.vault.decrypt(n.body_enc, field="notice.body")
    assert created["reference"] in text and len(text.encode("euc-kr")) <= 90


def test_sends_are_throttled_like_codes(
    client: TestClient, runtime: Runtime, db: Session, clock: Clock
) -> None:
    ref = file(client, request_body()).json()["reference"]
    for _ in range(3):
        assert reissue(client, ref, "kim.gasang@example.com").status_code == 202
    assert len(db.exec(select(Notice).where(Notice.kind == "access_code")).all()) == 1
    clock.advance(seconds=runtime.settings.otp_resend_seconds + 1)
    assert reissue(client, ref, "kim.gasang@example.com").status_code == 202
    assert len(db.exec(select(Notice).where(Notice.kind == "access_code")).all()) == 2


def test_a_contact_is_required(client: TestClient) -> None:
    ref = file(client, request_body()).json()["reference"]
    resp = client.post(f"/v1/requests/{ref}/access-code/reissue", json={})
    assert resp.status_code == 422


# --- on the web --------------------------------------------------------------------------------


def test_the_lookup_offers_the_recovery_and_shows_the_code_typed(client: TestClient) -> None:
    page = client.get("/status").text
    assert 'href="/status/access-code"' in page and "확인코드를 잃어버렸어요" in page
    assert 'type="password"' not in page


def test_the_web_recovery_sends_a_code_it_never_shows(client: TestClient, runtime: Runtime) -> None:
    created = file(client, request_body()).json()
    ref = created["reference"]
    token = csrf_token(client, "/status/access-code")
    form = {"csrf_token": token, "reference": ref, "contact": "kim.gasang@example.com"}
    sent = client.post("/status/access-code", data=form)
    assert sent.status_code == 200 and "새 확인코드를 보내 드렸습니다" in sent.text
    wrong = client.post("/status/access-code", data={**form, "contact": "x@example.com"})
    assert wrong.status_code == 200 and "새 확인코드를 보내 드렸습니다" in wrong.text
    new = new_code_from_mail(runtime)
    assert new not in sent.text
    token = csrf_token(client, "/status")
    view = client.post("/status", data={"csrf_token": token, "reference": ref, "access_code": new})
    assert view.status_code == 200 and ref in view.text
    # A missing contact is said beside the field, the reference kept.
    empty = client.post("/status/access-code", data={**form, "contact": ""})
    assert empty.status_code == 422 and 'id="contact-error"' in empty.text and ref in empty.text


def test_the_confirmation_goes_straight_on_to_the_code(client: TestClient) -> None:
    token = csrf_token(client)  # the form's second step, which carries the token
    resp = post_form(client, form_fields(token))
    assert resp.status_code == 200
    assert 'action="/status"' in resp.text and "인증번호 입력하러 가기" in resp.text
    # The button carries the reference and the access code to the status page.
    hidden = dict(
        re.findall(r'name="(reference|access_code|csrf_token)" value="([^"]*)"', resp.text)
    )
    step = client.post("/status", data=hidden)
    assert step.status_code == 200 and 'id="code"' in step.text
