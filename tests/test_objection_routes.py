"""Every notice that prints the objection method is backed by a route that takes the objection
(art. 38(5), law rule 27): partial grant, refusal, no_data_held, unchanged, a postponement and
an identity rejection. Each case reaches its notice over HTTP, checks the notice prints the
method, then objects with the requester's own access code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.runtime import Runtime
from tests.conftest import carry_out, request_body
from tests.factories import (
    Desk,
    assert_problem,
    csrf_token,
    file,
    notice_text,
    partial_access,
)

Headers = Callable[..., dict[str, str]]

METHOD = "■ 이의제기 방법"


def object_to(client: TestClient, ref: str, code: str) -> Any:
    return client.post(
        f"/v1/requests/{ref}/objections",
        json={"reason": "결정을 다시 검토해 주세요."},
        headers={"X-Access-Code": code},
    )


def _decide(desk: Desk, decision: dict[str, Any]) -> None:
    drafted = desk.staff_write("decision", decision)
    assert drafted.status_code == 200, drafted.text
    done = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert done.json()["status"] == "completed", done.text


def partial(client: TestClient, staff_headers: Headers) -> tuple[str, str, str]:
    desk = Desk(client, staff_headers, items=["manager_name", "access_records"])
    partial_access(desk)
    return desk.ref, desk.code, "access_result"


def access_refused(client: TestClient, staff_headers: Headers) -> tuple[str, str, str]:
    desk = Desk(client, staff_headers)
    _decide(
        desk,
        {"outcome": "refused", "grounds": ["35-4-2"], "reason": "다른 직원 정보가 섞였습니다."},
    )
    return desk.ref, desk.code, "access_result"


def suspension_refused(client: TestClient, staff_headers: Headers) -> tuple[str, str, str]:
    desk = Desk(client, staff_headers, type="suspension")
    _decide(
        desk,
        {"outcome": "refused", "grounds": ["37-2-1"], "reason": "법령상 의무 때문입니다."},
    )
    return desk.ref, desk.code, "action_result"


def no_data_held(client: TestClient, staff_headers: Headers) -> tuple[str, str, str]:
    desk = Desk(client, staff_headers, type="deletion")
    _decide(desk, {"outcome": "no_data_held", "reason": "회원 기록에 없습니다."})
    return desk.ref, desk.code, "action_result"


def unchanged(client: TestClient, staff_headers: Headers) -> tuple[str, str, str]:
    desk = Desk(
        client,
        staff_headers,
        type="correction",
        correction={"item": "manager_name", "requested_value": "김가람"},
    )
    _decide(desk, {"outcome": "unchanged", "reason": "재직증명서의 이름과 같습니다."})
    return desk.ref, desk.code, "action_result"


def postponed(client: TestClient, staff_headers: Headers) -> tuple[str, str, str]:
    desk = Desk(client, staff_headers)
    resp = desk.staff_write("postponement", {"reason": "보관 서버 이전 중입니다."})
    assert resp.json()["status"] == "postponed", resp.text
    return desk.ref, desk.code, "postponement"


def identity_rejected(client: TestClient, staff_headers: Headers) -> tuple[str, str, str]:
    created = file(client, request_body()).json()
    ref, h = created["reference"], staff_headers()
    etag = client.get(f"/v1/staff/requests/{ref}", headers=h).headers["etag"]
    resp = client.post(
        f"/v1/staff/requests/{ref}/identity",
        json={"result": "failed", "method": "id_copy", "reason": "신분증 사본이 흐립니다."},
        headers={**h, "If-Match": etag},
    )
    assert resp.json()["status"] == "rejected", resp.text
    return ref, created["access_code"], "identity_rejected"


CASES = {
    "partially_granted": partial,
    "refused_access": access_refused,
    "refused_suspension": suspension_refused,
    "no_data_held": no_data_held,
    "unchanged": unchanged,
    "postponement": postponed,
    "identity_rejected": identity_rejected,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_notice_printing_the_objection_method_has_a_working_route(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime, case: str
) -> None:
    ref, code, kind = CASES[case](client, staff_headers)
    assert METHOD in notice_text(db, runtime, kind)
    # The requester's status page offers the form the notice points to.
    lookup = {"reference": ref, "access_code": code, "csrf_token": csrf_token(client, "/status")}
    page = client.post("/status", data=lookup)
    assert 'action="/status/objection"' in page.text, case
    resp = object_to(client, ref, code)
    assert resp.status_code == 201, resp.text
    objection = resp.json()
    assert objection["type"] == "objection" and objection["status"] == "in_review"
    assert "이의제기" in notice_text(db, runtime, "objection_receipt")


def test_no_objection_against_a_full_grant_or_a_request_still_in_review(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    open_desk = Desk(client, staff_headers)
    assert_problem(object_to(client, open_desk.ref, open_desk.code), 409, "invalid_transition")
    done = Desk(client, staff_headers, type="deletion", items=["manager_name"])
    assert done.staff_write("decision", {"outcome": "granted"}).status_code == 200
    done.staff_write("approval", {"approve": True}, who=done.officer)
    assert carry_out(client, done.ref, done.handler)["request_status"] == "completed"
    # A full grant's notice prints no objection route, and none is offered.
    assert_problem(object_to(client, done.ref, done.code), 409, "invalid_transition")


def test_an_upheld_objection_to_a_postponement_ends_it_under_the_same_request(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    ref, code, _ = postponed(client, staff_headers)
    oref = object_to(client, ref, code).json()["reference"]
    h = staff_headers()
    etag = client.get(f"/v1/staff/requests/{oref}", headers=h).headers["etag"]
    upheld = client.post(
        f"/v1/staff/requests/{oref}/decision",
        json={"outcome": "granted"},
        headers={**h, "If-Match": etag},
    )
    assert upheld.json()["status"] == "completed", upheld.text
    original = client.get(f"/v1/staff/requests/{ref}", headers=h).json()
    assert original["status"] == "in_review"
    [p] = original["postponements"]
    assert p["ended_on"] is not None and original["legal_deadline"] == p["new_due_on"]
    access = client.get("/v1/staff/requests", params={"type": "access"}, headers=h).json()
    assert [i["reference"] for i in access["items"]] == [ref]  # no second access request
    text = notice_text(db, runtime, "objection_result")
    assert "열람 연기를 끝내고" in text and ref in text


def test_the_web_form_takes_an_objection_to_a_postponement(
    client: TestClient, staff_headers: Headers
) -> None:
    ref, code, _ = postponed(client, staff_headers)
    token = csrf_token(client, "/status")
    form = {"reference": ref, "access_code": code, "reason": "연기 사유가 없습니다."}
    resp = client.post("/status/objection", data={**form, "csrf_token": token})
    assert resp.status_code == 200, resp.text
    assert "이의제기" in resp.text


def test_an_objection_by_e_mail_is_recorded_by_staff_as_the_linked_request(
    client: TestClient, staff_headers: Headers, db: Session, runtime: Runtime
) -> None:
    """The notices also offer objecting by e-mail to the contact (a chat's notices only that)."""
    ref, _, _ = postponed(client, staff_headers)
    agent = staff_headers("agent")  # intake: an agent may record it
    url = f"/v1/staff/requests/{ref}"
    etag = client.get(url, headers=agent).headers["etag"]
    body = {"reason": "전자우편으로 받은 이의: 연기 사유가 없습니다."}
    resp = client.post(f"{url}/objections", json=body, headers={**agent, "If-Match": etag})
    assert resp.status_code == 201, resp.text
    oref = resp.json()["reference"]
    detail = client.get(f"/v1/staff/requests/{oref}", headers=agent).json()
    assert detail["type"] == "objection" and detail["parent_reference"] == ref
    assert "이의제기" in notice_text(db, runtime, "objection_receipt")
    # A full grant prints no objection route: staff cannot record one either.
    done = Desk(client, staff_headers, type="deletion", items=["manager_name"])
    done.staff_write("decision", {"outcome": "granted"})
    done.staff_write("approval", {"approve": True}, who=done.officer)
    carry_out(client, done.ref, done.handler)
    assert_problem(done.staff_write("objections", body, who=agent), 409, "invalid_transition")


def test_a_refused_objection_on_the_web_keeps_what_was_typed(
    client: TestClient, staff_headers: Headers
) -> None:
    ref, code, _ = postponed(client, staff_headers)
    token = csrf_token(client, "/status")
    reason = "연기 사유가 없습니다.\u202e"  # an invisible direction control: refused
    form = {"reference": ref, "access_code": code, "reason": reason, "csrf_token": token}
    resp = client.post("/status/objection", data=form)
    assert resp.status_code == 422 and 'id="objection-error"' in resp.text
    # The person corrects the text instead of writing it again.
    assert (
        "연기 사유가 없습니다." in resp.text.split('id="objection"', 1)[1].split("</textarea>")[0]
    )
