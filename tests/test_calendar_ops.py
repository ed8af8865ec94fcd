"""The confirmed holiday calendar running out (law rule 5): the flag people see, the start-up
warning, and re-deriving stored deadlines once the calendar is extended."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.services.requests.recompute import recompute_deadlines
from app.settings import Settings
from tests.conftest import Clock, request_body
from tests.factories import csrf_token, file

# Monday 2026-12-28 10:00 KST: day 10 is Thursday 2027-01-07, past a calendar ending in 2026.
LATE_DECEMBER = datetime(2026, 12, 28, 1, 0, tzinfo=UTC)
UNCONFIRMED_TEXT = "이 기한은 아직 확정되지 않았습니다"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"calendar_last_year": 2026}


@pytest.fixture
def clock() -> Clock:
    return Clock(LATE_DECEMBER)


def _file(client: TestClient) -> tuple[str, str]:
    created = file(client, request_body())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["legal_deadline"] == "2027-01-07"
    return body["reference"], body["access_code"]


def test_an_unconfirmed_deadline_is_shown_everywhere_it_is_read(
    client: TestClient, staff_headers: Any
) -> None:
    ref, code = _file(client)
    mine = client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": code}).json()
    assert mine["deadline_unconfirmed"] is True
    receipt = next(n for n in mine["notices"] if n["kind"] == "receipt")
    assert UNCONFIRMED_TEXT in receipt["body"]

    queue = client.get("/v1/staff/requests", headers=staff_headers("agent")).json()
    item = next(i for i in queue["items"] if i["reference"] == ref)
    assert item["deadline_unconfirmed"] is True

    token = csrf_token(client, "/status")
    page = client.post("/status", data={"csrf_token": token, "reference": ref, "access_code": code})
    assert page.status_code == 200
    assert 'id="deadline-unconfirmed"' in page.text and "미확정" in page.text


def test_a_confirmed_deadline_carries_no_caveat(
    settings: Settings, clock: Clock, staff_headers: Any
) -> None:
    clock.now = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)  # due 2026-12-28, inside 2026
    with TestClient(create_app(settings, clock=clock), client=("127.0.0.1", 50000)) as client:
        created = file(client, request_body()).json()
        ref, code = created["reference"], created["access_code"]
        mine = client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": code}).json()
    assert mine["deadline_unconfirmed"] is False
    receipt = next(n for n in mine["notices"] if n["kind"] == "receipt")
    assert UNCONFIRMED_TEXT not in receipt["body"]


def test_start_up_warns_within_sixty_days_of_the_calendar_end(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    def warnings_at(now: datetime, last_year: int) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="rightsdesk"):
            create_app(
                settings.model_copy(update={"calendar_last_year": last_year}), clock=Clock(now)
            )
        return [r.getMessage() for r in caplog.records if "holiday calendar" in r.getMessage()]

    # 2026-11-01 KST is 60 days before 2026-12-31: the warning fires from that day on.
    fired = warnings_at(datetime(2026, 10, 31, 15, 0, tzinfo=UTC), 2026)
    assert len(fired) == 1 and "2026-12-31" in fired[0] and "60 day(s)" in fired[0]
    assert warnings_at(datetime(2026, 10, 31, 14, 59, tzinfo=UTC), 2026) == []
    assert warnings_at(LATE_DECEMBER, 2027) == []


def test_recompute_after_the_calendar_is_extended_moves_and_records_the_deadline(
    client: TestClient, settings: Settings, clock: Clock, staff_headers: Any, tmp_path: Path
) -> None:
    ref, code = _file(client)
    # The next year is checked: 2027 confirmed, and the government named 2027-01-07 a
    # 임시공휴일, so day 10 now rolls to Friday 2027-01-08.
    holidays = tmp_path / "holidays.toml"
    holidays.write_text('[[add]]\ndate = 2027-01-07\nname = "임시공휴일"\n', encoding="utf-8")
    extended = settings.model_copy(update={"calendar_last_year": 2027, "holiday_file": holidays})
    app = create_app(extended, clock=clock)
    result = recompute_deadlines(app.state.runtime)
    assert result.as_dict() == {"examined": 1, "changed": 1, "still_unconfirmed": 0}
    # A second run changes nothing.
    assert recompute_deadlines(app.state.runtime).changed == 0

    with TestClient(app, client=("127.0.0.1", 50000)) as after:
        mine = after.get(f"/v1/requests/{ref}", headers={"X-Access-Code": code}).json()
        assert mine["legal_deadline"] == "2027-01-08"
        assert mine["deadline_unconfirmed"] is False
        detail = after.get(f"/v1/staff/requests/{ref}", headers=staff_headers("agent")).json()
    assert detail["legal_deadline"] == "2027-01-08" and detail["deadline_unconfirmed"] is False
    events = [e for e in detail["events"] if e["kind"] == "deadline_recomputed"]
    assert len(events) == 1
    data = events[0]["data"]
    assert data["old_deadline"] == "2027-01-07" and data["new_deadline"] == "2027-01-08"
    assert data["was_unconfirmed"] is True and data["deadline_unconfirmed"] is False
