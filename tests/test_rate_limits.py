"""Intake is rate-limited per client address, on the API and the web form alike."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.request import Request
from tests.conftest import Clock, request_body
from tests.factories import assert_problem, csrf_token, file, form_fields, post_form


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"intake_rate_limit": 3, "intake_rate_window_seconds": 600}


def test_api_filings_beyond_the_limit_wait(client: TestClient, clock: Clock, db: Session) -> None:
    for _ in range(3):
        assert file(client, request_body()).status_code == 201
    refused = file(client, request_body())
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 600
    assert len(db.exec(select(Request)).all()) == 3
    clock.advance(seconds=601)
    assert file(client, request_body()).status_code == 201


def test_the_web_form_shares_the_limit_and_keeps_every_field(
    client: TestClient, db: Session
) -> None:
    for _ in range(3):
        assert file(client, request_body()).status_code == 201
    fields = form_fields(
        csrf_token(client), subject_name="김웹", subject_email="kim.web@example.com"
    )
    page = post_form(client, fields)
    assert page.status_code == 429
    assert 1 <= int(page.headers["retry-after"]) <= 600
    # When to try again, in minutes (600 s = 10분), and nothing typed is lost.
    assert "접수가 너무 잦아" in page.text and "10분 뒤에 다시 제출해 주세요" in page.text
    assert 'value="김웹"' in page.text and 'value="kim.web@example.com"' in page.text
    assert len(db.exec(select(Request)).all()) == 3


def test_a_refused_filing_does_not_count(client: TestClient, db: Session) -> None:
    for _ in range(5):
        assert file(client, request_body(service="no-such-service")).status_code == 422
        page = post_form(client, form_fields(csrf_token(client), subject_name=""))
        assert page.status_code == 200 and "김가상" not in page.text
    for _ in range(3):
        assert file(client, request_body()).status_code == 201
    assert len(db.exec(select(Request)).all()) == 3
    assert file(client, request_body()).status_code == 429
