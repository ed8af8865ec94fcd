"""The web form in a real browser: headless Chromium (Debian) driven by Playwright, against
the app served by uvicorn. Screenshots of every page land in test-artifacts/."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page
from sqlmodel import Session, col, select

from app.models.clinic import ClinicForward
from app.models.task import Task
from app.runtime import Runtime
from app.services.clinics import forwarding
from app.services.notices.outbox import Outbox
from app.services.tasks.links import link_token
from tests.browser import browser, screenshot  # noqa: F401  (the browser fixture)
from tests.conftest import Clock, mailed_code, request_body
from tests.console_helpers import PASSWORD, new_link
from tests.factories import (
    DELETION_WITH_RECORDS,
    FORM_STEP,
    WITHHELD_REASON,
    Case,
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


def choose(page: Page, rtype: str = "access", service: str = "uno", who: str = "self") -> None:
    """The first step: the right, the service and who files, then "다음"."""
    page.check(f"#type_{rtype}")
    page.check(f"#service_{service}")
    page.check(f"#relationship_{who}")
    page.click("button[type=submit]")
    page.wait_for_selector("#chosen-h")


def fill_subject(page: Page, *, birth: str) -> None:
    page.fill("#subject_name", "김가상")
    page.fill("#subject_birth_date", birth)
    page.fill("#subject_email", "kim.gasang@example.com")


def test_subject_files_verifies_and_follows(page: Page, live_server: str, runtime: Runtime) -> None:
    page.goto(live_server + "/")
    assert "열람" in page.content() and "정보보안팀" in page.content()
    shot(page, "01-landing")
    page.click("a[href='/form']")
    assert page.url.endswith("/form")
    shot(page, "02a-form-choose")
    choose(page)
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
    assert "우노의 모든 항목" in text  # what was received, echoed back
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
    choose(page)
    fill_subject(page, birth="2013-06-01")
    page.click("button[type=submit]")
    error = page.locator("#relationship-error")
    # The guidance names the control on this very page, and it is right there.
    assert "'누가 신청하나요?'" in error.inner_text()
    assert page.get_attribute("#relationship", "aria-invalid") == "true"
    assert page.input_value("#subject_name") == "김가상"  # nothing typed is lost
    shot(page, "06-child-guidance")
    page.select_option("#relationship", "legal_representative")
    page.click("button[type=submit]")
    # Now filed by a parent: the parent's fields appear, the child's are still filled.
    assert page.is_visible("#requester_name")
    assert page.input_value("#subject_birth_date") == "2013-06-01"
    assert not page.is_visible("#signed_on")  # no 위임장 for a parent


def test_a_service_without_birth_dates_asks_under_14_on_the_form(
    page: Page, live_server: str
) -> None:
    page.goto(live_server + "/form")
    choose(page)
    # 우노 collected birth dates: the birth date is asked, the yes/no question is not.
    assert page.is_visible("#subject_birth_date")
    assert not page.is_visible("#subject_under_14")
    page.click("text=선택한 내용 바꾸기")
    assert page.is_checked("#type_access") and page.is_checked("#relationship_self")
    page.check("#service_webersoft")
    page.click("button[type=submit]")
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
    for path in (
        "/",
        "/form",
        "/form?type=correction&service=uno&relationship=delegate",
        "/status",
    ):
        page.goto(live_server + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"


def page_height(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollHeight"))


def test_a_self_filers_access_request_is_short_on_a_phone(page: Page, live_server: str) -> None:
    """Issue 20: at 360 px no step of a self-filer's access request is taller than 2,000 px."""
    page.goto(live_server + "/form")
    heights = {"choose": page_height(page)}
    choose(page)
    heights["details"] = page_height(page)
    shot(page, "07-self-access-step2")
    text = page.inner_text("main")
    for other in ("위임장", "정정할 항목", "신청인 성명"):
        assert other not in text, other
    if page.width_name == "phone":  # type: ignore[attr-defined]
        assert max(heights.values()) <= 2000, heights


