"""Staff e-mails link to the console (issue 22, 9): a request's reminder to its page at
PUBLIC_BASE_URL + /staff/requests/{ref}, a task's to the tasks board; never an API path."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.notice import Notice
from app.runtime import Runtime
from app.services.sla.reminders import sweep
from app.services.tasks.links import remind_overdue
from app.workflows.console_links import request_page_url, tasks_board_url
from app.workflows.deadlines import KST
from tests.conftest import Clock, request_body
from tests.factories import Case, file

BASE = "https://privacy.example.kr"
NOTICES = Path(__file__).resolve().parent.parent / "app" / "templates" / "notices"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"public_base_url": BASE}


def staff_bodies(db: Session, runtime: Runtime, kind: str) -> list[str]:
    db.expire_all()
    rows = db.exec(select(Notice).where(Notice.kind == kind)).all()
    return [runtime.vault.decrypt(n.body_enc, field="notice.body") for n in rows]


def test_request_reminders_link_to_the_request_page_in_the_console(
    client: TestClient, runtime: Runtime, clock: Clock, db: Session
) -> None:
    ref = file(client, request_body()).json()["reference"]
    clock.now = datetime(2026, 12, 16, 11, tzinfo=KST)  # a day on, nobody assigned
    assert sweep(runtime).unassigned == 1
    clock.now = datetime(2026, 12, 29, 9, tzinfo=KST)  # past the legal deadline
    assert sweep(runtime).overdue >= 1
    for kind in ("reminder_unassigned", "reminder_overdue"):
        bodies = staff_bodies(db, runtime, kind)
        assert bodies, kind
        for body in bodies:
            assert f"https://privacy.example.kr/staff/requests/{ref}" in body
            assert "/v1/" not in body


def test_task_reminders_link_to_the_tasks_board(
    client: TestClient, runtime: Runtime, staff_headers: Any, clock: Clock, db: Session
) -> None:
    case = Case(client, staff_headers, type="suspension")
    case.decide_and_approve()
    clock.advance(days=11)
    assert remind_overdue(runtime) >= 1
    [body, *_] = staff_bodies(db, runtime, "task_overdue")
    assert "https://privacy.example.kr/staff/tasks" in body and "/v1/" not in body


def test_no_staff_e_mail_template_names_an_api_path() -> None:
    staff_facing = [*NOTICES.glob("reminder_*.txt.j2"), *NOTICES.glob("task_*.txt.j2")]
    assert len(staff_facing) >= 5
    for template in staff_facing:
        text = template.read_text(encoding="utf-8")
        assert "/v1/" not in text and "GET " not in text, template.name


def test_the_links_follow_the_public_base_url() -> None:
    assert request_page_url("https://privacy.example.kr/", "DSR-2612-AAAA") == (
        "https://privacy.example.kr/staff/requests/DSR-2612-AAAA"
    )
    assert request_page_url(None, "DSR-2612-AAAA") == "/staff/requests/DSR-2612-AAAA"
    assert tasks_board_url("https://privacy.example.kr") == "https://privacy.example.kr/staff/tasks"
