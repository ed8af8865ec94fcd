"""Bulk actions on a queue selection (/staff/bulk): assign, note, 보완 요청 reminder, close
requests unverified too long (a setting, off by default); each request is its own write with
its own version, and the result page lists what failed and why."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.runtime import Runtime
from app.workflows.bulk import unverified_too_long
from app.workflows.lifecycle import Status
from tests.conftest import Clock, request_body
from tests.console_helpers import csrf_of, session_cookie
from tests.factories import file

_SEL = re.compile(r'name="selected" value="([^"]+)"')


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"console_cookie_secure": False, "unverified_close_after_days": 7}


def _browser(client: TestClient, runtime: Runtime, name: str, role: str) -> TestClient:
    browser = TestClient(client.app)
    browser.cookies.set("rd_staff", session_cookie(runtime, name, role), path="/staff")
    return browser


def _queue(browser: TestClient) -> tuple[str, dict[str, str]]:
    page = browser.get("/staff?view=all")
    assert page.status_code == 200, page.text
    values = {v.split("@")[0]: v for v in _SEL.findall(page.text)}
    return csrf_of(page.text), values


def _bulk(browser: TestClient, token: str, selected: list[str], **fields: str) -> Any:
    return browser.post("/staff/bulk", data={"csrf_token": token, "selected": selected, **fields})


def _detail(client: TestClient, ref: str, headers: dict[str, str]) -> Any:
    return client.get(f"/v1/staff/requests/{ref}", headers=headers).json()


def test_assigning_a_selection_reports_each_request_and_lists_a_stale_one_as_failed(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    security = staff_headers("security", name="보안 일괄")
    me = client.get("/v1/staff/me", headers=security).json()["staff_id"]
    refs = [file(client, request_body(type=t)).json()["reference"] for t in ("access", "deletion")]
    with _browser(client, runtime, "상담 일괄", "agent") as browser:
        token, values = _queue(browser)
        # Someone changes the second request after the queue was read.
        etag = client.get(f"/v1/staff/requests/{refs[1]}", headers=security).headers["etag"]
        client.patch(
            f"/v1/staff/requests/{refs[1]}",
            json={"note": "전화로 확인함"},
            headers={**security, "If-Match": etag},
        )
        done = _bulk(browser, token, [values[r] for r in refs], action="assign", assignee=str(me))
    assert done.status_code == 200, done.text
    assert "2건 중 1건 처리, 1건 실패" in done.text
    assert "처리하지 못한 요청 1건" in done.text and "그사이 다른 사람이" in done.text
    assert _detail(client, refs[0], security)["assignee"] == me
    assert _detail(client, refs[1], security)["assignee"] is None


def test_a_note_needs_its_text_and_nothing_is_done_without_it(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    security = staff_headers("security")
    ref = file(client, request_body()).json()["reference"]
    with _browser(client, runtime, "상담 메모", "agent") as browser:
        token, values = _queue(browser)
        empty = _bulk(browser, token, [values[ref]], action="note", note="  ")
        none = _bulk(browser, token, [], action="note", note="확인")
        done = _bulk(browser, token, [values[ref]], action="note", note="가족 대리 여부 확인 필요")
    assert empty.status_code == 422 and "남길 메모를 입력하세요" in empty.text
    assert none.status_code == 422 and "하나 이상 고르세요" in none.text
    assert done.status_code == 200 and "1건 중 1건 처리, 0건 실패" in done.text
    notes = _detail(client, ref, security)["internal_notes"]
    assert [n["note"] for n in notes] == ["가족 대리 여부 확인 필요"]


def test_a_reminder_goes_only_to_requests_awaiting_an_answer_once_a_day(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    security = staff_headers("security")
    waiting = file(client, request_body()).json()["reference"]
    other = file(client, request_body(type="deletion")).json()["reference"]
    etag = client.get(f"/v1/staff/requests/{waiting}", headers=security).headers["etag"]
    asked = client.post(
        f"/v1/staff/requests/{waiting}/info-requests",
        json={"message": "위임장 사본을 보내 주세요."},
        headers={**security, "If-Match": etag},
    )
    assert asked.status_code == 200, asked.text

    def info_notices() -> int:
        items = client.get(f"/v1/staff/requests/{waiting}/notices", headers=security).json()
        return sum(1 for n in items["items"] if n["kind"] == "info_request")

    before = info_notices()
    with _browser(client, runtime, "상담 독촉", "agent") as browser:
        token, values = _queue(browser)
        done = _bulk(browser, token, [values[waiting], values[other]], action="info_reminder")
        assert "2건 중 1건 처리, 1건 실패" in done.text
        assert "보완 요청에 대한 답을 기다리는 요청이 아닙니다" in done.text
        token, values = _queue(browser)
        _bulk(browser, token, [values[waiting]], action="info_reminder")
    assert info_notices() == before + 1
    events = [e["kind"] for e in _detail(client, waiting, security)["events"]]
    assert "info_request_reminded" in events


def test_closing_unverified_requests_after_the_set_days_sends_the_notice(
    client: TestClient, runtime: Runtime, staff_headers: Any, clock: Clock
) -> None:
    security = staff_headers("security")
    old = file(client, request_body()).json()["reference"]
    clock.advance(days=8)
    fresh = file(client, request_body(type="deletion")).json()["reference"]
    with _browser(client, runtime, "상담 종결", "agent") as browser:
        token, values = _queue(browser)
        refused = _bulk(browser, token, [values[old]], action="close_unverified")
        assert refused.status_code == 403
    with _browser(client, runtime, "보안 종결", "security") as browser:
        token, values = _queue(browser)
        done = _bulk(browser, token, [values[old], values[fresh]], action="close_unverified")
    assert done.status_code == 200
    assert "2건 중 1건 처리, 1건 실패" in done.text and "7일이 지나지 않았거나" in done.text
    assert _detail(client, old, security)["status"] == "rejected"
    assert _detail(client, fresh, security)["status"] == "identity_pending"
    notices = client.get(f"/v1/staff/requests/{old}/notices", headers=security).json()["items"]
    closing = [n for n in notices if n["kind"] == "identity_rejected"]
    assert closing and "7일이 지나도록 본인 확인" in closing[0]["body"]


def test_the_rule_of_unverified_too_long() -> None:
    from datetime import date

    d0, d7 = date(2026, 12, 1), date(2026, 12, 8)
    assert unverified_too_long(Status.IDENTITY_PENDING, None, d0, d7, 7)
    assert not unverified_too_long(Status.IDENTITY_PENDING, None, d0, date(2026, 12, 7), 7)
    assert not unverified_too_long(Status.IDENTITY_PENDING, None, d0, d7, None)  # off
    assert unverified_too_long(Status.AWAITING_REQUESTER, Status.IDENTITY_PENDING, d0, d7, 7)
    assert not unverified_too_long(Status.AWAITING_REQUESTER, Status.IN_REVIEW, d0, d7, 7)
    assert not unverified_too_long(Status.IN_REVIEW, None, d0, d7, 7)


class TestOffByDefault:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"console_cookie_secure": False}

    def test_closing_unverified_requests_is_off_without_the_setting(
        self, client: TestClient, runtime: Runtime, staff_headers: Any
    ) -> None:
        ref = file(client, request_body()).json()["reference"]
        with _browser(client, runtime, "보안 설정", "security") as browser:
            token, values = _queue(browser)
            refused = _bulk(browser, token, [values[ref]], action="close_unverified")
        assert refused.status_code == 422 and "UNVERIFIED_CLOSE_AFTER_DAYS" in refused.text
        assert _detail(client, ref, staff_headers("security"))["status"] == "identity_pending"
