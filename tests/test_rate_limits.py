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


def test_the_web_form_shares_the_limit(client: TestClient, db: Session) -> None:
    for _ in range(3):
        assert file(client, request_body()).status_code == 201
    page = post_form(client, form_fields(csrf_token(client), subject_name="김웹"))
    assert page.status_code == 429
    assert "접수가 너무 잦습니다" in page.text
    assert len(db.exec(select(Request)).all()) == 3