def test_each_case_shows_only_its_sections(page: Page, live_server: str) -> None:
    page.goto(live_server + "/form")
    choose(page, "deletion", "uno", "self")
    # A deletion: no access scope, no way of receiving an access result, no 위임장.
    for absent in ("#access_scope", "#delivery", "#signed_on", "#requester_name"):
        assert page.locator(absent).count() == 0, absent
    # Only the chosen service's items, and what ticking none means, said on the page.
    values = page.locator("input[name=items]").evaluate_all("els => els.map(e => e.value)")
    assert values and all(v.startswith("uno:") for v in values)
    assert "모든 항목" in page.inner_text("#items-hint")
    shot(page, "08-self-deletion")

    page.goto(live_server + "/form")
    choose(page, "correction", "uno", "delegate")
    text = page.inner_text("main")
    assert text.count("정보주체와의 관계") == 1
    assert page.is_visible("#signed_on") and page.is_visible("#requester_name")
    assert page.is_visible("#correction_item") and page.locator("#delivery").count() == 0
    # The item to correct is one of the chosen service's.
    options = page.locator("#correction_item option").evaluate_all(
        "els => els.map(e => e.textContent)"
    )
    assert "담당자 이름" in options and len(options) == len(values) + 1
    shot(page, "09-delegate-correction")


def test_the_first_step_says_what_is_missing(page: Page, live_server: str) -> None:
    page.goto(live_server + "/form?type=objection")
    page.check("#type_deletion")
    page.click("button[type=submit]")
    summary = page.inner_text(".summary")
    assert "서비스" in summary and "누가 신청" in summary
    assert page.is_checked("#type_deletion")  # what was chosen stays chosen
    shot(page, "10-choose-missing")


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


def test_an_automated_decision_explanation_is_chosen_and_filed_on_a_phone(
    phone: Page, live_server: str
) -> None:
    """Art. 37-2 at 360 px: the right chosen on step 1, the decision (or 모름) on step 2, no
    item list, no sideways scrolling, and the decision echoed on the confirmation."""
    phone.goto(live_server + "/form")
    choose(phone, "automated_decision_explanation", "uno", "self")
    assert phone.locator("input[name=items]").count() == 0
    assert phone.is_checked("#automated_decision_unknown")  # 모름 until one is chosen
    phone.check("#automated_decision_member_restriction")
    overflow = phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the automated-decision step scrolls sideways by {overflow}px"
    screenshot(phone, "11-automated-decision-explanation-phone")
    fill_subject(phone, birth="1990-05-01")
    phone.fill("#details", "자동으로 정지된 이유를 설명해 주세요.")
    phone.click("button[type=submit]")
    text = phone.inner_text("main")
    assert "불량회원 이용 제한" in text and "자동화된 결정 설명" in text
    assert "2027년 1월 14일" in text  # 30 days: 12-16 + 29 = Thu 2027-01-14
    screenshot(phone, "11b-automated-decision-filed-phone")


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


# --- accessibility: focus visible, errors reachable, an axe-core scan of every page -------------

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
  }));
}"""


@pytest.fixture(params=sorted(WIDTHS))
def scanned(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:  # noqa: F811
    """A page whose context lets the test inject axe-core past the app's CSP (the app
    itself runs no script)."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make install` (npm ci; .ci/run installs npm)")
    width = WIDTHS[request.param]
    context = browser.new_context(
        viewport={"width": width, "height": 900}, locale="ko-KR", bypass_csp=True
    )
    p = context.new_page()
    p.set_default_timeout(10_000)
    p.width_name = request.param  # type: ignore[attr-defined]
    yield p
    context.close()


