"""Public intake and the requester's view, through HTTP as a client would use them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.request import Event, Party, Request
from tests.conftest import Clock, request_body, subject
from tests.factories import assert_problem, delegate_body, file, loosely_typed


def test_filing_returns_reference_code_and_the_legal_deadline(client: TestClient) -> None:
    resp = file(client, request_body())
    assert resp.status_code == 201, resp.text
    body = resp.json()
    # Received Tue 2026-12-15 10:00 KST: day 10 is 성탄절, then Sat, Sun -> Mon 12-28.
    assert body["legal_deadline"] == "2026-12-28"
    assert body["status"] == "identity_pending"
    assert body["next_action"] == "verify_contact"
    assert body["reference"].startswith("DSR-2612-")
    assert resp.headers["location"] == f"/v1/requests/{body['reference']}"
    assert datetime.fromisoformat(body["received_at"]) == datetime(2026, 12, 15, 1, 0, tzinfo=UTC)


def test_receipt_counts_in_korea_time(client: TestClient, clock: Clock) -> None:
    # 00:30 KST on Saturday 2026-11-28 is still Friday in UTC; the deadline counts from Saturday.
    clock.now = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
    body = file(client, request_body()).json()
    assert body["legal_deadline"] == "2026-12-08"
    assert body["reference"].startswith("DSR-2611-")


def test_requester_sees_status_with_the_access_code_only(client: TestClient) -> None:
    created = file(client, request_body()).json()
    ref, code = created["reference"], created["access_code"]
    view = client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": code})
    assert view.status_code == 200
    data = view.json()
    assert data["status"] == "identity_pending" and data["legal_deadline"] == "2026-12-28"
    assert "example.com" not in view.text
    # The name shows only where a notice addressed the requester by it ("김가상 님").
    outside = {k: v for k, v in data.items() if k != "notices"}
    assert "김가상" not in str(outside)
    for notice in data["notices"]:
        assert "김가상" not in notice["body"].replace("김가상 님, 안녕하세요.", "")
    # Typed the way people type it: lower case, no hyphens.
    loose = code.replace("-", "").lower()
    assert client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": loose}).status_code == 200


def test_the_reference_is_accepted_as_people_type_it(client: TestClient) -> None:
    created = file(client, request_body()).json()
    ref, code = created["reference"], created["access_code"]
    for typed in loosely_typed(ref):
        view = client.get(f"/v1/requests/{quote(typed)}", headers={"X-Access-Code": code})
        assert view.status_code == 200, (typed, view.text)
        assert view.json()["reference"] == ref


def test_wrong_code_and_unknown_reference_look_the_same(client: TestClient) -> None:
    created = file(client, request_body()).json()
    wrong = client.get(f"/v1/requests/{created['reference']}", headers={"X-Access-Code": "AAAA"})
    unknown = client.get("/v1/requests/DSR-2612-ZZZZZZZZ", headers={"X-Access-Code": "AAAA"})
    missing = client.get(f"/v1/requests/{created['reference']}")
    for resp in (wrong, unknown, missing):
        assert_problem(resp, 404, "not_found")
    assert wrong.json() == unknown.json() == missing.json()


def test_access_code_is_stored_hashed_and_shown_once(client: TestClient, db: Session) -> None:
    created = file(client, request_body()).json()
    row = db.exec(select(Request)).one()
    assert created["access_code"] not in row.access_code_hash
    view = client.get(
        f"/v1/requests/{created['reference']}", headers={"X-Access-Code": created["access_code"]}
    )
    assert "access_code" not in view.json()


def test_references_and_codes_are_not_repeated(client: TestClient) -> None:
    seen = [file(client, request_body()).json() for _ in range(20)]
    assert len({s["reference"] for s in seen}) == 20
    assert len({s["access_code"] for s in seen}) == 20


def test_idempotency_key_returns_the_first_response(client: TestClient, db: Session) -> None:
    first = file(client, request_body(), **{"Idempotency-Key": "retry-1"})
    again = file(client, request_body(), **{"Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(db.exec(select(Request)).all()) == 1
    other = file(client, request_body(type="deletion"), **{"Idempotency-Key": "retry-1"})
    assert_problem(other, 409, "idempotency_key_reused")
    assert len(db.exec(select(Request)).all()) == 1


def test_an_idempotency_key_replays_only_to_its_own_client(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    # The attacker knows the victim's key and body (e.g. a retry they saw) but not their address.
    attacker = TestClient(app, client=("203.0.113.66", 40000))
    victim_body = request_body(subject=subject(name="최가상", email="choi.gasang@example.com"))
    first = file(client, victim_body, **{"Idempotency-Key": "victim-1"})
    assert first.status_code == 201
    stolen = attacker.post(
        "/v1/requests", json=victim_body, headers={"Idempotency-Key": "victim-1"}
    )
    assert "idempotent-replayed" not in stolen.headers
    assert first.json()["access_code"] not in stolen.text
    assert stolen.status_code != 201 or stolen.json()["reference"] != first.json()["reference"]
    # A key claimed first by someone else does not block the real filer.
    attacker.post("/v1/requests", json=request_body(), headers={"Idempotency-Key": "victim-2"})
    real = file(client, victim_body, **{"Idempotency-Key": "victim-2"})
    assert real.status_code == 201 and "idempotent-replayed" not in real.headers
    mine = db.exec(select(Request).where(Request.reference == real.json()["reference"])).one()
    assert mine.id is not None
    # The real filer's own retry still replays their own first response.
    again = file(client, victim_body, **{"Idempotency-Key": "victim-2"})
    assert again.headers["idempotent-replayed"] == "true" and again.json() == real.json()


def test_idempotency_key_expires(client: TestClient, clock: Clock, db: Session) -> None:
    file(client, request_body(), **{"Idempotency-Key": "k"})
    clock.advance(hours=25)
    again = file(client, request_body(), **{"Idempotency-Key": "k"})
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert len(db.exec(select(Request)).all()) == 2


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (request_body(service="kakao"), "unknown_service", "service"),
        (request_body(items=["manager_name", "shoe_size"]), "unknown_item", "items.1"),
        (
            request_body(
                type="correction",
                correction={"item": "favourite_colour", "requested_value": "파랑"},
            ),
            "unknown_item",
            "correction.item",
        ),
        (
            request_body(subject={"name": "김가상", "birth_date": "1990-05-01"}),
            "contact_required",
            "subject.email",
        ),
        (request_body(notify_by="sms"), "contact_required", "notify_by"),
    ],
)
def test_business_rule_refusals(
    client: TestClient, db: Session, body: dict[str, Any], code: str, field: str
) -> None:
    assert_problem(file(client, body), 422, code, field)
    assert db.exec(select(Request)).all() == []  # nothing half-written


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service": "uno", "subject": subject()}, "type"),
        (request_body(type="objection"), "type"),
        (request_body(subject={"name": "김가상", "email": "a@example.com"}), "subject.birth_date"),
        (request_body(subject=subject(birth_date="1990-13-01")), "subject.birth_date"),
        (request_body(subject=subject(email="not-an-email")), "subject.email"),
        (request_body(subject=subject(phone="12")), "subject.phone"),
        (request_body(type="correction"), "correction"),
        (request_body(subject=subject(birth_date="2030-01-01")), "subject.birth_date"),
        (request_body(surprise=True), "surprise"),
    ],
)
def test_validation_errors_name_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    assert_problem(file(client, body), 422, "validation_error", field)


def test_non_json_body_is_415_and_oversized_is_413(client: TestClient, settings: Any) -> None:
    resp = client.post(
        "/v1/requests", content="type=access", headers={"content-type": "text/plain"}
    )
    assert_problem(resp, 415, "unsupported_media_type")
    big = request_body(details="가" * (settings.max_body_bytes // 3 + 10))
    assert_problem(file(client, big), 413, "payload_too_large")


def test_details_longer_than_the_limit_are_refused(client: TestClient, settings: Any) -> None:
    resp = file(client, request_body(details="가" * (settings.max_text_chars + 1)))
    assert_problem(resp, 422, "validation_error", "details")


# --- children: PIPA art. 38(2) and the policy's under-14 rule ----------------------------------


def test_child_under_14_cannot_file_for_themself(client: TestClient) -> None:
    child = subject(name="박아동", birth_date="2013-12-16")  # turns 13 the day after receipt
    resp = file(client, request_body(subject=child))
    assert_problem(resp, 422, "legal_representative_required", "requester.relationship")


def test_age_is_counted_on_the_day_of_receipt_in_korea(client: TestClient, clock: Clock) -> None:
    # Turns 14 on 2026-12-15 (KST). At 23:30 UTC on 12-14 it is already 12-15 in Seoul.
    teen = subject(name="박청소", birth_date="2012-12-15")
    clock.now = datetime(2026, 12, 14, 14, 30, tzinfo=UTC)  # 23:30 KST on 12-14: still 13
    assert_problem(file(client, request_body(subject=teen)), 422, "legal_representative_required")
    clock.now = datetime(2026, 12, 14, 15, 30, tzinfo=UTC)  # 00:30 KST on 12-15: 14 today
    assert file(client, request_body(subject=teen)).status_code == 201


def test_legal_representative_files_for_a_child(client: TestClient, db: Session) -> None:
    child = {"name": "박아동", "birth_date": "2016-03-01"}
    parent = {
        "relationship": "legal_representative",
        "name": "박부모",
        "birth_date": "1985-07-07",
        "phone": "010-3000-0003",
    }
    resp = file(client, request_body(subject=child, requester=parent))
    assert resp.status_code == 201, resp.text
    # The representative's own ID comes first, then the proof of representation.
    assert resp.json()["next_action"] == "submit_identity_document"
    roles = {p.role: p.relationship for p in db.exec(select(Party)).all()}
    assert roles == {"subject": "legal_representative", "requester": "legal_representative"}


def test_minor_of_14_to_18_may_file_personally(client: TestClient) -> None:
    teen = subject(name="최청소", birth_date="2010-01-01")
    assert file(client, request_body(subject=teen)).status_code == 201


# --- a birth date only where the service collected one (law rule 20) ---------------------------


def test_a_service_that_never_collected_a_birth_date_files_without_one(
    client: TestClient, staff_headers: Any
) -> None:
    doctor = {"name": "정의사", "email": "doctor.jung@example.com", "under_14": False}
    resp = file(client, request_body(service="webersoft", subject=doctor))
    assert resp.status_code == 201, resp.text
    detail = client.get(
        f"/v1/staff/requests/{resp.json()['reference']}", headers=staff_headers("agent")
    ).json()
    assert detail["subject"]["birth_date"] is None


def test_without_a_birth_date_the_under_14_answer_is_needed_and_applied(
    client: TestClient,
) -> None:
    no_answer = {"name": "정의사", "email": "doctor.jung@example.com"}
    resp = file(client, request_body(service="webersoft", subject=no_answer))
    assert_problem(resp, 422, "validation_error", "subject.under_14")
    child = {**no_answer, "under_14": True}
    resp = file(client, request_body(service="webersoft", subject=child))
    assert_problem(resp, 422, "legal_representative_required", "requester.relationship")
    parent = {"relationship": "legal_representative", "name": "정부모", "birth_date": "1985-07-07"}
    resp = file(client, request_body(service="webersoft", subject=child, requester=parent))
    assert resp.status_code == 201, resp.text


def test_a_service_that_collected_birth_dates_still_requires_one(client: TestClient) -> None:
    for service in ("uno", "smartcrm"):
        answered = {"name": "김가상", "email": "a@example.com", "under_14": False}
        resp = file(client, request_body(service=service, subject=answered))
        assert_problem(resp, 422, "validation_error", "subject.birth_date")


# --- delegates and 위임장 (Decree art. 45, form No. 11) ----------------------------------------


def test_delegate_with_a_valid_power_of_attorney(client: TestClient, db: Session) -> None:
    resp = file(client, delegate_body())
    assert resp.status_code == 201, resp.text
    assert resp.json()["next_action"] == "submit_power_of_attorney"


def test_delegate_without_power_of_attorney(client: TestClient) -> None:
    body = delegate_body()
    del body["delegation"]
    assert_problem(file(client, body), 422, "delegation_required", "delegation")


def test_scope_must_cover_the_request_type(client: TestClient) -> None:
    body = delegate_body(scope=["access"])
    body["type"] = "deletion"  # covered by correction_deletion, which is not ticked
    assert_problem(file(client, body), 422, "delegation_scope_mismatch", "delegation.scope")
    body = delegate_body(scope=["correction_deletion"])
    body["type"] = "deletion"
    assert file(client, body).status_code == 201


def test_delegator_must_be_the_subject(client: TestClient) -> None:
    body = delegate_body(delegator_name="김다른")
    assert_problem(
        file(client, body), 422, "delegation_subject_mismatch", "delegation.delegator_name"
    )
    body = delegate_body(delegator_birth_date="1990-05-02")
    assert_problem(file(client, body), 422, "delegation_subject_mismatch")


def test_power_of_attorney_signed_in_the_future(client: TestClient) -> None:
    body = delegate_body(signed_on="2026-12-16")
    assert_problem(file(client, body), 422, "validation_error", "delegation.signed_on")


# --- what is stored ------------------------------------------------------------------------------


def test_filing_records_an_event_with_the_deadline_trace(client: TestClient, db: Session) -> None:
    file(client, request_body())
    event, queued, *_ = db.exec(select(Event).order_by(Event.seq)).all()  # type: ignore[arg-type]
    assert queued.kind == "notice_queued" and queued.data["notice_kind"] == "receipt"
    assert event.kind == "filed" and event.to_status == "identity_pending" and event.seq == 1
    assert event.data["legal_deadline"] == "2026-12-28"
    assert any("성탄절" in step["note"] for step in event.data["explain"])
    assert "김가상" not in str(event.data)


def test_resident_registration_numbers_are_masked(
    client: TestClient, runtime: Any, db: Session
) -> None:
    file(client, request_body(details="제 주민번호는 900501-1234567 입니다"))
    row = db.exec(select(Request)).one()
    details = runtime.vault.decrypt(row.details_enc, field="request.details")
    assert "1234567" not in details and "900501-1******" in details


def test_oversized_body_without_a_length_is_cut_off(
    client: TestClient, settings: Any, db: Session
) -> None:
    def chunks() -> Any:
        yield b'{"type": "access", "service": "uno", "details": "'
        for _ in range(settings.max_body_bytes // 1000 + 2):
            yield b"x" * 1000
        yield b'"}'

    resp = client.post(
        "/v1/requests", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(resp, 413, "payload_too_large")
    assert db.exec(select(Request)).all() == []


def test_a_201_means_the_request_is_committed(live_server: str) -> None:
    """The answer leaves only after the commit: a lookup right after a 201 always finds it
    (FastAPI would otherwise send the response before the session dependency commits)."""
    import httpx

    with httpx.Client(base_url=live_server) as http:
        for _ in range(40):
            created = http.post("/v1/requests", json=request_body())
            assert created.status_code == 201, created.text
            body = created.json()
            seen = http.get(
                f"/v1/requests/{body['reference']}", headers={"X-Access-Code": body["access_code"]}
            )
            assert seen.status_code == 200, seen.text
