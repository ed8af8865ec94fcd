"""One request's page in the staff console (/staff/requests/{ref}): the purpose asked once per
view, the parties, identity, documents, decision forms, approval, tasks and certificate; every
action a CSRF form post naming the version it was based on, behind the API's role checks."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.models.staff import AccessLog
from app.runtime import Runtime
from tests.conftest import request_body, subject
from tests.console_story import PURPOSE, browser, open_request, post, post_and_follow
from tests.factories import file, match_account_record


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"console_cookie_secure": False}


def deletion(client: TestClient, staff_headers: Any, **body: Any) -> str:
    body.setdefault("subject", subject(phone="010-1234-5678"))
    ref: str = file(client, request_body(type="deletion", **body)).json()["reference"]
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
    assert 'action="/staff/requests/' + ref + '/approval"' not in drafted.text  # not theirs
    page = open_request(officer, ref)
    approved = post_and_follow(officer, ref, "approval", page.text, {"approve": "yes"})
    assert "승인됨" in approved.text or "시행 중" in approved.text
    page = open_request(security, ref)
    while 'action="/staff/requests/' + ref + '/tasks/complete"' in page.text:
        import re

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
