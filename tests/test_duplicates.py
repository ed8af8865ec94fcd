"""Duplicate requests: a new request by the same subject, for the same service and type, while
another is open is flagged on both; staff link them or close the newer as a duplicate, which
tells the requester which request continues and how to object."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.notice import Notice
from app.runtime import Runtime
from app.workflows.duplicates import (
    Basis,
    Filed,
    FlagState,
    SubjectKeys,
    duplicate_basis,
    may_close_as_duplicate,
)
from app.workflows.lifecycle import Status
from tests.conftest import request_body, subject
from tests.console_helpers import csrf_of, session_cookie
from tests.factories import file

KIM = SubjectKeys(email_bidx="e1", phone_bidx="p1", name_bidx="n1", birth_date=date(1990, 5, 1))


def filed(keys: SubjectKeys = KIM, **kw: Any) -> Filed:
    base: dict[str, Any] = {"service": "uno", "type": "access", "status": Status.IN_REVIEW}
    base.update(kw)
    return Filed(subject=keys, **base)


# --- the rule ----------------------------------------------------------------------------------


def test_the_rule_same_subject_service_and_type_while_the_other_is_open() -> None:
    new = filed(status=Status.IDENTITY_PENDING)
    assert duplicate_basis(new, filed()) is Basis.CONTACT
    by_phone = SubjectKeys(phone_bidx="p1")
    assert duplicate_basis(filed(by_phone), filed()) is Basis.CONTACT
    by_name = SubjectKeys(name_bidx="n1", birth_date=date(1990, 5, 1), email_bidx="other")
    assert duplicate_basis(filed(by_name), filed()) is Basis.NAME_BIRTH_DATE
    # Namesakes born on another day, another service, another type, a closed request: none.
    namesake = SubjectKeys(name_bidx="n1", birth_date=date(1991, 5, 1))
    assert duplicate_basis(filed(namesake), filed()) is None
    assert duplicate_basis(filed(service="duo"), filed()) is None
    assert duplicate_basis(filed(type="deletion"), filed()) is None
    for closed in (Status.COMPLETED, Status.REJECTED, Status.WITHDRAWN):
        assert duplicate_basis(new, filed(status=closed)) is None
    # A name without a birth date proves nothing.
    assert (
        duplicate_basis(filed(SubjectKeys(name_bidx="n1")), filed(SubjectKeys(name_bidx="n1")))
        is None
    )


def test_only_an_unsettled_flag_on_a_request_not_yet_in_review_may_be_closed() -> None:
    assert may_close_as_duplicate(Status.IDENTITY_PENDING, FlagState.FLAGGED)
    assert may_close_as_duplicate(Status.AWAITING_REQUESTER, FlagState.FLAGGED)
    assert not may_close_as_duplicate(Status.IN_REVIEW, FlagState.FLAGGED)
    assert not may_close_as_duplicate(Status.IDENTITY_PENDING, FlagState.LINKED)


# --- at filing, in the API ---------------------------------------------------------------------


def _detail(client: TestClient, ref: str, headers: dict[str, str]) -> Any:
    resp = client.get(f"/v1/staff/requests/{ref}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp


def test_a_second_request_for_the_same_thing_is_flagged_on_both(
    client: TestClient, staff_headers: Any
) -> None:
    security = staff_headers("security")
    first = file(client, request_body()).json()["reference"]
    second = file(client, request_body()).json()["reference"]
    other_type = file(client, request_body(type="deletion")).json()["reference"]
    someone_else = file(
        client, request_body(subject=subject(name="이가상", email="lee@example.com"))
    ).json()["reference"]
    newer = _detail(client, second, security).json()["duplicates"]
    older = _detail(client, first, security).json()["duplicates"]
    assert newer == [
        {"reference": first, "other_is": "older", "basis": "contact", "state": "flagged",
         "other_status": "identity_pending"}
    ]  # fmt: skip
    assert [(d["reference"], d["other_is"]) for d in older] == [(second, "newer")]
    assert _detail(client, other_type, security).json()["duplicates"] == []
    assert _detail(client, someone_else, security).json()["duplicates"] == []
    events = [e["kind"] for e in _detail(client, second, security).json()["events"]]
    assert "duplicate_flagged" in events


def test_the_same_name_and_birth_date_with_another_contact_is_flagged_too(
    client: TestClient, staff_headers: Any
) -> None:
    first = file(client, request_body()).json()["reference"]
    second = file(
        client, request_body(subject=subject(email="kim.other@example.com", name=" 김가상 "))
    ).json()["reference"]
    dups = _detail(client, second, staff_headers("security")).json()["duplicates"]
    assert [(d["reference"], d["basis"]) for d in dups] == [(first, "name_birth_date")]


def test_closing_the_newer_as_a_duplicate_tells_the_requester_which_continues(
    client: TestClient, staff_headers: Any, db: Session
) -> None:
    security, agent = staff_headers("security"), staff_headers("agent")
    first = file(client, request_body()).json()["reference"]
    second = file(client, request_body()).json()["reference"]
    url = f"/v1/staff/requests/{second}/duplicates/{first}/close"
    etag = _detail(client, second, security).headers["etag"]
    # Closing is handling: an agent may not.
    assert client.post(url, headers={**agent, "If-Match": etag}).status_code == 403
    assert client.post(url, headers=security).status_code == 428
    closed = client.post(url, headers={**security, "If-Match": etag})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "rejected"
    assert closed.json()["duplicates"][0]["state"] == "closed"
    notice = db.exec(select(Notice).where(Notice.kind == "duplicate_closed")).one()
    body = client.get(f"/v1/staff/requests/{second}/notices", headers=security).json()
    text = next(n["body"] for n in body["items"] if n["kind"] == "duplicate_closed")
    assert first in text and second in text and "이의제기 방법" in text
    assert "요구는 같은 분이" in text and "(는)" not in text  # the particle that fits
    assert notice is not None
    # The older one goes on, and its timeline says what happened.
    older = _detail(client, first, security).json()
    assert older["status"] == "identity_pending"
    assert "duplicate_closed" in [e["kind"] for e in older["events"]]
    again = client.post(url, headers={**security, "If-Match": closed.headers["etag"]})
    assert again.status_code == 409


def test_linking_keeps_both_and_an_agent_may_do_it(client: TestClient, staff_headers: Any) -> None:
    agent = staff_headers("agent")
    first = file(client, request_body()).json()["reference"]
    second = file(client, request_body()).json()["reference"]
    etag = _detail(client, second, agent).headers["etag"]
    url = f"/v1/staff/requests/{second}/duplicates/{first}/link"
    linked = client.post(url, headers={**agent, "If-Match": etag})
    assert linked.status_code == 200, linked.text
    assert linked.json()["status"] == "identity_pending"
    assert linked.json()["duplicates"][0]["state"] == "linked"
    wrong = client.post(
        f"/v1/staff/requests/{first}/duplicates/{second}/link",
        headers={**agent, "If-Match": _detail(client, first, agent).headers["etag"]},
    )
    assert wrong.status_code == 404


# --- in the console ----------------------------------------------------------------------------


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"console_cookie_secure": False}


def test_the_console_lists_flags_and_closes_the_newer_or_reports_a_stale_form(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    first = file(client, request_body()).json()["reference"]
    second = file(client, request_body()).json()["reference"]
    with TestClient(client.app) as browser:
        browser.cookies.set(
            "rd_staff", session_cookie(runtime, "보안 중복", "security"), path="/staff"
        )
        listing = browser.get("/staff/duplicates")
        assert listing.status_code == 200
        assert first in listing.text and second in listing.text
        assert "같은 연락처" in listing.text
        token = csrf_of(listing.text)
        stale = browser.post(
            f"/staff/duplicates/{second}/close",
            data={"csrf_token": token, "other": first, "version": "99"},
        )
        assert stale.status_code == 412 and "그사이 다른 사람이" in stale.text
        done = browser.post(
            f"/staff/duplicates/{second}/close",
            data={"csrf_token": token, "other": first, "version": "1"},
        )
        assert done.status_code == 200, done.text
        assert "중복으로 종결하고" in done.text and "확인을 기다리는 중복 표시 0건" in done.text
    status = client.get(f"/v1/staff/requests/{second}", headers=staff_headers("security"))
    assert status.json()["status"] == "rejected"


def test_an_agent_may_link_in_the_console_but_not_close(
    client: TestClient, runtime: Runtime
) -> None:
    first = file(client, request_body()).json()["reference"]
    second = file(client, request_body()).json()["reference"]
    with TestClient(client.app) as browser:
        browser.cookies.set(
            "rd_staff", session_cookie(runtime, "상담 중복", "agent"), path="/staff"
        )
        token = csrf_of(browser.get("/staff/duplicates").text)
        form = {"csrf_token": token, "other": first, "version": "1"}
        refused = browser.post(f"/staff/duplicates/{second}/close", data=form)
        assert refused.status_code == 403
        linked = browser.post(f"/staff/duplicates/{second}/link", data=form)
        assert linked.status_code == 200 and "연결했습니다" in linked.text
