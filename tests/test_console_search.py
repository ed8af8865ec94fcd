"""Search by subject (/staff/search and POST /v1/staff/search): exact matches through the
blind indexes (names normalised, phones in any spelling), reference prefixes, and every search
in the access log with its purpose and without the value searched."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.runtime import Runtime
from tests.conftest import request_body, subject
from tests.console_helpers import csrf_of, session_cookie
from tests.factories import file

TODAY = "2026-12-15"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"console_cookie_secure": False}


def _browser(client: TestClient, runtime: Runtime, role: str = "security") -> TestClient:
    browser = TestClient(client.app)
    browser.cookies.set("rd_staff", session_cookie(runtime, f"{role} 검색", role), path="/staff")
    return browser


def _search(browser: TestClient, **fields: str) -> Any:
    form = browser.get("/staff/search")
    assert form.status_code == 200, form.text
    return browser.post("/staff/search", data={"csrf_token": csrf_of(form.text), **fields})


def _three_people(client: TestClient) -> dict[str, str]:
    kim = file(client, request_body()).json()["reference"]
    kim_again = file(client, request_body(type="deletion")).json()["reference"]
    lee = file(
        client,
        request_body(subject=subject(name="이가상", email="lee.gasang@example.com",
                                     phone="010-3000-0003")),
    ).json()["reference"]  # fmt: skip
    return {"kim": kim, "kim_again": kim_again, "lee": lee}


def test_a_search_by_email_finds_every_request_of_that_subject_and_nobody_else(
    client: TestClient, runtime: Runtime
) -> None:
    refs = _three_people(client)
    with _browser(client, runtime) as browser:
        found = _search(
            browser, by="email", value=" KIM.Gasang@example.com ", purpose="중복 요구 확인"
        )
    assert found.status_code == 200, found.text
    assert refs["kim"] in found.text and refs["kim_again"] in found.text
    assert refs["lee"] not in found.text
    assert "찾은 요청 2건" in found.text and "정보주체" in found.text
    # Each result opens the request's page.
    assert f'href="/staff/requests/{refs["kim"]}"' in found.text


def test_names_match_whatever_the_spacing_and_phones_whatever_the_spelling(
    client: TestClient, runtime: Runtime
) -> None:
    refs = _three_people(client)
    with _browser(client, runtime) as browser:
        by_name = _search(browser, by="name", value="  이가상 ", purpose="민원 전화 응대")
        by_phone = _search(browser, by="phone", value="+82 10 3000 0003", purpose="민원 전화 응대")
        partial = _search(browser, by="email", value="kim.gasang", purpose="민원 전화 응대")
    assert refs["lee"] in by_name.text and refs["kim"] not in by_name.text
    assert refs["lee"] in by_phone.text and "찾은 요청 1건" in by_phone.text
    # Only exact values: part of an address finds nothing.
    assert "찾은 요청 0건" in partial.text and "일치하는 요청이 없습니다" in partial.text


def test_a_reference_prefix_finds_the_requests_it_starts(
    client: TestClient, runtime: Runtime
) -> None:
    refs = _three_people(client)
    with _browser(client, runtime, "agent") as browser:
        found = _search(browser, by="reference", value=refs["lee"][:-2].lower(), purpose="확인")
        none = _search(browser, by="reference", value="DSR-ZZZZ", purpose="확인")
    assert refs["lee"] in found.text
    assert "찾은 요청 0건" in none.text


def test_a_search_without_a_purpose_is_refused_beside_the_field_and_not_run(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    _three_people(client)
    with _browser(client, runtime) as browser:
        refused = _search(browser, by="email", value="kim.gasang@example.com", purpose="")
        unknown = _search(browser, by="rrn", value="900501", purpose="확인")
        blank = _search(browser, by="name", value="   ", purpose="확인")
    assert refused.status_code == 422
    assert "조회 목적을 2~100자로 입력하세요" in refused.text and "찾은 요청" not in refused.text
    assert unknown.status_code == 422 and "무엇으로 찾을지 고르세요" in unknown.text
    assert blank.status_code == 422 and "찾을 값을 200자 이내로 입력하세요" in blank.text
    officer = staff_headers("officer")
    log = client.get(
        "/v1/staff/audit/access-log", params={"from": TODAY, "to": TODAY}, headers=officer
    ).json()["items"]
    assert not [r for r in log if r["action"].startswith("subject_search")]


def test_every_search_is_in_the_access_log_with_its_purpose_and_never_the_value(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    _three_people(client)
    with _browser(client, runtime) as browser:
        _search(browser, by="email", value="kim.gasang@example.com", purpose="중복 요구 확인")
    officer = staff_headers("officer")
    log = client.get(
        "/v1/staff/audit/access-log", params={"from": TODAY, "to": TODAY}, headers=officer
    )
    searches = [r for r in log.json()["items"] if r["action"].startswith("subject_search")]
    assert [(r["staff"], r["purpose"]) for r in searches] == [("security 검색", "중복 요구 확인")]
    assert "by=email; 2 rows" in searches[0]["action"]
    assert "kim.gasang" not in log.text


def test_the_api_twin_answers_the_same_and_needs_a_role_that_reads_requests(
    client: TestClient, staff_headers: Any
) -> None:
    refs = _three_people(client)
    body = {"by": "email", "value": "kim.gasang@example.com", "purpose": "API 조회"}
    agent = client.post("/v1/staff/search", json=body, headers=staff_headers("agent"))
    assert agent.status_code == 200, agent.text
    items = agent.json()["items"]
    assert {i["reference"] for i in items} == {refs["kim"], refs["kim_again"]}
    assert {i["matched"] for i in items} == {"subject"} and agent.json()["truncated"] is False
    admin = client.post("/v1/staff/search", json=body, headers=staff_headers("admin"))
    assert admin.status_code == 403
    bad = client.post(
        "/v1/staff/search", json={**body, "by": "birth_date"}, headers=staff_headers("agent")
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "by"


def test_an_admin_cannot_open_the_search_page(client: TestClient, runtime: Runtime) -> None:
    with _browser(client, runtime, "admin") as browser:
        page = browser.get("/staff/search")
    assert page.status_code == 403 and "권한이 없습니다" in page.text
