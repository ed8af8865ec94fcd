"""The console's tasks board at /staff/tasks: the API's task queue across requests, filtered
by holder, assignee and overdue; complete with evidence, fail, reopen and (officer) waive,
each a CSRF form with its request's version; errors beside the field; stale forms told."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.runtime import Runtime
from tests.board_helpers import article, browser, form_fields, versions
from tests.conftest import Clock
from tests.factories import BOUNDARY, Case, browser_multipart, pdf_bytes


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"console_cookie_secure": False}


def _case(client: TestClient, staff_headers: Any, **body: Any) -> Case:
    body.setdefault("type", "deletion")
    if body["type"] == "deletion":
        body.setdefault("items", ["admin_phone"])
    case = Case(client, staff_headers, **body)
    case.decide_and_approve()
    return case


def _complete(b: TestClient, html: str, task_id: int, ref: str, method: dict[str, str],
              files: list[tuple[str, str, str, bytes]], **extra: str) -> Any:  # fmt: skip
    fields = form_fields(
        html, task_id, versions(html)[task_id], reference=ref, do="complete", **method, **extra
    )
    body, headers = browser_multipart(fields, files)
    return b.post("/staff/tasks/complete", content=body, headers=headers, follow_redirects=False)


def test_the_board_shows_open_and_overdue_tasks_across_requests_and_filters_them(
    client: TestClient, runtime: Runtime, staff_headers: Any, clock: Clock
) -> None:
    first = _case(client, staff_headers)
    second = _case(client, staff_headers, type="suspension")
    api = client.get("/v1/staff/tasks", headers=first.agent).json()["items"]
    with browser(client, runtime, "agent") as b:
        board = b.get("/staff/tasks")
        assert board.status_code == 200
        html = board.text
        # Every open task of both requests, each with its holder and request.
        assert set(versions(html)) == set() and html.count('class="task') == len(api)
        for t in api:
            card = article(html, t["id"])
            assert t["holder_name"] in card and t["reference"] in card
        assert first.ref in html and second.ref in html
        assert "완료 기록" not in html  # an agent reads the board; handling is not theirs
        assert "기한 초과" not in html

        holder = api[0]["holder_code"]
        only = b.get("/staff/tasks", params={"holder": holder}).text
        assert only.count('class="task') == sum(1 for t in api if t["holder_code"] == holder)

        bad = b.get("/staff/tasks", params={"assignee": "someone"})
        assert bad.status_code == 422 and 'id="assignee-error"' in bad.text

    clock.advance(days=11)  # past every task's due day (and the old session's idle time)
    with browser(client, runtime, "agent") as b:
        overdue = b.get("/staff/tasks", params={"overdue": "1"}).text
        assert overdue.count("기한 초과</strong>") == len(api)


def test_completing_with_evidence_records_the_methods_and_keeps_the_file(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    case = _case(client, staff_headers)
    task = case.tasks()["items"][0]
    with browser(client, runtime, "security") as b:
        html = b.get("/staff/tasks").text
        card = article(html, task["id"])
        assert "완료 기록 (증빙 첨부)" in card and 'name="method_deleted"' in card
        done = _complete(
            b, html, task["id"], case.ref, {"method_deleted": "irreversible_deletion"},
            [("attachments", "삭제-보고서.pdf", "application/pdf", pdf_bytes())],
            note="DB에서 영구 삭제했습니다.",
        )  # fmt: skip
        assert done.status_code == 303, done.text
        assert done.headers["location"].endswith(f"done=complete#task-{task['id']}")
        after = b.get(done.headers["location"]).text
        assert "작업을 완료로 기록했습니다." in after
    now = case.task(task["holder_code"])
    assert now["status"] == "done" and now["note"] == "DB에서 영구 삭제했습니다."
    assert now["performed"] == [{"action": "deleted", "method": "irreversible_deletion"}]
    assert len(now["evidence"]) == 1 and now["evidence"][0]["content_type"] == "application/pdf"
    assert now["completed_by"].startswith("staff:")


def test_a_method_the_law_does_not_accept_is_named_beside_its_field(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    case = _case(client, staff_headers)
    task = case.tasks()["items"][0]
    with browser(client, runtime, "security") as b:
        html = b.get("/staff/tasks").text
        refused = _complete(
            b, html, task["id"], case.ref, {"method_deleted": "separate_storage"}, []
        )
        assert refused.status_code == 422
        card = article(refused.text, task["id"])
        assert f'id="t{task["id"]}-method-0-error"' in card
        assert f'href="#t{task["id"]}-method-0"' in refused.text  # the summary links to it
        # Failing needs a reason: said beside the reason box of that form.
        fields = form_fields(html, task["id"], versions(html)[task["id"]], reference=case.ref,
                             do="fail", reason="")  # fmt: skip
        no_reason = b.post("/staff/tasks/fail", data=fields, follow_redirects=False)
        assert no_reason.status_code == 422
        assert f'id="t{task["id"]}-fail-reason-error"' in no_reason.text
    assert case.task(task["holder_code"])["status"] == "open"  # nothing was recorded


def test_a_wrong_file_is_refused_beside_the_file_input_and_nothing_is_done(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    case = _case(client, staff_headers)
    task = case.tasks()["items"][0]
    with browser(client, runtime, "security") as b:
        html = b.get("/staff/tasks").text
        refused = _complete(
            b, html, task["id"], case.ref, {"method_deleted": "irreversible_deletion"},
            [("attachments", "script.exe", "application/pdf", b"MZ\x90\x00not a pdf")],
        )  # fmt: skip
        assert refused.status_code in (415, 422), refused.text
        assert f'id="t{task["id"]}-attachments-error"' in refused.text
    now = case.task(task["holder_code"])
    assert now["status"] == "open" and now["evidence"] == []


def test_fail_reopen_and_the_officers_waiver(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    case = _case(client, staff_headers)
    task = case.tasks()["items"][0]
    tid = task["id"]
    with browser(client, runtime, "security") as b:
        html = b.get("/staff/tasks").text
        assert "면제 (개인정보 보호책임자)" not in html
        fields = form_fields(html, tid, versions(html)[tid], reference=case.ref, do="fail",
                             reason="수탁자가 응답하지 않습니다.")  # fmt: skip
        assert b.post("/staff/tasks/fail", data=fields, follow_redirects=False).status_code == 303
        assert case.task(task["holder_code"])["status"] == "failed"
        html = b.get("/staff/tasks").text
        assert "수탁자가 응답하지 않습니다." in article(html, tid)
        # The security team may not waive, even by posting the form.
        fields = form_fields(html, tid, versions(html)[tid], reference=case.ref, do="waive",
                             reason="면제")  # fmt: skip
        refused = b.post("/staff/tasks/waive", data=fields, follow_redirects=False)
        assert refused.status_code == 403 and "권한이 없습니다" in refused.text
        reopen = form_fields(html, tid, versions(html)[tid], reference=case.ref, do="reopen")
        assert b.post("/staff/tasks/reopen", data=reopen, follow_redirects=False).status_code == 303
        assert case.task(task["holder_code"])["status"] == "open"
    with browser(client, runtime, "officer") as b:
        html = b.get("/staff/tasks").text
        assert "면제 (개인정보 보호책임자)" in article(html, tid)
        fields = form_fields(html, tid, versions(html)[tid], reference=case.ref, do="waive",
                             reason="해당 시스템에 이 정보주체의 기록이 없습니다.")  # fmt: skip
        assert b.post("/staff/tasks/waive", data=fields, follow_redirects=False).status_code == 303
    waived = case.task(task["holder_code"])
    assert waived["status"] == "waived" and waived["reason"].startswith("해당 시스템에")


def test_a_stale_form_gets_the_someone_changed_this_request_page(
    client: TestClient, runtime: Runtime, staff_headers: Any, clock: Any
) -> None:
    case = _case(client, staff_headers)
    first = case.tasks()["items"][0]
    with browser(client, runtime, "security") as b:
        html = b.get("/staff/tasks").text
        # A minute later a colleague takes the request on through the API.
        clock.advance(minutes=1)
        me = client.get("/v1/staff/me", headers=case.handler).json()["staff_id"]
        taken = client.patch(
            case.url, json={"assignee": me}, headers={**case.handler, "If-Match": case.etag()}
        )
        assert taken.status_code == 200
        fields = form_fields(html, first["id"], versions(html)[first["id"]],
                             reference=case.ref, do="fail", reason="늦음")  # fmt: skip
        stale = b.post("/staff/tasks/fail", data=fields, follow_redirects=False)
        assert stale.status_code == 409
        assert "다른 사람이 이 요청을 바꿨습니다" in stale.text
        assert f"화면을 열 때 {versions(html)[first['id']]}" in stale.text
        assert "진행 중" in stale.text  # the task as it is now
        # What changed since the board was read, from the timeline.
        changes = stale.text[stale.text.index('id="changes-h"') :]
        assert "<li>" in changes[: changes.index("지금 상태")]
    assert case.task(first["holder_code"])["status"] == "open"


def test_a_form_without_its_csrf_token_changes_nothing(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    case = _case(client, staff_headers)
    task = case.tasks()["items"][0]
    with browser(client, runtime, "security") as b:
        html = b.get("/staff/tasks").text
        fields = form_fields(html, task["id"], versions(html)[task["id"]], reference=case.ref,
                             do="fail", reason="사유")  # fmt: skip
        fields["csrf_token"] = "forged"
        assert b.post("/staff/tasks/fail", data=fields).status_code == 403
        body, headers = browser_multipart(
            {**fields, "method_deleted": "irreversible_deletion"},
            [("attachments", "a.pdf", "application/pdf", pdf_bytes())],
        )
        assert b.post("/staff/tasks/complete", content=body, headers=headers).status_code == 403
    assert case.task(task["holder_code"])["status"] == "open"
    assert BOUNDARY  # the browser's multipart encoding
