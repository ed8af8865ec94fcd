"""SLA operations: assignment, the dashboard, and reminders sent once as the clock moves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.notice import Notice
from app.runtime import Runtime
from app.services.sla.reminders import sweep
from app.workflows.deadlines import KST
from tests.conftest import TEST_KEY, Clock, request_body
from tests.factories import ACCESS_TERMS, Desk, assert_problem, deliver_access, file

Headers = Callable[..., dict[str, str]]


def kst(day: str, hour: int = 10) -> datetime:
    """A KST wall-clock time as an aware datetime (the clock converts it as it goes)."""
    y, m, d = map(int, day.split("-"))
    return datetime(y, m, d, hour, 0, tzinfo=KST)


def reminders(db: Session, runtime: Runtime) -> list[tuple[str, str]]:
    db.expire_all()
    rows = db.exec(select(Notice).where(Notice.audience == "staff").order_by(Notice.id)).all()  # type: ignore[arg-type]
    return [
        (n.kind, runtime.vault.decrypt(n.recipient_enc, field="notice.recipient")) for n in rows
    ]


def sla_of(client: TestClient, h: dict[str, str], ref: str) -> str:
    return str(client.get(f"/v1/staff/requests/{ref}", headers=h).json()["sla"])


def test_clock_moves_through_every_state_and_each_reminder_goes_once(
    client: TestClient, staff_headers: Headers, clock: Clock, db: Session, runtime: Runtime
) -> None:
    team = "heegon.oh@carelabs.co.kr"  # the policy's intake department
    officer = "cs@carecrm.co.kr"  # the policy's privacy officer
    h = staff_headers("security", name="보안 담당")
    created = file(client, request_body()).json()  # received Tue 12-15, due Mon 12-28
    ref = created["reference"]
    assert sla_of(client, h, ref) == "on_track"
    assert sweep(runtime).as_dict() == {"due_soon": 0, "overdue": 0, "unassigned": 0, "examined": 0}

    clock.now = kst("2026-12-16", 11)  # a day later, still nobody on it
    item = client.get("/v1/staff/requests", headers=h).json()["items"][0]
    assert item["unassigned_too_long"] is True
    assert sweep(runtime).unassigned == 1
    assert sweep(runtime).unassigned == 0  # again: nothing new
    assert reminders(db, runtime) == [("reminder_unassigned", team)]

    clock.now = kst("2026-12-24")  # 4 days left: still on track
    assert sla_of(client, h, ref) == "on_track" and sweep(runtime).due_soon == 0
    clock.now = kst("2026-12-25")  # 3 days left
    assert sla_of(client, h, ref) == "due_soon"
    assert sweep(runtime).due_soon == 1 and sweep(runtime).due_soon == 0
    assert reminders(db, runtime)[-1] == ("reminder_due_soon", team)

    # Someone takes it, with an address for reminders.
    desk_staff = client.get("/v1/staff/me", headers=h).json()
    from app.db import transaction
    from app.models.staff import Staff

    with transaction(runtime.engine) as session:
        session.get(Staff, desk_staff["staff_id"]).email = "security.desk@example.com"  # type: ignore[union-attr]
    etag = client.get(f"/v1/staff/requests/{ref}", headers=h).headers["etag"]
    assigned = client.patch(
        f"/v1/staff/requests/{ref}",
        json={"assignee": desk_staff["staff_id"]},
        headers={**h, "If-Match": etag},
    )
    assert assigned.status_code == 200 and assigned.json()["assignee"] == desk_staff["staff_id"]

    clock.now = kst("2026-12-28", 23)  # the last day, 23:00 KST: not yet overdue
    assert sla_of(client, h, ref) == "due_soon" and sweep(runtime).overdue == 0
    clock.now = kst("2026-12-29", 0)  # 00:00 KST the next day: overdue from here
    assert sla_of(client, h, ref) == "overdue"
    assert sweep(runtime).overdue == 2 and sweep(runtime).overdue == 0
    assert reminders(db, runtime)[-2:] == [
        ("reminder_overdue", "security.desk@example.com"),
        ("reminder_overdue", officer),
    ]
    body = runtime.vault.decrypt(
        db.exec(select(Notice).where(Notice.kind == "reminder_overdue")).first().body_enc,  # type: ignore[union-attr]
        field="notice.body",
    )
    assert ref in body and "1일 넘겼습니다" in body and "김가상" not in body

    # The requester never sees the team's reminders.
    mine = client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": created["access_code"]})
    assert {n["kind"] for n in mine.json()["notices"]} == {"receipt", "verification_code"}


def test_closed_late_is_breached_and_on_time_is_met(
    client: TestClient, staff_headers: Headers, clock: Clock
) -> None:
    late = Desk(client, staff_headers)
    on_time = Desk(client, staff_headers)
    on_time.staff_write(
        "decision",
        {"outcome": "granted", "access": ACCESS_TERMS},
    )
    deliver_access(client, on_time.ref, on_time.handler)  # completes at the release
    clock.now = kst("2026-12-30")
    late.staff_write(
        "decision",
        {"outcome": "granted", "access": ACCESS_TERMS},
    )
    deliver_access(client, late.ref, late.handler)
    assert sla_of(client, late.agent, late.ref) == "breached"
    assert sla_of(client, late.agent, on_time.ref) == "met"
    summary = client.get("/v1/staff/sla/summary", headers=late.agent).json()
    assert summary["totals"]["met"] == 1 and summary["totals"]["breached"] == 1
    assert summary["last_30_days"] == {
        "closed": 2,
        "on_time": 1,
        "on_time_rate": 0.5,
        "median_days_to_close": 7.5,
    }


def test_dashboard_summary(client: TestClient, staff_headers: Headers, clock: Clock) -> None:
    h = staff_headers("agent")
    letters = [
        ("2026-11-20", "access", "uno"),
        ("2026-12-05", "deletion", "smartcrm"),
        ("2026-12-06", "access", "uno"),
        ("2026-12-14", "suspension", "webersoft"),
    ]
    refs = []
    for day, rtype, service in letters:
        body = request_body(
            type=rtype, service=service, channel="letter", received_at=f"{day}T09:00:00+09:00"
        )
        refs.append(client.post("/v1/staff/requests", json=body, headers=h).json()["reference"])
    clock.now = kst("2026-12-15")
    s = client.get("/v1/staff/sla/summary", headers=h).json()
    assert s["today"] == "2026-12-15"
    assert s["totals"] == {"on_track": 1, "due_soon": 2, "overdue": 1, "met": 0, "breached": 0}
    assert {"sla": "overdue", "type": "access", "service": "uno", "count": 1} in s["counts"]
    assert s["oldest_overdue"][0]["reference"] == refs[0]
    assert s["oldest_overdue"][0]["days_overdue"] == 15  # due 11-30
    assert [d["reference"] for d in s["due_today"]] == [refs[1]]  # 12-05 + 10 = 12-15
    assert [d["reference"] for d in s["due_tomorrow"]] == [refs[2]]
    assert s["unassigned_too_long"] == 4
    assert s["last_90_days"]["closed"] == 0 and s["last_90_days"]["on_time_rate"] is None
    admin = client.get("/v1/staff/sla/summary", headers=staff_headers("admin"))
    assert_problem(admin, 403, "forbidden")


def test_assignment_and_internal_notes(client: TestClient, staff_headers: Headers) -> None:
    h = staff_headers("agent", name="첫 담당")
    other = staff_headers("security", name="둘째 담당")
    admin = staff_headers("admin", name="관리자")
    ref = file(client, request_body()).json()["reference"]
    me = client.get("/v1/staff/me", headers=h).json()["staff_id"]
    admin_id = client.get("/v1/staff/me", headers=admin).json()["staff_id"]

    def patch(body: dict[str, Any], headers: dict[str, str] = h, etag: str | None = None) -> Any:
        tag = etag or client.get(f"/v1/staff/requests/{ref}", headers=h).headers["etag"]
        return client.patch(
            f"/v1/staff/requests/{ref}", json=body, headers={**headers, "If-Match": tag}
        )

    assert_problem(
        client.patch(f"/v1/staff/requests/{ref}", json={"assignee": me}, headers=h),
        428,
        "precondition_required",
    )
    assert_problem(patch({"assignee": admin_id}), 422, "unknown_assignee", "assignee")
    assert_problem(patch({"assignee": 9999}), 422, "unknown_assignee")
    done = patch({"assignee": me, "note": "고객센터 통화 내용 확인 필요"})
    assert done.json()["assignee"] == me
    assert done.json()["internal_notes"][0]["note"] == "고객센터 통화 내용 확인 필요"
    mine = client.get("/v1/staff/requests", params={"assignee": "me"}, headers=h).json()
    assert [i["reference"] for i in mine["items"]] == [ref]
    assert (
        client.get("/v1/staff/requests", params={"assignee": "me"}, headers=other).json()["items"]
        == []
    )
    stale = patch({"assignee": None}, etag='"1"')
    assert_problem(stale, 412, "version_mismatch")
    cleared = patch({"assignee": None})
    assert cleared.json()["assignee"] is None
    kinds = [e["kind"] for e in cleared.json()["events"]]
    assert kinds.count("assigned") == 2 and "note_added" in kinds
    assert "고객센터" not in json.dumps(cleared.json()["events"], ensure_ascii=False)


@pytest.mark.slow  # the command in subprocesses
def test_sweep_from_the_command_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RIGHTSDESK_ENV": "test",
        "RIGHTSDESK_DATA_DIR": str(tmp_path),
        "RIGHTSDESK_DATA_KEY": TEST_KEY,
        "RIGHTSDESK_UNASSIGNED_FLAG_HOURS": "1",
    }
    run = [sys.executable, "-m", "app.cli"]
    assert (
        subprocess.run([*run, "migrate"], env=env, capture_output=True, timeout=60).returncode == 0
    )
    from app.main import create_app
    from app.settings import Settings

    old = Clock(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))
    settings = Settings(env="test", data_dir=tmp_path, data_key=TEST_KEY, embedded_worker=False)
    with TestClient(create_app(settings, clock=old)) as c:
        assert file(c, request_body()).status_code == 201
    first = subprocess.run(
        [*run, "sla", "sweep"], env=env, capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)
    assert counts["overdue"] == 2 and counts["unassigned"] == 1
    again = json.loads(
        subprocess.run(
            [*run, "sla", "sweep"], env=env, capture_output=True, text=True, timeout=60
        ).stdout
    )
    assert again["overdue"] == again["unassigned"] == 0


class TestEmbeddedSweep:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"embedded_worker": True, "worker_poll_seconds": 0.05, "sla_sweep_minutes": 0.001}

    def test_the_web_process_sweeps_by_itself(
        self, client: TestClient, clock: Clock, db: Session, runtime: Runtime
    ) -> None:
        file(client, request_body())
        clock.now = kst("2026-12-30")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            k == "reminder_overdue" for k, _ in reminders(db, runtime)
        ):
            time.sleep(0.05)
        assert ("reminder_overdue", "cs@carecrm.co.kr") in reminders(db, runtime)


def test_summary_counts_agree_with_the_sla_definition(
    client: TestClient, staff_headers: Headers, clock: Clock, runtime: Runtime, db: Session
) -> None:
    """The dashboard reads its counts from indexes; they must equal grouping by sla_column."""
    from sqlalchemy import func
    from sqlmodel import col

    from app.models.request import Request
    from app.workflows.deadlines import kst_date
    from app.workflows.sla import sla_column

    on_time = Desk(client, staff_headers, service="smartcrm", items=["gender"])
    on_time.staff_write(
        "decision", {"outcome": "granted", "items_granted": ["gender"], "access": ACCESS_TERMS}
    )
    deliver_access(client, on_time.ref, on_time.handler)  # completes at the release
    h = staff_headers("agent")
    for day, rtype, service in [
        ("2026-11-20", "access", "uno"),
        ("2026-12-05", "deletion", "uno"),
        ("2026-12-14", "suspension", "webersoft"),
    ]:
        body = request_body(
            type=rtype, service=service, channel="letter", received_at=f"{day}T09:00:00+09:00"
        )
        client.post("/v1/staff/requests", json=body, headers=h)
    late = Desk(client, staff_headers, type="access")
    for moment in ("2026-12-20", "2026-12-30", "2027-01-10"):
        clock.now = kst(moment)
        if moment == "2026-12-30":
            late.staff_write(
                "decision",
                {"outcome": "granted", "access": ACCESS_TERMS},
            )
            deliver_access(client, late.ref, late.handler)  # completes at the release
        state = sla_column(
            status=col(Request.status),
            legal_due_on=col(Request.legal_due_on),
            closed_on=col(Request.closed_on),
            today=kst_date(clock.now),
            due_soon_days=runtime.settings.due_soon_days,
        )
        db.expire_all()
        expected = sorted(
            tuple(row)
            for row in db.exec(
                select(state, Request.type, Request.service, func.count()).group_by(
                    state, Request.type, Request.service
                )
            ).all()
        )
        got = client.get("/v1/staff/sla/summary", headers=h).json()["counts"]
        assert sorted((c["sla"], c["type"], c["service"], c["count"]) for c in got) == expected
        assert {s for s, *_ in expected} >= (
            {"met", "on_track"} if moment < "2026-12-30" else {"met", "breached"}
        ), moment
