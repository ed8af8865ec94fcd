"""`rightsdesk demo`: synthetic requests to try the service with (never in production).

Twelve requests across the types, services and stages a team sees in a normal week: some
awaiting identity, some in review and assigned, one due today, one overdue, an access grant,
a deletion carried out at some holders and waiting on the others. Every person is made up.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from app.db import transaction
from app.evidence.multipart import UploadedFile
from app.evidence.sniff import CSV
from app.models.request import Event, Request
from app.models.request_api import RequestCreate
from app.models.staff import Role, Staff
from app.runtime import Runtime
from app.services.access import extracts, package
from app.services.access.statement import FontMissing
from app.services.decisions import approval, drafting
from app.services.identity import checks
from app.services.intake import FilingContext, file_request
from app.services.requests.detail import request_by_reference
from app.services.staff.accounts import add_staff
from app.services.tasks import execution as tasks
from app.workflows.lifecycle import Outcome
from app.workflows.tasks import Action, Method, Performed

_PEOPLE = [
    ("김가상", "1990-05-01", "demo.kim@example.com"),
    ("이예시", "1985-11-20", "demo.lee@example.com"),
    ("박샘플", "1978-02-14", "demo.park@example.com"),
    ("최견본", "2001-07-30", "demo.choi@example.com"),
]
# (type, service, days ago received, stage)
_PLAN = [
    ("access", "uno", 0, "filed"),
    ("deletion", "smartcrm", 1, "filed"),
    ("correction", "webersoft", 2, "review"),
    ("suspension", "uno", 3, "review"),
    ("consent_withdrawal", "carecrm", 4, "review"),
    ("access", "smartcrm", 5, "review"),
    ("deletion", "uno", 6, "executing"),
    ("access", "uno", 7, "granted"),
    ("access", "webersoft", 8, "review"),
    ("deletion", "carecrm", 9, "filed"),
    ("access", "smartcrm", 20, "review"),  # overdue, whatever holidays fall in between
    ("suspension", "smartcrm", 10, "review"),
]


@dataclass(frozen=True)
class DemoLoad:
    """What `rightsdesk demo` found or made: each row's reference, type, status and, when it
    was made now, its access code (stored hashed: a second run cannot show it again)."""

    already_loaded: bool
    rows: list[dict[str, Any]]


def load(rt: Runtime) -> DemoLoad:
    if rt.settings.env != "development":
        # Synthetic people next to real ones would end up in the register and the statistics.
        raise ValueError(
            "demo data is loaded only when RIGHTSDESK_ENV is development"
            f" (it is {rt.settings.env}); it is never loaded in production"
        )
    with transaction(rt.engine) as session:
        agent, officer = _staff(session, rt)
        existing = _existing(session, agent)
    if existing:
        return DemoLoad(already_loaded=True, rows=existing)
    made = []
    for i, (rtype, service, days, stage) in enumerate(_PLAN):
        with transaction(rt.engine) as session:
            made.append(_one(session, rt, i, rtype, service, days, stage, agent, officer))
    return DemoLoad(already_loaded=False, rows=made)


def _existing(session: Session, agent: Staff) -> list[dict[str, Any]]:
    """The demo's requests already there: those the demo agent filed (their first event)."""
    filed = select(Event.request_id).where(Event.seq == 1, Event.actor == f"staff:{agent.id}")
    found = session.exec(
        select(Request).where(col(Request.id).in_(filed)).order_by(col(Request.id))
    ).all()
    return [
        {"reference": r.reference, "type": r.type, "status": r.status, "access_code": None}
        for r in found
    ]


def _staff(session: Session, rt: Runtime) -> tuple[Staff, Staff]:
    found = []
    for name, role in (("데모 담당자", Role.AGENT), ("데모 보호책임자", Role.OFFICER)):
        staff = session.exec(select(Staff).where(Staff.name == name)).first()
        if staff is None:
            add_staff(session, name=name, role=role, now=rt.clock())
            staff = session.exec(select(Staff).where(Staff.name == name)).one()
        found.append(staff)
    return found[0], found[1]


def _one(
    session: Session,
    rt: Runtime,
    i: int,
    rtype: str,
    service: str,
    days: int,
    stage: str,
    agent: Staff,
    officer: Staff,
) -> dict[str, Any]:
    name, birth, email = _PEOPLE[i % len(_PEOPLE)]
    body: dict[str, Any] = {
        "type": rtype,
        "service": service,
        "subject": {"name": name, "birth_date": birth, "email": email},
        "details": "데모용 가상 요청입니다.",
    }
    if rtype == "correction":
        item = _first_item(rt, service)
        body["correction"] = {"item": item, "requested_value": "데모 정정값"}
    received = rt.clock() - timedelta(days=days, hours=2)
    ctx = FilingContext(
        channel="letter",
        received_at=received,
        actor=f"staff:{agent.id}",
        idempotency_scope="demo",
        idempotency_key=None,
    )
    created, _ = file_request(session, rt, RequestCreate.model_validate(body), ctx)
    request = request_by_reference(session, created.reference)
    if stage != "filed":
        checks.staff_identity_check(
            session, rt, request, result="verified", method="account_record_match",
            note=None, reason=None, actor=f"staff:{agent.id}",
        )  # fmt: skip
        request.assignee_id = agent.id
    if stage == "granted":  # a full grant naming no items grants every item requested
        drafting.draft(session, rt, request, _grant([], access=True), agent)
        _deliver_access(session, rt, request, agent)
    if stage == "executing":
        drafting.draft(session, rt, request, _grant([], record_dates=True), agent)
        approval.approve(session, rt, request, officer, approve=True, note=None)
        for task in tasks.tasks_of(session, request)[:3]:
            done = Performed(Action.DELETED, Method.IRREVERSIBLE_DELETION)
            completion = tasks.Completion([done], "데모", None, by=f"staff:{agent.id}")
            tasks.complete(session, rt, request, task, completion)
    return {
        "reference": created.reference,
        "type": rtype,
        "status": request.status,
        "access_code": created.access_code,
    }


def _deliver_access(session: Session, rt: Runtime, request: Request, agent: Staff) -> None:
    """Each holder's synthetic extract, then the release (the request completes)."""
    task_list = extracts.extract_tasks(session, request)
    files = []
    for task in task_list:
        with rt.evidence.create() as writer:
            writer.write(f"접수번호,보유처\n{request.reference},{task.holder_code}\n".encode())
            blob = writer.commit()
        files.append(
            UploadedFile("files", f"{task.holder_code}.csv", CSV, blob.size, blob.sha256,
                         blob.key, "text/csv")
        )  # fmt: skip
    extracts.add_extracts(session, rt, request, files, task_list, actor=f"staff:{agent.id}")
    # Without a Korean TrueType font here, the package just waits for its release.
    with contextlib.suppress(FontMissing):
        package.release(session, rt, request, agent)


def _first_item(rt: Runtime, service: str) -> str:
    found = rt.policy.service(service)
    assert found is not None
    return found.items[0].code


def _grant(items: list[str], *, access: bool = False, record_dates: bool = False) -> Any:
    terms = drafting.AccessTerms(method="electronic", place="데모 화면") if access else None
    rules = ("comms_access_logs", "comms_fact_records", "ecommerce_contract",
             "ecommerce_advertising", "ecommerce_complaint")  # fmt: skip
    dates = dict.fromkeys(rules) if record_dates else {}
    return drafting.DecisionInput(
        outcome=Outcome.GRANTED,
        grounds=[],
        reason=None,
        items_granted=items,
        items_withheld=[],
        access=terms,
        record_dates=dates,
    )
