"""An SMS-only requester reads the whole notices on the status page, on a phone (360 px), in a
real browser: headless Chromium (Debian) driven by Playwright. Screenshots land in
test-artifacts/."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page

from app.runtime import Runtime
from app.services.notices.outbox import Outbox
from tests.browser import browser, screenshot  # noqa: F401  (the browser fixture)
from tests.factories import (
    DELETION_WITH_RECORDS,
    WITHHELD_REASON,
    Desk,
    keep_payment_records,
    partial_access,
    sms_only,
)

pytestmark = pytest.mark.browser  # headless Chromium through Playwright

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    db = tmp_path / "rightsdesk.db"
    shutil.copy(sqlite_template, db)
    return f"sqlite:///{db}"


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="ko-KR")
    p = context.new_page()
    p.set_default_timeout(10_000)
    yield p
    context.close()


def open_status(page: Page, live_server: str, desk: Desk) -> str:
    """Look the request up as the requester does and return the notices section's text."""
    page.goto(live_server + "/status")
    page.fill("#reference", desk.ref)
    page.fill("#access_code", desk.code)
    page.click("button[type=submit]")
    page.wait_for_selector("#timeline-h")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the status page scrolls sideways by {overflow}px"
    return page.inner_text("section.notices")


def test_an_sms_requester_reads_forms_9_and_10_whole_on_a_phone(
    phone: Page,
    live_server: str,
    client: TestClient,
    staff_headers: Headers,
    runtime: Runtime,
) -> None:
    access = sms_only(client, staff_headers, items=["manager_name", "access_records"])
    partial_access(access)
    deletion = sms_only(client, staff_headers, **DELETION_WITH_RECORDS)
    keep_payment_records(deletion)
    outbox = Outbox(runtime)  # no gateway configured: the SMS go to the mail drop
    while outbox.run_once():
        pass

    # Form No. 9: the newest notice is open, its whole text readable without a tap.
    text = open_status(phone, live_server, access)
    newest = phone.locator("details.notice-item").first
    assert newest.get_attribute("open") is not None
    assert "열람 결과 통지" in newest.locator("summary").inner_text()
    form = newest.locator(".notice-text")
    assert form.is_visible()
    body = form.inner_text()
    assert body.startswith("개인정보 일부열람 통지서")
    assert WITHHELD_REASON in body and "■ 이의제기 방법" in body and "제35조제4항제2호" in body
    assert "발송 완료" in text and "문자" in text
    # Older notices open with a tap on their title (no JavaScript: <details>).
    receipt = phone.locator("details.notice-item").last
    assert not receipt.locator(".notice-text").is_visible()
    receipt.locator("summary").click()
    assert "접수되었습니다" in receipt.locator(".notice-text").inner_text()
    screenshot(phone, "notices-form9-phone")

    # Form No. 10: what was deleted, what is kept until when and under which statute.
    open_status(phone, live_server, deletion)
    form = phone.locator("details.notice-item").first.locator(".notice-text")
    body = form.inner_text()
    assert body.startswith("개인정보 정정ㆍ삭제 요구에 대한 결과 통지서")
    assert "2030년 11월 20일" in body and "전자상거래 등에서의 소비자 보호에 관한 법률" in body
    assert "■ 이의제기 방법" in body
    screenshot(phone, "notices-form10-phone")