def axe_scan(page: Page, name: str) -> None:
    """No serious or critical violation on the page as it stands; a screenshot of it."""
    shot(page, f"axe-{name}")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(AXE_RUN)
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {bad}"


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two CSS rgb()/rgba() colours."""

    def luminance(css: str) -> float:
        r, g, b_ = (int(x) / 255 for x in re.findall(r"\d+(?:\.\d+)?", css)[:3])
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b_)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


FOCUS_RING = """sel => {
  const el = document.querySelector(sel);
  el.focus();
  const s = getComputedStyle(el);
  return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor};
}"""


def test_focus_is_visible_at_3_to_1(scanned: Page, live_server: str) -> None:
    page = scanned
    page.goto(live_server + "/form")  # step 1: the right, the service, who files
    ring = page.evaluate(FOCUS_RING, "input[name=type]")
    assert ring["style"] == "solid" and ring["width"] >= 2, ("step 1", ring)
    page.goto(live_server + FORM_STEP)
    for selector in ("a[href='/status']", "#subject_name", "button[type=submit]"):
        ring = page.evaluate(FOCUS_RING, selector)
        assert ring["style"] == "solid" and ring["width"] >= 2, (selector, ring)
        # The ring sits 2 px outside the control, on the page's white and on tinted boxes.
        for background in ("rgb(255, 255, 255)", "rgb(238, 244, 252)", "rgb(255, 244, 229)"):
            assert contrast(ring["color"], background) >= 3, (selector, ring, background)
    page.focus("a[href='/status']")
    shot(page, "focus-ring")


def active_is_summary(page: Page) -> bool:
    """The browser moves focus to an autofocus element when it next renders: wait for it."""
    page.wait_for_function("document.activeElement.classList.contains('summary')")
    return True


def test_a_failed_submit_moves_focus_to_the_error_summary(scanned: Page, live_server: str) -> None:
    page = scanned
    page.goto(live_server + FORM_STEP)
    fill_subject(page, birth="2013-06-01")
    page.click("button[type=submit]")
    assert active_is_summary(page)
    # Every error names its field: the input points at its message.
    for error in page.locator("p.error").all():
        field_id = (error.get_attribute("id") or "").removesuffix("-error")
        described = page.get_attribute(f"#{field_id}", "aria-describedby") or ""
        assert f"{field_id}-error" in described.split(), field_id
    # The summary's links lead to the fields.
    for href in page.locator(".summary a").evaluate_all("els => els.map(a => a.hash)"):
        assert page.locator(href).count() == 1, href
    shot(page, "error-summary-focused")

    page.goto(live_server + "/status")
    page.fill("#reference", "DSR-2612-ZZZZZZZZ")
    page.fill("#access_code", "AAAA-AAAA-AAAA")
    page.click("button[type=submit]")
    assert active_is_summary(page)
    assert "access_code-error" in (page.get_attribute("#access_code", "aria-describedby") or "")


def look_up(page: Page, live_server: str, reference: str, access_code: str) -> None:
    page.goto(live_server + "/status")
    page.fill("#reference", reference)
    page.fill("#access_code", access_code)
    page.click("button[type=submit]")
    page.wait_for_selector("#timeline-h")


def test_no_page_has_a_serious_accessibility_violation(
    scanned: Page,
    live_server: str,
    client: TestClient,
    staff_headers: Headers,
    runtime: Runtime,
) -> None:
    page = scanned
    page.goto(live_server + "/")
    axe_scan(page, "landing")
    page.goto(live_server + "/form")
    axe_scan(page, "form-step-1")
    page.click("button[type=submit]")  # nothing chosen: the step says what is missing
    axe_scan(page, "form-step-1-errors")
    page.goto(live_server + "/form?type=automated_decision_review&service=uno&relationship=self")
    axe_scan(page, "form-automated-decision")  # art. 37-2: the decision radios, the views
    page.goto(live_server + FORM_STEP)
    axe_scan(page, "form")
    fill_subject(page, birth="2013-06-01")
    page.click("button[type=submit]")
    axe_scan(page, "form-errors")
    page.select_option("#relationship", "self")
    page.fill("#subject_birth_date", "1990-05-01")
    page.click("button[type=submit]")
    reference = re.search(r"DSR-\d{4}-[0-9A-Z]{8}", page.inner_text("main"))
    assert reference
    access_code = page.inner_text("#access-code").strip()
    axe_scan(page, "confirmation")

    page.goto(live_server + "/status")
    axe_scan(page, "status-lookup")
    page.fill("#reference", reference.group(0))
    page.fill("#access_code", "AAAA-AAAA-AAAA")
    page.click("button[type=submit]")
    axe_scan(page, "status-lookup-error")
    look_up(page, live_server, reference.group(0), access_code)
    axe_scan(page, "status")
    page.fill("#code", "000000")
    page.click("#verify-h ~ form button[type=submit] >> nth=0")
    axe_scan(page, "status-code-error")
    page.check("#withdraw")
    page.click("#withdraw-h ~ form button[type=submit] >> nth=0")
    axe_scan(page, "withdrawn")

    # A decided request: the notices in full, the package and the objection form.
    access = sms_only(client, staff_headers, items=["manager_name", "access_records"])
    partial_access(access)
    outbox = Outbox(runtime)
    while outbox.run_once():
        pass
    look_up(page, live_server, access.ref, access.code)
    axe_scan(page, "status-decided")

    # The refusals: a post without its form token, and a filled honeypot.
    page.goto(live_server + "/status")
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.fill("#reference", access.ref)
    page.fill("#access_code", access.code)
    page.click("button[type=submit]")
    assert "다시 열어" in page.inner_text("main")
    axe_scan(page, "forbidden")
    page.goto(live_server + FORM_STEP)
    fill_subject(page, birth="1990-05-01")
    page.evaluate("document.querySelectorAll('.hp input').forEach(i => i.value = 'x')")
    page.click("button[type=submit]")
    axe_scan(page, "honeypot")


def test_the_processors_confirmation_pages_pass_the_scan_too(
    scanned: Page,
    live_server: str,
    client: TestClient,
    staff_headers: Headers,
    runtime: Runtime,
    db: Session,
) -> None:
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    case.decide_and_approve()
    [task, *_] = db.exec(select(Task).order_by(col(Task.id))).all()
    token = link_token(runtime, task, now=runtime.clock())
    scanned.goto(f"{live_server}/tasks/confirm?token={token}")
    assert case.ref in scanned.inner_text("main")
    axe_scan(scanned, "task-confirm")
    scanned.goto(live_server + "/tasks/confirm?token=not-a-token")
    axe_scan(scanned, "task-confirm-unusable")


def test_the_clinics_page_fits_and_passes_the_scan_at_each_width(
    scanned: Page,
    live_server: str,
    client: TestClient,
    staff_headers: Headers,
    runtime: Runtime,
    db: Session,
) -> None:
    """Processor mode (art. 26(8)): the clinic confirms receipt and instructs on a page with
    no script, at 360 and 1280 px; a refusal without its reason comes back with the error."""
    clinic = {"code": "haneul_clinic", "name": "하늘피부과의원", "email": "privacy@haneul.example",
              "phone": "02-123-4567", "services": ["uno"]}  # fmt: skip
    made = client.post("/v1/staff/admin/clinics", json=clinic, headers=staff_headers("admin"))
    assert made.status_code == 201, made.text
    body = request_body(
        type="deletion", controller="haneul_clinic", details="진료기록도 지워 주세요"
    )
    ref = client.post("/v1/requests", json=body).json()["reference"]
    [forward] = db.exec(select(ClinicForward)).all()
    token = forwarding.link_token(runtime, forward, now=runtime.clock())
    scanned.goto(f"{live_server}/clinics/confirm?token={token}")
    main = scanned.inner_text("main")
    assert ref in main and "하늘피부과의원" in main and "의료법" in main
    width = scanned.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTHS[scanned.width_name]  # type: ignore[attr-defined]
    axe_scan(scanned, "clinic-confirm")
    scanned.check("#i_refuse")
    scanned.click("button[type=submit]")
    scanned.wait_for_selector("#error")
    assert "거절 사유" in scanned.inner_text("#error")
    axe_scan(scanned, "clinic-confirm-error")
    scanned.fill("#reason", "보존 의무 기간 중입니다.")
    scanned.click("button[type=submit]")
    scanned.wait_for_selector("text=병원의 지시를 받았습니다")
    axe_scan(scanned, "clinic-confirm-done")
    scanned.goto(live_server + "/clinics/confirm?token=not-a-token")
    axe_scan(scanned, "clinic-confirm-unusable")
    # The form's second step with the clinic choice the patient makes.
    scanned.goto(live_server + FORM_STEP)
    scanned.select_option("#controller", "haneul_clinic")
    axe_scan(scanned, "form-with-clinics")


# --- nothing lost, a lost code, 보완 요청 on the web ----------------------------------------------


def test_the_confirmation_goes_on_to_the_code_and_a_lost_code_comes_back(
    page: Page, live_server: str, runtime: Runtime
) -> None:
    page.goto(live_server + FORM_STEP)
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
    page.goto(live_server + FORM_STEP)
    fill_subject(page, birth="1990-05-01")
    page.click("button[type=submit]")
    assert "접수되었습니다" in page.inner_text("main")
    page.goto(live_server + FORM_STEP)
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


def test_the_lost_code_and_information_request_pages_pass_the_scan(
    scanned: Page, live_server: str, client: TestClient, staff_headers: Headers
) -> None:
    page = scanned
    page.goto(live_server + "/status/access-code")
    axe_scan(page, "access-code-lost")
    page.fill("#reference", "DSR-2612-ZZZZZZZZ")
    page.fill("#contact", "nobody@example.com")
    page.click("main button[type=submit]")
    axe_scan(page, "access-code-sent")

    body = request_body()
    body["subject"] = {**body["subject"], "birth_date": "1990-05-01"}
    created = client.post("/v1/requests", json=body).json()
    ref, staff = created["reference"], staff_headers()
    etag = client.get(f"/v1/staff/requests/{ref}", headers=staff).headers["etag"]
    asked = client.post(
        f"/v1/staff/requests/{ref}/info-requests",
        json={"message": "재직증명서를 보내 주세요.", "respond_by": "2026-12-20"},
        headers={**staff, "If-Match": etag},
    )
    assert asked.status_code == 200, asked.text
    look_up(page, live_server, ref, created["access_code"])
    assert page.locator("#question").count() == 1
    axe_scan(page, "status-question")


# --- the staff console: enrolment, sign-in, the queue (1280 and 768 px) ---------------------

CONSOLE_WIDTHS = {"console-desktop": 1280, "console-tablet": 768}


@pytest.fixture(params=sorted(CONSOLE_WIDTHS))
def console(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:  # noqa: F811
    """A staff member's browser at a desk or tablet width; axe-core may be injected."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make install` (npm ci; .ci/run installs npm)")
    context = browser.new_context(
        viewport={"width": CONSOLE_WIDTHS[request.param], "height": 900},
        locale="ko-KR",
        bypass_csp=True,
    )
    p = context.new_page()
    p.set_default_timeout(10_000)
    p.width_name = request.param  # type: ignore[attr-defined]
    yield p
    context.close()


