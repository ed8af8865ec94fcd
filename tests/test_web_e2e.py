"""The web form in a real browser: headless Chromium (Debian) driven by Playwright, against
the app served by uvicorn. Screenshots of every page land in test-artifacts/."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page

from app.runtime import Runtime
from app.services.notices.outbox import Outbox
from tests.browser import browser, screenshot  # noqa: F401  (the browser fixture)
from tests.conftest import mailed_code
from tests.factories import (
    DELETION_WITH_RECORDS,
    WITHHELD_REASON,
    Desk,
    keep_payment_records,
    partial_access,
    sms_only,
)

pytestmark = pytest.mark.browser  # headless Chromium through Playwright

WIDTHS = {"phone": 360, "desktop": 1280}
Headers = Callable[..., dict[str, str]]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """The browser tests run on the embedded SQLite default only (the same code runs on
    PostgreSQL in every API test)."""
    db = tmp_path / "rightsdesk.db"
    shutil.copy(sqlite_template, db)
    return f"sqlite:///{db}"


@pytest.fixture(params=sorted(WIDTHS))
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:  # noqa: F811
    width = WIDTHS[request.param]
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="ko-KR")
    p = context.new_page()
    p.set_default_timeout(10_000)
    p.width_name = request.param  # type: ignore[attr-defined]
    yield p
    context.close()


def shot(page: Page, name: str) -> None:
    screenshot(page, f"{name}-{page.width_name}")  # type: ignore[attr-defined]


def code_from_mail(runtime: Runtime, reference: str) -> str:
    """Deliver the outbox (files transport) and read the code as the person would."""
    Outbox(runtime).run_once()
    [eml] = runtime.settings.mail_dir.glob(f"{reference}-verification_code-*.eml")
    return mailed_code(eml)


def fill_subject(page: Page, *, birth: str) -> None:
    page.select_option("#type", "access")
    page.select_option("#service", "uno")
    page.fill("#subject_name", "김가상")
    page.fill("#subject_birth_date", birth)
    page.fill("#subject_email", "kim.gasang@example.com")
    page.select_option("#relationship", "self")


def test_subject_files_verifies_and_follows(page: Page, live_server: str, runtime: Runtime) -> None:
    page.goto(live_server + "/")
    assert "열람" in page.content() and "정보보안팀" in page.content()
    shot(page, "01-landing")
    page.click("a[href='/form']")
    assert page.url.endswith("/form")
    fill_subject(page, birth="1990-05-01")
    shot(page, "02-form")
    page.click("button[type=submit]")

    # The confirmation: reference, the code shown once, the legal deadline.
    text = page.inner_text("main")
    reference = re.search(r"DSR-\d{4}-[0-9A-Z]{8}", text)
    assert reference, text
    access_code = page.inner_text("#access-code").strip()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", access_code)
    assert "2026년 12월 28일" in text and "한 번만" in text
    assert access_code not in page.url
    shot(page, "03-confirmation")

    code = code_from_mail(runtime, reference.group(0))
    page.goto(live_server + "/status")
    page.fill("#reference", reference.group(0))
    page.fill("#access_code", access_code)
    page.click("button[type=submit]")
    assert "본인 확인 중" in page.inner_text("main")
    shot(page, "04-status-before-code")
    page.fill("#code", code)
    page.click("#verify-h ~ form button[type=submit] >> nth=0")
    assert "검토 중" in page.inner_text("main")
    assert access_code not in page.url and code not in page.url
    shot(page, "05-status-verified")


def test_a_child_filing_alone_is_told_how_to_file(page: Page, live_server: str) -> None:
    page.goto(live_server + "/form")
    fill_subject(page, birth="2013-06-01")
    page.click("button[type=submit]")
    error = page.locator("#relationship-error")
    assert "법정대리인" in error.inner_text()
    assert page.get_attribute("#relationship", "aria-invalid") == "true"
    assert page.input_value("#subject_name") == "김가상"  # nothing typed is lost
    shot(page, "06-child-guidance")


def test_a_service_without_birth_dates_asks_under_14_on_the_form(
    page: Page, live_server: str
) -> None:
    page.goto(live_server + "/form")
    page.select_option("#type", "access")
    page.select_option("#service", "uno")
    # 우노 collected birth dates: the birth date is asked, the yes/no question is not.
    assert page.is_visible("#subject_birth_date")
    assert not page.is_visible("#subject_under_14")
    page.select_option("#service", "webersoft")
    # 위버소프트 never collected one (law rule 20): the question takes its place.
    assert not page.is_visible("#subject_birth_date")
    assert page.is_visible("#subject_under_14")
    assert "만 14세 미만입니까?" in page.inner_text("#subject_under_14")
    page.fill("#subject_name", "정의사")
    page.fill("#subject_email", "doctor.jung@example.com")
    page.check("#subject_under_14_yes")
    shot(page, "06b-under-14-question")
    page.click("button[type=submit]")
    assert "법정대리인" in page.inner_text("#relationship-error")
    assert page.is_checked("#subject_under_14_yes")  # the answer is kept
    shot(page, "06c-under-14-guidance")
    page.check("#subject_under_14_no")
    page.click("button[type=submit]")
    assert re.search(r"DSR-\d{4}-[0-9A-Z]{8}", page.inner_text("main"))
    shot(page, "06d-filed-without-birth-date")


def test_pages_fit_a_phone_screen(page: Page, live_server: str) -> None:
    """No horizontal scrolling at 360 px: the page is no wider than the viewport."""
    for path in ("/", "/form", "/status"):
        page.goto(live_server + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"


# --- every notice readable: an SMS-only requester reads forms No. 9 and 10 on a phone ----------


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
    assert "발송 완료" in text and "문자로는 안내문이 준비되었다는 알림만" in text
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


# --- nothing lost, a lost code, 보완 요청 on the web ----------------------------------------------


def test_the_confirmation_goes_on_to_the_code_and_a_lost_code_comes_back(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    page.goto(live_server + "/form")
    fill_subject(page, birth="1990-05-01")
    page.click("button[type=submit]")
    reference = page.inner_text("main .receipt dd.code >> nth=0").strip()
    page.click("#go-verify button")
    # Straight on to the one-time code, without typing the reference and the code again.
    page.wait_for_selector("#code")
    assert "인증번호 입력" in page.inner_text("main")
    shot(page, "b1-status-from-confirmation")

    page.goto(live_server + "/status")
    assert page.get_attribute("#access_code", "type") == "text"  # shows what is typed
    page.click("text=확인코드를 잃어버렸어요")
    page.fill("#reference", reference.lower().replace("-", ""))
    page.fill("#contact", "KIM.GASANG@example.com")
    shot(page, "b2-lost-code-form")
    page.click("main button[type=submit]")
    assert "새 확인코드를 보내 드렸습니다" in page.inner_text("main")
    shot(page, "b3-lost-code-sent")
    Outbox(runtime).run_once()
    [eml] = runtime.settings.mail_dir.glob(f"{reference}-access_code-*.eml")
    new_code = mailed_code(eml)
    assert new_code not in page.content()
    page.click("text=새 확인코드로 조회하기")
    page.fill("#reference", reference)
    page.fill("#access_code", new_code.lower())
    page.click("main button[type=submit]")
    page.wait_for_selector("#timeline-h")
    assert "새 확인코드" in page.inner_text("section.notices")


def test_a_second_filing_too_soon_keeps_every_field(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    from app.core.limits import IntakeRateLimiter

    runtime.intake_limiter = IntakeRateLimiter(1, 600)
    page.goto(live_server + "/form")
    fill_subject(page, birth="1990-05-01")
    page.click("button[type=submit]")
    assert "접수되었습니다" in page.inner_text("main")
    page.goto(live_server + "/form")
    fill_subject(page, birth="1990-05-01")
    page.fill("#subject_name", "박가상")
    page.click("button[type=submit]")
    text = page.inner_text("main")
    assert "10분 뒤에 다시 제출해 주세요" in text
    assert page.input_value("#subject_name") == "박가상"
    assert page.input_value("#subject_email") == "kim.gasang@example.com"
    shot(page, "b4-form-too-soon")


def test_an_information_request_is_answered_on_the_status_page(
    page: Page, live_server: str, client: TestClient, staff_headers: Headers, tmp_path: Path
) -> None:
    body = {
        "type": "access",
        "service": "uno",
        "subject": {"name": "김어린", "birth_date": "2015-03-01"},
        "requester": {
            "name": "김부모",
            "birth_date": "1985-01-01",
            "email": "kim.bumo@example.com",
            "relationship": "legal_representative",
        },
    }
    created = client.post("/v1/requests", json=body).json()
    ref, staff = created["reference"], staff_headers()
    etag = client.get(f"/v1/staff/requests/{ref}", headers=staff).headers["etag"]
    asked = client.post(
        f"/v1/staff/requests/{ref}/info-requests",
        json={"message": "가족관계증명서를 보내 주세요.", "respond_by": "2026-12-20"},
        headers={**staff, "If-Match": etag},
    )
    assert asked.status_code == 200, asked.text
    page.goto(live_server + "/status")
    page.fill("#reference", ref)
    page.fill("#access_code", created["access_code"])
    page.click("main button[type=submit]")
    question = page.inner_text("#question")
    assert "가족관계증명서를 보내 주세요." in question and "2026년 12월 20일" in question
    shot(page, "b5-status-question")

    # A wrong file: the same page, the error beside the file, nothing to type again.
    memo = tmp_path / "memo.txt"
    memo.write_text("not a document", encoding="utf-8")
    page.set_input_files("#attachment_1", str(memo))
    page.click("#documents button[type=submit]")
    error = page.inner_text("#attachment_1-error")
    assert "파일 1" in error and "PDF" in error and "attachment" not in page.inner_text("main")
    assert page.get_attribute("#attachment_1", "aria-invalid") == "true"
    shot(page, "b6-status-wrong-file")

    page.fill("#reply", "서류는 우편으로 보냈습니다.")
    page.click("#question button[type=submit]")
    assert "답변을 보냈습니다" in page.inner_text("main")
    assert page.locator("#question").count() == 0
    shot(page, "b7-status-answered")
