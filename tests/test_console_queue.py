"""The staff console's queue at /staff: the API's filters and order, paged, each row with its
next step and who must take it; "needs me" by default; and the next-step rule itself."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.runtime import Runtime
from app.workflows.console_auth import safe_next
from app.workflows.next_step import Actor, NextStep, Step, needs, next_step
from tests.conftest import request_body
from tests.console_helpers import session_cookie
from tests.factories import ACCESS_TERMS, Desk, file

_REF = re.compile(r'<span class="code">(DSR-[A-Z0-9-]+)</span>')


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"console_cookie_secure": False, "console_page_size": 5}


def refs(html: str) -> list[str]:
    return _REF.findall(html)


def row_of(html: str, ref: str) -> str:
    start = html.index(ref)
    return html[start : html.index("</tr>", start)]


class Team:
    """Three staff members, each with an API token and a console session of their own."""

    def __init__(self, client: TestClient, runtime: Runtime, staff_headers: Any) -> None:
        self.client = client
        self.runtime = runtime
        self.headers = {
            role: staff_headers(role, name=f"{role} 가상")
            for role in ("agent", "security", "officer")
        }
        self.ids = {
            role: client.get("/v1/staff/me", headers=h).json()["staff_id"]
            for role, h in self.headers.items()
        }

    def page(self, role: str, url: str = "/staff") -> Any:
        cookie = session_cookie(self.runtime, f"{role} 가상", role)
        with TestClient(self.client.app) as browser:
            browser.cookies.set("rd_staff", cookie, path="/staff")
            return browser.get(url)

    def assign(self, ref: str, role: str) -> None:
        url = f"/v1/staff/requests/{ref}"
        h = self.headers["security"]
        etag = self.client.get(url, headers=h).headers["etag"]
        resp = self.client.patch(
            url, json={"assignee": self.ids[role]}, headers={**h, "If-Match": etag}
        )
        assert resp.status_code == 200, resp.text


def test_needs_me_is_the_default_and_shows_what_waits_on_each_person(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    team = Team(client, runtime, staff_headers)
    unassigned = file(client, request_body()).json()["reference"]
    mine = file(client, request_body(type="deletion")).json()["reference"]
    team.assign(mine, "security")
    agents = file(client, request_body()).json()["reference"]
    team.assign(agents, "agent")
    # A partial access drafted by the security team waits for the officer.
    desk = Desk(client, staff_headers, items=["manager_name", "access_records"])
    drafted = desk.staff_write(
        "decision",
        {
            "outcome": "partially_granted",
            "grounds": ["35-4-2"],
            "reason": "다른 직원의 기록이 함께 있어 그 부분은 제외합니다.",
            "items_granted": ["manager_name"],
            "items_withheld": ["access_records"],
            "access": ACCESS_TERMS,
        },
    )
    assert drafted.json()["status"] == "awaiting_approval", drafted.text

    security = team.page("security")
    assert security.status_code == 200
    assert 'aria-current="page">나에게 필요한 일' in security.text
    assert set(refs(security.text)) == {unassigned, mine}
    assert "본인 확인 검토" in row_of(security.text, mine)
    assert "담당자: security 가상" in row_of(security.text, mine)
    assert "담당자 지정" in row_of(security.text, unassigned)
    assert "처리팀 누구나" in row_of(security.text, unassigned)

    officer = team.page("officer")
    assert set(refs(officer.text)) == {unassigned, desk.ref}
    approval = row_of(officer.text, desk.ref)
    assert "결정 결재" in approval and "개인정보 보호책임자" in approval and "내 차례" in approval

    agent = team.page("agent")
    assert set(refs(agent.text)) == {unassigned, agents}

    everything = team.page("security", "/staff?view=all")
    assert set(refs(everything.text)) == {unassigned, mine, agents, desk.ref}
    assert "내 차례" not in row_of(everything.text, agents)


def test_the_filters_are_the_apis(client: TestClient, runtime: Runtime, staff_headers: Any) -> None:
    team = Team(client, runtime, staff_headers)
    access = file(client, request_body()).json()["reference"]
    deletion = file(client, request_body(type="deletion")).json()["reference"]
    team.assign(deletion, "security")
    for query, expected in (
        ("type=deletion", {deletion}),
        ("assignee=me", {deletion}),
        ("assignee=none", {access}),
        ("status=identity_pending&status=in_review", {access, deletion}),
        ("status=completed", set()),
        ("sla=overdue", set()),
        ("due_after=2026-12-28&due_before=2026-12-28", {access, deletion}),
        ("due_before=2026-12-01", set()),
        (f"q={deletion[:-2]}", {deletion}),
    ):
        page = team.page("security", f"/staff?view=all&{query}")
        assert page.status_code == 200, (query, page.text[:500])
        assert set(refs(page.text)) == expected, query
        api = client.get(f"/v1/staff/requests?{query}", headers=team.headers["security"])
        assert {i["reference"] for i in api.json()["items"]} == expected, query


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("due_before=2026-13-45", "due_before", "날짜"),
        ("status=lost", "status", "가능한 값"),
        ("assignee=somebody", "assignee", "me, none 또는 직원 번호"),
        ("cursor=not-a-cursor", "cursor", "첫 페이지부터"),
    ],
)
def test_a_bad_filter_is_named_beside_its_field(
    client: TestClient, runtime: Runtime, staff_headers: Any, query: str, field: str, message: str
) -> None:
    team = Team(client, runtime, staff_headers)
    page = team.page("security", f"/staff?view=all&{query}")
    assert page.status_code == 422
    summary = page.text[page.text.index('class="summary"') :]
    assert f'href="#{field}"' in summary and message in summary


def test_the_queue_is_sorted_by_legal_deadline_and_paged(
    client: TestClient, runtime: Runtime, staff_headers: Any, clock: Any
) -> None:
    team = Team(client, runtime, staff_headers)
    filed = []
    for _ in range(7):
        filed.append(file(client, request_body()).json()["reference"])
        clock.advance(days=1)
    first = team.page("security", "/staff?view=all")
    assert refs(first.text) == filed[:5]
    assert "다음 페이지 있음" in first.text
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert next_url
    second = team.page("security", next_url.group(1).replace("&amp;", "&"))
    assert refs(second.text) == filed[5:]
    assert 'rel="next"' not in second.text and "첫 페이지" in second.text


def test_admin_signs_in_but_sees_no_requests(client: TestClient, runtime: Runtime) -> None:
    file(client, request_body())
    with TestClient(client.app) as browser:
        browser.cookies.set(
            "rd_staff", session_cookie(runtime, "관리자 가상", "admin"), path="/staff"
        )
        resp = browser.get("/staff")
    assert resp.status_code == 403 and "권한이 없습니다" in resp.text
    assert "DSR-" not in resp.text


# --- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "assigned", "tasks", "expected"),
    [
        ("identity_pending", False, 0, NextStep(Step.ASSIGN, Actor.TEAM)),
        ("identity_pending", True, 0, NextStep(Step.IDENTITY_REVIEW, Actor.ASSIGNEE)),
        ("in_review", True, 0, NextStep(Step.DECIDE, Actor.ASSIGNEE)),
        ("awaiting_requester", False, 0, NextStep(Step.REQUESTER_REPLY, Actor.REQUESTER)),
        ("postponed", True, 0, NextStep(Step.END_POSTPONEMENT, Actor.ASSIGNEE)),
        ("awaiting_approval", False, 0, NextStep(Step.APPROVE, Actor.OFFICER)),
        ("executing", True, 2, NextStep(Step.HOLDER_TASKS, Actor.HOLDERS)),
        ("executing", True, 0, NextStep(Step.FINISH, Actor.ASSIGNEE)),
        ("completed", True, 0, NextStep(Step.NONE, Actor.NOBODY)),
        ("withdrawn", False, 0, NextStep(Step.NONE, Actor.NOBODY)),
    ],
)
def test_next_step(status: str, assigned: bool, tasks: int, expected: NextStep) -> None:
    assert next_step(status, assigned=assigned, tasks_pending=tasks) == expected


def test_a_holder_past_its_due_day_makes_the_next_step_chasing_it() -> None:
    late = next_step("executing", assigned=True, tasks_pending=3, tasks_overdue=1)
    assert late == NextStep(Step.TASKS_OVERDUE, Actor.HOLDERS)
    # Still the assignee's to chase: it stays in their "needs me".
    assert needs(late, is_officer=False, is_assignee=True, may_triage=False)


def test_who_a_step_waits_on() -> None:
    approve = NextStep(Step.APPROVE, Actor.OFFICER)
    assert needs(approve, is_officer=True, is_assignee=False, may_triage=True)
    assert not needs(approve, is_officer=False, is_assignee=True, may_triage=True)
    assign = NextStep(Step.ASSIGN, Actor.TEAM)
    assert needs(assign, is_officer=False, is_assignee=False, may_triage=True)
    assert not needs(assign, is_officer=False, is_assignee=False, may_triage=False)
    reply = NextStep(Step.REQUESTER_REPLY, Actor.REQUESTER)
    assert not needs(reply, is_officer=True, is_assignee=True, may_triage=True)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/staff?view=all", "/staff?view=all"),
        ("/staff/requests/DSR-1", "/staff/requests/DSR-1"),
        ("//evil.example", "/staff"),
        ("/staffing", "/staff"),
        ("/staff/login/code", "/staff"),
        ("javascript:alert(1)", "/staff"),
        ("", "/staff"),
        (None, "/staff"),
    ],
)
def test_safe_next(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected
