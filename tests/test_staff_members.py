"""People to assign to: the staff directory, and tasks that follow their request's assignee."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.factories import Case

Headers = Callable[..., dict[str, str]]


def _me(client: TestClient, headers: dict[str, str]) -> int:
    return int(client.get("/v1/staff/me", headers=headers).json()["staff_id"])


def test_every_role_lists_the_members_and_only_admin_sees_the_admin_fields(
    client: TestClient, staff_headers: Headers
) -> None:
    headers = {r: staff_headers(r, name=f"{r} 직원") for r in ("agent", "security", "officer")}
    admin = staff_headers("admin", name="관리자")
    for who in headers.values():
        page = client.get("/v1/staff/members", headers=who)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["next_cursor"] is None
        by_name = {m["name"]: m for m in body["items"]}
        assert set(by_name) == {"agent 직원", "security 직원", "officer 직원", "관리자"}
        assert by_name["security 직원"] == {
            "id": _me(client, headers["security"]),
            "name": "security 직원",
            "role": "security",
            "active": True,
        }
    admin_view = client.get("/v1/staff/members", headers=admin).json()["items"]
    assert all({"email", "created_at", "revoked_at"} <= set(m) for m in admin_view)


def test_members_filter_by_role_and_a_wrong_role_names_the_roles(
    client: TestClient, staff_headers: Headers
) -> None:
    agent = staff_headers("agent")
    staff_headers("officer")
    officers = client.get("/v1/staff/members?role=officer", headers=agent).json()["items"]
    assert [m["role"] for m in officers] == ["officer"]
    wrong = client.get("/v1/staff/members?role=boss", headers=agent)
    assert wrong.status_code == 422
    [error] = wrong.json()["errors"]
    assert error["field"] == "role" and error["code"] == "invalid_choice"
    assert error["allowed"] == ["agent", "security", "officer", "admin"]
    assert "agent, security, officer, admin" in error["message"]


def test_tasks_open_with_the_requests_assignee_and_follow_a_reassignment(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    agent_id = _me(client, case.agent)
    assigned = client.patch(
        case.url, json={"assignee": agent_id}, headers={**case.agent, "If-Match": case.etag()}
    )
    assert assigned.status_code == 200, assigned.text
    case.decide_and_approve()
    holders = {t["holder_code"] for t in case.tasks()["items"]}
    assert len(holders) >= 2
    mine = client.get("/v1/staff/tasks?assignee=me", headers=case.agent).json()["items"]
    assert {t["holder_code"] for t in mine} == holders

    # One task handed to the security team member stays theirs; the rest follow the request.
    handler_id = _me(client, case.handler)
    aws = case.task("aws")
    kept = client.patch(
        f"{case.url}/tasks/{aws['id']}",
        json={"assignee_id": handler_id},
        headers={**case.agent, "If-Match": case.etag()},
    )
    assert kept.status_code == 200, kept.text
    officer_id = _me(client, case.officer)
    moved = client.patch(
        case.url, json={"assignee": officer_id}, headers={**case.agent, "If-Match": case.etag()}
    )
    assert moved.status_code == 200, moved.text
    by_holder = {t["holder_code"]: t["assignee_id"] for t in case.tasks()["items"]}
    assert by_holder.pop("aws") == handler_id
    assert set(by_holder.values()) == {officer_id}
    assert client.get("/v1/staff/tasks?assignee=me", headers=case.agent).json()["items"] == []
    officers = client.get("/v1/staff/tasks?assignee=me", headers=case.officer).json()["items"]
    assert {t["holder_code"] for t in officers} == holders - {"aws"}


def test_the_task_queue_pages_like_the_request_queue(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="deletion", items=["admin_phone"])
    case.decide_and_approve()
    everything = client.get("/v1/staff/tasks", headers=case.agent).json()
    assert set(everything) == {"items", "next_cursor"} and everything["next_cursor"] is None
    seen, cursor = [], None
    while True:
        query = "/v1/staff/tasks?limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(query, headers=case.agent).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [t["id"] for t in everything["items"]] and len(seen) >= 2
    bad = client.get("/v1/staff/tasks?cursor=not-a-cursor", headers=case.agent)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