def test_staff_enrol_sign_in_with_a_code_and_work_the_queue(
    console: Page,
    live_server: str,
    client: TestClient,
    staff_headers: Headers,
    runtime: Runtime,
    clock: Clock,
) -> None:
    page = console
    waiting = client.post("/v1/requests", json=request_body()).json()["reference"]
    deletion = client.post("/v1/requests", json=request_body(type="deletion")).json()
    token = new_link(runtime, "보안 가상", "security")

    # Enrolment: the QR code and the key, a password, the app's first code.
    page.goto(f"{live_server}/staff/enrol?token={token}")
    assert page.locator(".qr svg").count() == 1
    axe_scan(page, "console-enrol")
    totp = pyotp.TOTP(page.inner_text("#secret").strip())
    page.fill("#password", "short")
    page.fill("#password_confirm", "short")
    page.fill("#code", totp.at(clock()))
    page.evaluate("document.querySelector('#password').removeAttribute('minlength')")
    page.click("main button[type=submit]")
    assert "12자 이상" in page.inner_text(".summary")
    axe_scan(page, "console-enrol-errors")
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.fill("#code", totp.at(clock()))
    page.click("main button[type=submit]")
    assert "등록을 마쳤습니다" in page.inner_text("main")
    axe_scan(page, "console-login")

    # Sign-in: a wrong password first, then the right one and a fresh code.
    page.fill("#name", "보안 가상")
    page.fill("#password", "not the password")
    page.click("main button[type=submit]")
    assert "맞지 않습니다" in page.inner_text(".summary")
    axe_scan(page, "console-login-error")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_selector("#code")
    axe_scan(page, "console-code")
    clock.advance(seconds=30)
    page.fill("#code", totp.at(clock()))
    page.click("main button[type=submit]")

    # The queue: what needs me (nothing assigned yet, so what nobody has picked up).
    page.wait_for_selector("table.queue")
    assert page.url == f"{live_server}/staff"
    text = page.inner_text("main")
    assert waiting in text and deletion["reference"] in text and "담당자 지정" in text
    cookie = next(c for c in page.context.cookies() if c["name"] == "rd_staff")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    axe_scan(page, "console-queue")
    page.click("text=전체")
    page.click("summary")
    page.select_option("#type", "deletion")
    page.click("form.filters button[type=submit]")
    assert page.locator("table.queue tbody tr").count() == 1
    axe_scan(page, "console-queue-filtered")
    page.goto(f"{live_server}/staff?view=all&due_before=2026-99-01")
    axe_scan(page, "console-queue-error")

    page.click("header button[type=submit]")  # 로그아웃
    assert "로그아웃했습니다" in page.inner_text("main")
    page.goto(f"{live_server}/staff")
    assert page.url.startswith(f"{live_server}/staff/login")


