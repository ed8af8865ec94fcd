"""Abuse limits on the public side: per address, per reference, wrong access codes; and
resident registration numbers never stored, with the requester told why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.workflows.rrn import MASKED_NOTICE
from tests.conftest import Clock, request_body
from tests.factories import assert_problem, file

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "public_rate_limit_per_minute": 8,
        "access_code_max_failures": 3,
        "access_code_lock_minutes": 30,
        "access_code_reference_failures": 5,
        "access_code_max_failures_under_attack": 1,
    }


def look(client: TestClient, reference: str, code: str) -> Any:
    return client.get(f"/v1/requests/{reference}", headers={"X-Access-Code": code})


def test_public_calls_per_address_per_minute(
    client: TestClient, clock: Clock, staff_headers: Headers
) -> None:
    for _ in range(8):
        assert client.get("/v1/catalog").status_code == 200
    refused = client.get(
        "/v1/deadlines", params={"type": "access", "received_at": "2026-12-15T10:00:00+09:00"}
    )
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert client.get("/form").status_code == 429  # the web form counts too
    # Staff calls are authenticated and not counted here.
    assert client.get("/v1/staff/me", headers=staff_headers()).status_code == 200
    clock.advance(seconds=61)
    assert client.get("/v1/catalog").status_code == 200


def test_one_reference_is_limited_whatever_the_address(client: TestClient, clock: Clock) -> None:
    created = file(client, request_body()).json()
    ref, code = created["reference"], created["access_code"]
    clock.advance(seconds=61)  # a fresh minute for the address
    assert look(client, ref, code).status_code == 200
    assert look(client, ref, code).status_code == 200
    assert_problem(look(client, ref, code), 429, "rate_limited")  # 8 // 4 = 2 per minute


def test_every_spelling_of_a_reference_counts_against_its_one_limit(
    client: TestClient, clock: Clock
) -> None:
    created = file(client, request_body()).json()
    ref, code = created["reference"], created["access_code"]
    clock.advance(seconds=61)
    spellings = [f"{ref}%20", f"{ref}%09", f"{ref}%C2%A0", f"%E3%80%80{ref}", ref.lower()]
    spellings += [ref.replace("-", ""), f"%20{ref.replace('-', '%20')}"]
    answers = [look(client, s, code).status_code for s in spellings]
    assert answers == [200, 200, 429, 429, 429, 429, 429]  # 8 // 4 = 2 per minute


def test_wrong_access_codes_lock_a_reference_existing_or_not_alike(
    client: TestClient, clock: Clock
) -> None:
    created = file(client, request_body()).json()
    ref, code = created["reference"], created["access_code"]
    unknown = "DSR-2612-ZZZZZZZZ"
    for target in (ref, unknown):
        answers = []
        for _ in range(3):
            clock.advance(seconds=61)  # stay under the per-reference call limit
            answers.append(look(client, target, "WRONG-CODE-0000").status_code)
        assert answers == [404, 404, 404]
        clock.advance(seconds=61)
        locked = look(client, target, code if target == ref else "WRONG-CODE-0000")
        assert_problem(locked, 429, "rate_limited")
        assert "여러 번 틀려" in locked.json()["detail"]
    clock.advance(minutes=31)
    assert look(client, ref, code).status_code == 200


def test_guesses_from_many_addresses_do_not_lock_out_the_holder_of_the_code(
    app: FastAPI, client: TestClient, clock: Clock
) -> None:
    created = file(client, request_body()).json()
    ref, code = created["reference"], created["access_code"]
    guessers = [TestClient(app, client=(f"198.51.100.{i}", 40000)) for i in range(1, 11)]
    for guesser in guessers:
        clock.advance(seconds=31)  # stay under the per-reference call limit (2 a minute)
        assert_problem(look(guesser, ref, "WRONG-CODE-0000"), 404, "not_found")
    # Ten wrong codes from ten addresses: the holder of the right code still gets in...
    clock.advance(seconds=61)
    owner = TestClient(app, client=("192.0.2.10", 40000))
    assert look(owner, ref, code).status_code == 200
    # ...while the reference is under attack, an address that has guessed gets no more tries
    # (ACCESS_CODE_MAX_FAILURES_UNDER_ATTACK), whatever it sends,
    clock.advance(seconds=61)
    assert_problem(look(guessers[0], ref, code), 429, "rate_limited")
    # and a fresh address gets that many before it stops too.
    newcomer = TestClient(app, client=("198.51.100.99", 40000))
    clock.advance(seconds=61)
    assert_problem(look(newcomer, ref, "WRONG-CODE-0001"), 404, "not_found")
    clock.advance(seconds=61)
    assert_problem(look(newcomer, ref, "WRONG-CODE-0002"), 429, "rate_limited")
    assert look(owner, ref, code).status_code == 200
    # When the guessing has aged out, every address has its full allowance again.
    clock.advance(minutes=31)
    assert look(guessers[0], ref, code).status_code == 200


def test_a_resident_registration_number_is_masked_before_storage_and_the_requester_is_told(
    client: TestClient, db: Session, staff_headers: Headers
) -> None:
    body = request_body(details="제 주민번호는 900101-1234567 입니다. 기록을 보여 주세요.")
    created = file(client, body).json()
    assert created["warnings"] == [MASKED_NOTICE]
    detail = client.get(
        f"/v1/staff/requests/{created['reference']}", headers=staff_headers()
    ).json()
    assert "900101-1******" in detail["details"] and "1234567" not in detail["details"]
    plain = file(client, request_body(details="특별한 내용 없음")).json()
    assert plain["warnings"] == []
    # Staff free text goes through the same mask on its way into storage.
    agent = staff_headers("agent")
    url = f"/v1/staff/requests/{created['reference']}"
    etag = client.get(url, headers=agent).headers["etag"]
    patched = client.patch(
        url,
        json={"note": "전화로 받은 번호 880202-2345678 확인"},
        headers={**agent, "If-Match": etag},
    )
    assert patched.status_code == 200
    notes = [n["note"] for n in patched.json()["internal_notes"]]
    assert notes == ["전화로 받은 번호 880202-2****** 확인"]
