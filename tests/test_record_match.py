"""Identity bound to the account (Decree art. 46(1)): a one-time code proves the contact, and a
grant waits until staff have matched the subject against the service's records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.runtime import Runtime
from app.workflows.identity import IdentityMethod
from tests.conftest import request_body, subject
from tests.factories import (
    ACCESS_TERMS,
    assert_problem,
    file,
    match_account_record,
    verify_by_code,
)

Headers = Callable[..., dict[str, str]]


class Filed:
    """A subject's own access request, verified by the mailed code only."""

    def __init__(
        self, client: TestClient, runtime: Runtime, staff_headers: Headers, **body: Any
    ) -> None:
        self.client = client
        self.handler, self.agent = staff_headers("security"), staff_headers("agent")
        self.officer = staff_headers("officer")
        body.setdefault("subject", subject(phone="010-2345-6789"))
        created = file(client, request_body(**body)).json()
        self.ref, self.code = created["reference"], created["access_code"]
        self.url = f"/v1/staff/requests/{self.ref}"
        assert verify_by_code(client, runtime, self.ref, self.code)["status"] == "in_review"

    def detail(self) -> dict[str, Any]:
        return dict(self.client.get(self.url, headers=self.agent).json())

    def post(self, path: str, body: dict[str, Any], who: dict[str, str] | None = None) -> Any:
        etag = self.client.get(self.url, headers=self.agent).headers["etag"]
        headers = {**(who or self.handler), "If-Match": etag}
        return self.client.post(f"{self.url}/{path}", json=body, headers=headers)


GRANT = {"outcome": "granted", "access": ACCESS_TERMS}


def test_a_grant_after_the_code_alone_waits_for_the_record_match(
    client: TestClient, runtime: Runtime, staff_headers: Headers
) -> None:
    req = Filed(client, runtime, staff_headers)
    identity = req.detail()["identity"]
    assert identity["missing"] == ["match_account_record"]
    assert identity["record_match_required"] is True and identity["record_matched"] is False
    checklist = {c["check"]: c["values"] for c in identity["record_match_checklist"]}
    assert checklist == {
        "name": ["김가상"],
        "birth_date": ["1990-05-01"],
        "contact": ["kim.gasang@example.com", "010-2345-6789"],
    }
    assert all(c["label"] for c in identity["record_match_checklist"])

    early = req.post("decision", GRANT)
    assert_problem(early, 409, "identity_not_matched", "outcome")
    assert req.detail()["status"] == "in_review" and req.detail()["decision"] is None

    matched = match_account_record(client, req.ref, req.handler)
    assert matched["status"] == "in_review"  # recorded; the review goes on
    assert matched["identity"]["missing"] == [] and matched["identity"]["record_matched"]
    methods = [c["method"] for c in matched["identity_checks"]]
    assert methods == ["one_time_code", "account_record_match"]
    assert matched["events"][-1]["kind"] == "identity_checked"
    assert matched["events"][-1]["data"] == {
        "identity": "account_record_match",
        "result": "verified",
    }

    done = req.post("decision", GRANT)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "executing"  # the holders' extracts are asked for
    assert done.json()["identity"]["missing"] == []


def test_a_partial_grant_waits_too_and_an_id_seen_counts_as_the_match(
    client: TestClient, runtime: Runtime, staff_headers: Headers
) -> None:
    req = Filed(client, runtime, staff_headers, items=["manager_name", "access_records"])
    partial = {
        "outcome": "partially_granted",
        "grounds": ["35-4-2"],
        "reason": "접속기록에 다른 직원의 기록이 함께 있습니다.",
        "items_granted": ["manager_name"],
        "items_withheld": ["access_records"],
        "access": ACCESS_TERMS,
    }
    assert_problem(req.post("decision", partial), 409, "identity_not_matched")
    seen = req.post("identity", {"result": "verified", "method": "id_in_person"})
    assert seen.status_code == 200, seen.text
    drafted = req.post("decision", partial)
    assert drafted.json()["status"] == "awaiting_approval", drafted.text


@pytest.mark.parametrize(
    "decision",
    [
        {"outcome": "refused", "grounds": ["35-4-1"], "reason": "법률에 따라 제한됩니다."},
        {"outcome": "no_data_held"},
    ],
)
def test_what_grants_nothing_needs_no_match(
    client: TestClient, runtime: Runtime, staff_headers: Headers, decision: dict[str, Any]
) -> None:
    req = Filed(client, runtime, staff_headers)
    drafted = req.post("decision", decision)
    assert drafted.status_code == 200, drafted.text
    assert drafted.json()["status"] == "awaiting_approval"
    approved = req.post("approval", {"approve": True}, who=req.officer)
    assert approved.json()["status"] == "completed", approved.text
    # Closed: nothing is waiting for a match any more.
    assert approved.json()["identity"]["missing"] == []


def test_a_info_request_needs_no_match(
    client: TestClient, runtime: Runtime, staff_headers: Headers
) -> None:
    req = Filed(client, runtime, staff_headers)
    asked = req.post(
        "info-requests", {"message": "가입하신 이메일 주소를 알려 주세요."}, who=req.agent
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "awaiting_requester"


def test_a_failed_match_is_recorded_and_the_grant_stays_blocked(
    client: TestClient, runtime: Runtime, staff_headers: Headers
) -> None:
    req = Filed(client, runtime, staff_headers)
    failed = req.post("identity", {"result": "failed", "method": "account_record_match"})
    assert failed.status_code == 200, failed.text
    assert failed.json()["status"] == "in_review"
    assert failed.json()["identity"]["missing"] == ["match_account_record"]
    assert_problem(req.post("decision", GRANT), 409, "identity_not_matched")


def test_after_the_code_only_a_binding_method_is_recorded(
    client: TestClient, runtime: Runtime, staff_headers: Headers
) -> None:
    req = Filed(client, runtime, staff_headers)
    again = req.post("identity", {"result": "verified", "method": "one_time_code"})
    assert_problem(again, 409, "invalid_transition")
    assert [c["method"] for c in req.detail()["identity_checks"]] == ["one_time_code"]


def test_identity_methods_are_a_closed_set(
    client: TestClient, runtime: Runtime, staff_headers: Headers
) -> None:
    req = Filed(client, runtime, staff_headers)
    resp = req.post("identity", {"result": "verified", "method": "looked_at_facebook"})
    assert_problem(resp, 422, "validation_error", "method")
    message = resp.json()["errors"][0]["message"]
    for method in IdentityMethod:
        assert method.value in message


def test_an_agent_may_not_record_identity_or_decide(
    client: TestClient, runtime: Runtime, staff_headers: Headers
) -> None:
    req = Filed(client, runtime, staff_headers)
    for path, body in (
        ("identity", {"result": "verified", "method": "account_record_match"}),
        ("decision", {"outcome": "no_data_held"}),
        ("decision", GRANT),
    ):
        assert_problem(req.post(path, body, who=req.agent), 403, "forbidden")
    detail = req.detail()
    assert detail["status"] == "in_review" and detail["identity"]["record_matched"] is False


class TestRecordMatchOff:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"identity_require_record_match": False}

    def test_the_code_alone_then_suffices(
        self, client: TestClient, runtime: Runtime, staff_headers: Headers
    ) -> None:
        req = Filed(client, runtime, staff_headers)
        identity = req.detail()["identity"]
        assert identity["missing"] == [] and identity["record_match_required"] is False
        done = req.post("decision", GRANT)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "executing"