# --- the staff console: the tasks board and the dashboard (1280 and 768 px) -----------------


def _console_session(page: Page, live_server: str, runtime: Runtime, name: str, role: str) -> None:
    """A signed-in session for a staff member (the sign-in itself is tested above)."""
    from tests.console_helpers import session_cookie

    value = session_cookie(runtime, name, role)
    page.context.add_cookies([{"name": "rd_staff", "value": value, "url": f"{live_server}/staff"}])


def test_staff_work_the_tasks_board_with_evidence_and_read_the_dashboard(
    console: Page,
    live_server: str,
    client: TestClient,
    staff_headers: Headers,
    runtime: Runtime,
) -> None:
    page = console
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    case.decide_and_approve()
    first = case.tasks()["items"][0]
    _console_session(page, live_server, runtime, "보안 가상", "security")

    page.goto(f"{live_server}/staff/tasks")
    card = page.locator(f"#task-{first['id']}")
    assert case.ref in card.inner_text() and first["holder_name"] in card.inner_text()
    axe_scan(page, "console-tasks")

    # Failing without a reason: the error beside the reason box, in Korean.
    card.locator("summary", has_text="실패로 기록").click()
    card.locator("form[action='/staff/tasks/fail'] button[type=submit]").click()
    page.wait_for_selector(f"#t{first['id']}-fail-reason-error")
    assert page.locator(".summary").count() == 1
    axe_scan(page, "console-tasks-error")

    # Completing with the deletion report as evidence.
    card = page.locator(f"#task-{first['id']}")
    card.locator("summary", has_text="완료 기록").click()
    card.locator(f"#t{first['id']}-method-0").select_option("irreversible_deletion")
    card.locator(f"#t{first['id']}-note").fill("운영 DB에서 영구 삭제했습니다.")
    card.locator(f"#t{first['id']}-attachments").set_input_files(
        files=[
            {
                "name": "deletion-report.pdf",
                "mimeType": "application/pdf",
                "buffer": b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n",
            }
        ]
    )
    card.locator("form[action='/staff/tasks/complete'] button[type=submit]").click()
    page.wait_for_selector("p.note[role=status]")
    assert "작업을 완료로 기록했습니다." in page.inner_text("main")
    axe_scan(page, "console-tasks-done")
    done = case.task(first["holder_code"])
    assert done["status"] == "done" and len(done["evidence"]) == 1

    # The dashboard: the summary as figures and server-drawn charts, with the downloads.
    page.click("header nav >> text=현황판")
    assert page.locator("svg.chart").count() == 4
    assert page.locator("table.figures").count() == 3
    summary = client.get("/v1/staff/sla/summary", headers=case.agent).json()
    assert page.inner_text("#total-on_track") == str(summary["totals"]["on_track"])
    axe_scan(page, "console-dashboard")
    page.evaluate("document.querySelector('#register-to').type = 'text'")
    page.fill("#register-to", "2026-99-01")
    page.click("text=처리 대장 내려받기")
    page.wait_for_selector("#register-to-error")
    axe_scan(page, "console-dashboard-error")


