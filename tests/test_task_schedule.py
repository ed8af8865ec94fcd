"""Retention and suspension that end: a kept item's destruction opens on the day after its
statutory period (PIPA art. 21(1), 21(3)), and a suspension is followed by the destruction of the
suspended data with its own due date and result notice (art. 37(5); 표준지침 33②). The clock is
injected: time moves, nothing sleeps."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.notice import Notice
from app.runtime import Runtime
from app.services.tasks.links import remind_overdue
from app.services.tasks.schedule import open_due
from tests.conftest import Clock, carry_out
from tests.factories import Case

Headers = Callable[..., dict[str, str]]
DELETED = [{"action": "deleted", "method": "irreversible_deletion"}]
# Who holds 우노's 계약·청약철회·대금결제·재화 등의 공급 기록 in the policy's data map.
PAYMENT_HOLDERS = {"uno_service_db", "aws", "hecto_financial", "hyosung_cms", "signok"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"public_base_url": "http://testserver"}


def notices(db: Session, kind: str) -> list[Notice]:
    db.expire_all()
    return list(db.exec(select(Notice).where(Notice.kind == kind).order_by(Notice.id)).all())


def act_on(
    case: Case, task: dict[str, Any], verb: str, body: dict[str, Any], who: Any = None
) -> Any:
    headers = {**(who or case.handler), "If-Match": case.etag()}
    return case.client.post(f"{case.url}/tasks/{task['id']}/{verb}", json=body, headers=headers)


def of_kind(case: Case, kind: str) -> list[dict[str, Any]]:
    return [t for t in case.tasks()["items"] if t["kind"] == kind]


def test_a_kept_item_is_destroyed_after_its_period_and_the_certificate_records_it(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock, db: Session
) -> None:
    case = Case(
        client, staff_headers, type="deletion", items=["manager_name", "contract_payment_records"]
    )
    # Paid on 2021-12-20: the e-commerce act keeps the record 5 years, to 2026-12-20 (민법 157,
    # 160), so it is destroyed from Mon 2026-12-21.
    case.decide_and_approve(
        outcome="partially_granted",
        reason="결제 기록은 법령에 따라 보존합니다.",
        record_dates={"ecommerce_contract": "2021-12-20", "ecommerce_advertising": None},
    )
    assert of_kind(case, "retention_end") == []  # not before the decision is carried out
    # The officer finds Hyosung CMS never held the payment record: nothing to destroy there.
    assert (
        case.act("hyosung_cms", "waive", {"reason": "보유 기록 없음"}, case.officer).status_code
        == 200
    )
    page = carry_out(client, case.ref, case.handler)
    # The decision is carried out: the request completes; the destruction is tracked on its own.
    assert page["request_status"] == "completed"
    scheduled = of_kind(case, "retention_end")
    holders = {t["holder_code"] for t in scheduled}
    assert {"hecto_financial", "uno_service_db"} <= holders and "hyosung_cms" not in holders
    for t in scheduled:
        assert t["status"] == "scheduled"
        assert t["opens_on"] == "2026-12-21" and t["due_on"] == "2026-12-26"
        assert t["instructions"] == [
            {"item": "contract_payment_records", "instruction": "destroy_at_end"}
        ]
    queue = client.get("/v1/staff/tasks?status=scheduled", headers=case.agent).json()["items"]
    assert {t["id"] for t in queue} == {t["id"] for t in scheduled}
    detail = client.get(case.url, headers=case.agent).json()
    assert detail["next_scheduled_on"] == "2026-12-21"
    listed = client.get("/v1/staff/requests?status=completed", headers=case.agent).json()
    assert [i["next_scheduled_on"] for i in listed["items"]] == ["2026-12-21"]
    cert = client.get(f"{case.url}/certificate", headers=case.agent).text
    assert "보존기간 종료 후 파기" in cert and "2026년 12월 21일(월)부터 파기" in cert
    assert "파기 완료" not in cert

    # Sun 2026-12-20 23:59 KST: still inside the period.
    clock.now = datetime(2026, 12, 20, 14, 59, tzinfo=UTC)
    assert open_due(runtime) == 0
    clock.advance(minutes=1)  # Mon 00:00 KST
    assert open_due(runtime) == len(scheduled)
    assert open_due(runtime) == 0  # opened once
    assert {t["status"] for t in of_kind(case, "retention_end")} == {"open"}
    assert client.get(case.url, headers=case.agent).json()["next_scheduled_on"] is None
    assert case.status() == "completed"

    # The holder is told to destroy, not to separate again; the owner hears the task opened.
    hecto_id = next(t["id"] for t in scheduled if t["holder_code"] == "hecto_financial")
    [hecto] = [
        n
        for n in notices(db, "task_destruction")
        if n.dedupe_key.endswith(f":task:{hecto_id}:instruction")
    ]
    body = runtime.vault.decrypt(hecto.body_enc, field="notice.body")
    assert "보존기간이 끝났으므로" in body and "계약·청약철회·대금결제·재화 등의 공급 기록" in body
    assert "분리해 보관" not in body and "2026년 12월 26일(토)까지" in body
    assert len(notices(db, "task_opened")) == len(scheduled)

    # The holder confirms by its signed link, as for any task.
    link = re.search(r"http://testserver(/tasks/confirm\?token=\S+)", body)
    assert link is not None
    page = client.get(link.group(1))
    assert page.status_code == 200 and case.ref in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert csrf and token
    form = {"csrf_token": csrf.group(1), "token": token.group(1)}
    done = client.post("/tasks/confirm", data={**form, "method_deleted": "irreversible_deletion"})
    assert done.status_code == 200 and "조치 완료가 확인되었습니다" in done.text

    # Overdue after Sat 2026-12-26: the owner is reminded once, though the request completed.
    clock.now = datetime(2026, 12, 27, 1, 0, tzinfo=UTC)
    assert remind_overdue(runtime) == len(scheduled) - 1  # Hecto Financial has confirmed
    assert remind_overdue(runtime) == 0

    for t in of_kind(case, "retention_end"):
        if t["status"] == "done":
            continue
        done = act_on(case, t, "complete", {"actions": DELETED})
        assert done.status_code == 200, done.text
    assert case.status() == "completed"
    cert = client.get(f"{case.url}/certificate", headers=case.agent).text
    assert "파기 완료: 2026년 12월 27일(일) 10:00" in cert
    assert "아직 완료되지 않은" not in cert


def test_a_suspension_is_followed_by_the_destruction_of_the_suspended_data_and_its_notice(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock, db: Session
) -> None:
    case = Case(client, staff_headers, type="suspension", items=["admin_phone"])
    case.decide_and_approve()
    assert of_kind(case, "suspension_followup") == []  # not before the processing stopped
    clock.advance(days=5)  # Sun 2026-12-20: the holders stop processing
    page = carry_out(client, case.ref, case.handler)
    assert page["request_status"] == "completed"
    followups = of_kind(case, "suspension_followup")
    assert len(followups) == 8
    for t in followups:
        assert t["status"] == "open"
        # Its own due date: 10 days from the stop (Wed 2026-12-30), not the request's (12-28).
        assert t["due_on"] == "2026-12-30"
        assert t["instructions"] == [{"item": "admin_phone", "instruction": "destroy_suspended"}]
    assert notices(db, "suspension_followup") == []
    # The follow-up's instruction is its own mail, apart from the suspension's instruction.
    mails = notices(db, "task_destruction")
    assert len(mails) == 8
    body = runtime.vault.decrypt(mails[0].body_enc, field="notice.body")
    assert "제37조제5항" in body and "2026년 12월 30일(수)까지" in body

    *rest, last = followups
    for t in rest:
        assert act_on(case, t, "complete", {"actions": DELETED}).status_code == 200
    assert notices(db, "suspension_followup") == []  # not while one holder has not acted
    reason = "요금 정산 분쟁이 진행 중이어서 정산이 끝날 때까지 처리정지 상태로 보관합니다."
    assert act_on(case, last, "waive", {"reason": reason}, case.officer).status_code == 200
    [notice] = notices(db, "suspension_followup")
    assert notice.audience not in ("holder", "staff")
    detail = client.get(f"/v1/requests/{case.ref}", headers={"X-Access-Code": case.code}).json()
    [shown] = [n for n in detail["notices"] if n["kind"] == "suspension_followup"]
    assert "관리자 전화번호" in shown["body"] and "제37조제5항" in shown["body"]
    # One holder could not destroy it: the item is reported as kept, with the officer's reason,
    # never as destroyed.
    assert "파기하지 않은 개인정보" in shown["body"] and reason in shown["body"]
    assert "파기한 개인정보" not in shown["body"]
    cert = client.get(f"{case.url}/certificate", headers=case.agent).text
    assert "처리정지된 개인정보의 파기" in cert


def test_advertising_and_communication_fact_records_hold_their_items() -> None:
    """The two statutory rules that held no item: a deletion touching those records keeps them
    (PIPA art. 21(1) 단서) and so schedules their destruction."""
    from datetime import date

    from app.policy import DEFAULT_POLICY_FILE, load_policy
    from app.workflows.retention import plan_deletion

    policy = load_policy(DEFAULT_POLICY_FILE)
    uno = policy.service("uno")
    assert uno is not None
    today = date(2026, 12, 15)
    dates: dict[str, date | None] = {
        "comms_access_logs": date(2026, 3, 2),  # 3 months: over
        "comms_fact_records": date(2026, 3, 2),  # 1 year: to 2027-03-02
        "ecommerce_contract": None,
        "ecommerce_advertising": date(2026, 11, 2),  # 6 months: to 2027-05-02
    }
    plans = plan_deletion(
        ["access_datetime", "contract_payment_records", "ip_address"], uno, policy, dates, today
    )
    got = {p.item: (p.action, p.rule, p.keep_until) for p in plans}
    assert got == {
        "access_datetime": ("keep", "comms_fact_records", date(2027, 3, 2)),
        "contract_payment_records": ("keep", "ecommerce_advertising", date(2027, 5, 2)),
        "ip_address": ("delete", None, None),
    }


def test_the_worker_opens_scheduled_tasks_with_the_sla_sweep(runtime: Runtime) -> None:
    from app.services.jobs import periodic_jobs

    jobs = {job.name: job for job in periodic_jobs(runtime)}
    assert "Scheduled tasks" in jobs
    assert jobs["Scheduled tasks"].every_seconds == runtime.settings.sla_sweep_minutes * 60
    assert jobs["Scheduled tasks"].run() == 0  # nothing scheduled
