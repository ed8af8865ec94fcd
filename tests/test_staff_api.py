"""The staff queue: tokens and roles, filing on a requester's behalf, filters, pages, detail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.staff import AccessLog
from tests.conftest import Clock, request_body
from tests.factories import assert_problem, delegate_body, file, staff_file

Headers = Callable[..., dict[str, str]]


def test_no_token_is_401_and_bad_token_is_401(client: TestClient) -> None:
    resp = client.get("/v1/staff/requests")
    assert_problem(resp, 401, "unauthenticated")
    assert resp.headers["www-authenticate"] == "Bearer"
    bad = client.get("/v1/staff/requests", headers={"Authorization": "Bearer rdk_nope"})
    assert_problem(bad, 401, "unauthenticated")


def test_admin_may_not_read_requests(client: TestClient, staff_headers: Headers) -> None:
    admin = staff_headers("admin")
    assert client.get("/v1/staff/me", headers=admin).json()["role"] == "admin"
    assert_problem(client.get("/v1/staff/requests", headers=admin), 403, "forbidden")
    assert_problem(staff_file(client, admin), 403, "forbidden")


@pytest.mark.parametrize("role", ["agent", "security", "officer"])
def test_case_handlers_read_the_queue(
    client: TestClient, staff_headers: Headers, role: str
) -> None:
    assert client.get("/v1/staff/requests", headers=staff_headers(role)).status_code == 200


def test_revoked_staff_lose_access(
    client: TestClient, staff_headers: Headers, runtime: Any
) -> None:
    from app.db import transaction
    from app.services.staff.accounts import revoke_staff

    headers = staff_headers("security", name="퇴사자")
    assert client.get("/v1/staff/requests", headers=headers).status_code == 200
    with transaction(runtime.engine) as session:
        assert revoke_staff(session, name="퇴사자", now=datetime.now(UTC)) == 1
    assert_problem(client.get("/v1/staff/requests", headers=headers), 401, "unauthenticated")


def test_letter_deadline_counts_from_when_it_arrived(
    client: TestClient, staff_headers: Headers
) -> None:
    resp = staff_file(client, staff_headers())
    assert resp.status_code == 201, resp.text
    # Arrived Thu 2026-12-10: day 10 is Sun 12-20 -> Mon 12-21.
    assert resp.json()["legal_deadline"] == "2026-12-21"
    item = client.get("/v1/staff/requests", headers=staff_headers()).json()["items"][0]
    assert item["channel"] == "letter"


def test_received_at_may_not_be_in_the_future(client: TestClient, staff_headers: Headers) -> None:
    resp = staff_file(client, staff_headers(), received_at="2026-12-16T09:00:00+09:00")
    assert_problem(resp, 422, "validation_error", "received_at")
    resp = staff_file(client, staff_headers(), received_at="2026-12-10T14:00:00")  # no offset
    assert_problem(resp, 422, "validation_error", "received_at")
    resp = staff_file(client, staff_headers(), channel="pigeon")
    assert_problem(resp, 422, "validation_error", "channel")


def _seed(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    """Four requests received on different days; returns reference by label."""
    refs = {}
    for label, day, rtype, service in [
        ("old", "2026-11-20", "access", "uno"),  # due 2026-11-30: overdue on 12-15
        ("soon", "2026-12-06", "deletion", "smartcrm"),  # due 2026-12-16: due soon
        ("fresh", "2026-12-15", "access", "webersoft"),  # due 2026-12-28: on track
        ("fresh2", "2026-12-15", "suspension", "uno"),
    ]:
        resp = staff_file(
            client, headers, type=rtype, service=service, received_at=f"{day}T09:00:00+09:00"
        )
        assert resp.status_code == 201, resp.text
        refs[label] = resp.json()["reference"]
    return refs


def _refs(resp: Any) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [i["reference"] for i in resp.json()["items"]]


def test_queue_is_ordered_by_deadline_with_sla(client: TestClient, staff_headers: Headers) -> None:
    h = staff_headers()
    refs = _seed(client, h)
    items = client.get("/v1/staff/requests", headers=h).json()["items"]
    assert [i["reference"] for i in items][:2] == [refs["old"], refs["soon"]]
    sla = {i["reference"]: i["sla"] for i in items}
    assert sla[refs["old"]] == "overdue"
    assert sla[refs["soon"]] == "due_soon"
    assert sla[refs["fresh"]] == "on_track"
    assert set(items[0]) >= {
        "reference",
        "type",
        "service",
        "channel",
        "status",
        "legal_deadline",
        "sla",
        "assignee",
    }


def test_queue_filters(client: TestClient, staff_headers: Headers) -> None:
    h = staff_headers()
    refs = _seed(client, h)

    def q(**params: Any) -> list[str]:
        return _refs(client.get("/v1/staff/requests", params=params, headers=h))

    assert q(sla="overdue") == [refs["old"]]
    assert q(sla="due_soon") == [refs["soon"]]
    assert set(q(sla="on_track")) == {refs["fresh"], refs["fresh2"]}
    assert q(sla="met") == []
    assert q(type="deletion") == [refs["soon"]]
    assert set(q(service="uno")) == {refs["old"], refs["fresh2"]}
    assert q(due_before="2026-12-16") == [refs["old"], refs["soon"]]
    assert set(q(due_after="2026-12-17")) == {refs["fresh"], refs["fresh2"]}
    assert len(q(status=["identity_pending", "in_review"])) == 4
    assert q(status="completed") == []
    assert q(q=refs["soon"].lower()) == [refs["soon"]]
    assert q(q="DSR-2612-%") == []  # wildcards are literal
    assert len(q(assignee="none")) == 4
    assert q(assignee="me") == []
    assert [r for r in q(sort="-received_at")][-1] == refs["old"]
    assert_problem(
        client.get("/v1/staff/requests", params={"sla": "late"}, headers=h),
        422,
        "validation_error",
        "sla",
    )
    assert_problem(
        client.get("/v1/staff/requests", params={"limit": 500}, headers=h),
        422,
        "validation_error",
        "limit",
    )
    assert_problem(
        client.get("/v1/staff/requests", params={"assignee": "x"}, headers=h),
        422,
        "validation_error",
        "assignee",
    )


@pytest.mark.parametrize("sort", ["legal_deadline", "-received_at"])
def test_cursor_pages_cover_everything_once(
    client: TestClient, staff_headers: Headers, clock: Clock, sort: str
) -> None:
    h = staff_headers()
    for _ in range(7):
        clock.advance(hours=7)  # spreads deadlines and receipts, with ties
        assert file(client, request_body()).status_code == 201
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, "sort": sort}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/staff/requests", params=params, headers=h).json()
        seen += [i["reference"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 7
    everything = _refs(
        client.get("/v1/staff/requests", params={"limit": 200, "sort": sort}, headers=h)
    )
    assert seen == everything
    bad = client.get("/v1/staff/requests", params={"cursor": "garbage"}, headers=h)
    assert_problem(bad, 422, "validation_error", "cursor")


def test_detail_shows_personal_data_with_etag_and_logs_access(
    client: TestClient, staff_headers: Headers, db: Session
) -> None:
    h = staff_headers("security")
    ref = file(
        client, request_body(items=["manager_name"], details="제 이름을 확인하고 싶습니다")
    ).json()["reference"]
    resp = client.get(f"/v1/staff/requests/{ref}", headers=h)
    assert resp.status_code == 200, resp.text
    assert resp.headers["etag"] == '"1"'
    assert resp.headers["cache-control"] == "no-store"
    data = resp.json()
    assert data["subject"]["name"] == "김가상"
    assert data["subject"]["email"] == "kim.gasang@example.com"
    assert data["details"] == "제 이름을 확인하고 싶습니다"
    assert data["items"] == ["manager_name"]
    assert [e["kind"] for e in data["events"]] == [
        "filed",
        "notice_queued",
        "notice_queued",
        "code_sent",
    ]
    assert data["next_action"] == "verify_contact" and data["missing"] == ["verify_contact"]
    assert data["verification"]["sends"] == 1 and data["verification"]["verified_at"] is None
    log = db.exec(select(AccessLog)).one()
    assert log.action == "view_detail" and log.client_ip == "127.0.0.1"
    assert_problem(client.get("/v1/staff/requests/DSR-0000-NOPE", headers=h), 404, "not_found")


def test_delegation_fields_are_shown_to_staff(client: TestClient, staff_headers: Headers) -> None:
    ref = file(client, delegate_body()).json()["reference"]
    data = client.get(f"/v1/staff/requests/{ref}", headers=staff_headers()).json()
    assert data["requester"]["name"] == "이대리"
    assert data["delegation"]["delegator_name"] == "김가상"
    assert data["delegation"]["scope"] == ["access", "correction_deletion"]


def test_closed_requests_are_met_or_breached(
    client: TestClient, staff_headers: Headers, runtime: Any, clock: Clock
) -> None:
    from app.db import transaction
    from app.models.request import Request
    from app.workflows.lifecycle import Status, transition

    h = staff_headers()
    refs = _seed(client, h)
    with transaction(runtime.engine) as session:
        for label, closed in [("old", clock() - timedelta(days=1)), ("soon", clock())]:
            req = session.exec(select(Request).where(Request.reference == refs[label])).one()
            transition(req, Status.WITHDRAWN, actor="requester", now=closed)
    met = _refs(client.get("/v1/staff/requests", params={"sla": "met"}, headers=h))
    breached = _refs(client.get("/v1/staff/requests", params={"sla": "breached"}, headers=h))
    assert met == [refs["soon"]] and breached == [refs["old"]]