# --- the staff console: one request's whole story, two staff members (1280 and 768 px) ------


def be(page: Page, live_server: str, runtime: Runtime, name: str, role: str) -> None:
    """The browser becomes a signed-in staff member (sign-in itself is walked above)."""
    from urllib.parse import urlsplit

    from tests.console_helpers import session_cookie

    page.context.clear_cookies()
    page.context.add_cookies(
        [
            {
                "name": "rd_staff",
                "value": session_cookie(runtime, name, role),
                "domain": urlsplit(live_server).hostname or "",
                "path": "/staff",
                "httpOnly": True,
                "sameSite": "Strict",
            }
        ]
    )


def state_purpose(page: Page, name: str) -> None:
    """The purpose asked before the request's personal data shows; scanned, then answered."""
    page.wait_for_selector("#purpose")
    assert "@example.com" not in page.inner_text("main")
    axe_scan(page, f"console-request-purpose-{name}")
    page.click("main button[type=submit]")
    page.wait_for_selector("#timeline")


def test_a_deletion_from_filing_to_certificate_in_the_console(
    console: Page, live_server: str, client: TestClient, runtime: Runtime, staff_headers: Headers
) -> None:
    page = console
    body = request_body(type="deletion", items=["manager_name", "contract_payment_records"])
    ref = client.post("/v1/requests", json=body).json()["reference"]

    # The security team opens it from the queue and matches the subject against the records.
    be(page, live_server, runtime, "보안 가상", "security")
    page.goto(f"{live_server}/staff?view=all")
    page.click(f'a[href="/staff/requests/{ref}"]')  # the row's reference link
    state_purpose(page, "security")
    assert "kim.gasang@example.com" in page.inner_text("#parties-h ~ dl")
    axe_scan(page, "console-request-identity")
    page.select_option("#identity-method", "account_record_match")
    page.click("#identity-form button[type=submit]")
    page.wait_for_selector("#decision-form")

    # A partial deletion: the payment records are kept; their record dates are asked for.
    page.check("#outcome-partially_granted")
    page.fill("#decision-reason", "결제 기록은 전자상거래법에 따라 5년간 보관합니다.")
    page.click("#decision-form button[type=submit]")
    assert "기록 없음" in page.inner_text(".summary")
    assert page.is_checked("#outcome-partially_granted")  # what was typed is kept
    axe_scan(page, "console-request-decision-errors")
    page.fill("#decision-record_dates-ecommerce_contract", "2025-11-20")
    page.check("#decision-record_dates-ecommerce_advertising-none")
    if page.locator("#decision-record_dates-ecommerce_complaint").count():
        page.check("#decision-record_dates-ecommerce_complaint-none")
    page.click("#decision-form button[type=submit]")
    page.wait_for_selector("text=결재 대기")
    assert page.locator("#approval").count() == 0  # the security team does not approve
    axe_scan(page, "console-request-drafted")

    # The officer approves; a page opened before another change gets the stale-form page.
    be(page, live_server, runtime, "책임자 가상", "officer")
    page.goto(f"{live_server}/staff/requests/{ref}")
    state_purpose(page, "officer")
    security = staff_headers("security")
    url = f"/v1/staff/requests/{ref}"
    etag = client.get(url, headers=security).headers["etag"]
    noted = client.patch(
        url, json={"note": "결재 전 확인 요청"}, headers={**security, "If-Match": etag}
    )
    assert noted.status_code == 200, noted.text
    page.check("#approval-yes")
    page.click("#approval button[type=submit]")
    assert "다른 사람이 이 요청을 바꿨습니다" in page.inner_text("h1")
    axe_scan(page, "console-request-stale")
    page.click("text=최신 내용으로 다시 열기")
    page.check("#approval-yes")
    page.click("#approval button[type=submit]")
    page.wait_for_selector("#tasks form")
    axe_scan(page, "console-request-tasks")

    # Every holder's task completed in the console, then the certificate.
    while page.locator("#tasks form").count():
        page.click("#tasks form >> nth=0 >> button[type=submit]")
        page.wait_for_selector("text=처리했습니다")
    assert "완료" in page.inner_text(".lead")
    axe_scan(page, "console-request-completed")
    page.click("text=처리 확인서 보기")
    page.wait_for_selector("text=" + ref)
    axe_scan(page, "console-request-certificate")
    page.goto(f"{live_server}/staff/requests/DSR-2612-AAAAAAAA")
    assert "요청을 찾을 수 없습니다" in page.inner_text("main")
    axe_scan(page, "console-request-not-found")


# --- the staff console: search by subject, duplicates, bulk actions (1280 and 768 px) --------


def test_staff_search_duplicates_and_a_bulk_action_pass_the_scan(
    console: Page, live_server: str, client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    from urllib.parse import urlsplit

    from tests.console_helpers import session_cookie

    page = console
    first = client.post("/v1/requests", json=request_body()).json()["reference"]
    again = client.post("/v1/requests", json=request_body()).json()["reference"]
    other = client.post("/v1/requests", json=request_body(type="deletion")).json()["reference"]
    host = urlsplit(live_server).hostname or "127.0.0.1"
    value = session_cookie(runtime, "보안 찾기", "security")
    page.context.add_cookies(
        [{"name": "rd_staff", "value": value, "domain": host, "path": "/staff",
          "httpOnly": True, "sameSite": "Strict"}]
    )  # fmt: skip

    # Search by subject: the form asks for the purpose; the results list both requests.
    page.goto(f"{live_server}/staff/search")
    axe_scan(page, "console-search")
    page.fill("#value", "kim.gasang@example.com")
    page.click("main button[type=submit]")
    assert "조회 목적" in page.inner_text(".summary")
    axe_scan(page, "console-search-errors")
    page.fill("#purpose", "중복 요구 확인")
    page.click("main button[type=submit]")
    found = page.inner_text("main")
    assert first in found and again in found and "찾은 요청 3건" in found
    axe_scan(page, "console-search-results")

    # The duplicate flag raised at filing.
    page.goto(f"{live_server}/staff/duplicates")
    assert again in page.inner_text("main") and first in page.inner_text("main")
    axe_scan(page, "console-duplicates")

    # Bulk: assign three, one of which someone changes after the queue was read.
    page.goto(f"{live_server}/staff?view=all")
    for ref in (first, again, other):
        page.check(f"#sel-{ref}")
    page.check("#action-note")
    page.fill("#note-bulk", "일괄 확인: 같은 분의 요청")
    security = staff_headers("security")
    etag = client.get(f"/v1/staff/requests/{other}", headers=security).headers["etag"]
    client.patch(
        f"/v1/staff/requests/{other}",
        json={"note": "전화 문의 있음"},
        headers={**security, "If-Match": etag},
    )
    page.click("form.bulk button[type=submit]")
    result = page.inner_text("main")
    assert "3건 중 2건 처리, 1건 실패" in result and "그사이 다른 사람이" in result
    axe_scan(page, "console-bulk-result")
