"""The processing register (GET /v1/staff/reports/register.csv): range in KST, columns,
personal data only for security and officer, every export logged, bounded queries per page."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, col, select

from app.db import transaction
from app.main import create_app
from app.models.identity import IdentityCheck
from app.models.request import Request
from app.models.staff import ExportLog
from app.routers import reports
from app.runtime import Runtime
from app.services.audit.register import HEADER, PERSONAL_HEADER, register_rows, safe_cell
from app.services.notices.outbox import Outbox
from app.settings import Settings
from app.workflows.deadlines import KST
from tests.conftest import Clock, request_body, subject
from tests.factories import ACCESS_TERMS, Desk, assert_problem, deliver_access, file

Headers = Callable[..., dict[str, str]]
URL = "/v1/staff/reports/register.csv"
BOM = b"\xef\xbb\xbf"


@pytest.fixture
def app(settings: Settings, clock: Clock) -> FastAPI:
    """The app, with the reports router wired here until app.main includes it."""
    application = create_app(settings, clock=clock)
    if not any(getattr(r, "path", None) == URL for r in application.routes):
        application.include_router(reports.router)
    return application


def kst(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=KST).astimezone(UTC)


@dataclass
class Filed:
    before: str  # 2026-12-14 23:50 KST: the day before the range
    drafted: str  # 2026-12-15 00:10 KST (UTC 12-14): a refusal still awaiting approval
    decided: str  # 2026-12-15 10:00 KST: partially granted on 35-4-2, notified 10:05
    phone_only: str  # 2026-12-16 23:50 KST: open, subject with a phone only and a formula name
    after: str  # 2026-12-17 00:10 KST (UTC 12-16): the day after the range


FORMULA_NAME = '=HYPERLINK("https://evil.example","x")'


@pytest.fixture
def filed(client: TestClient, staff_headers: Headers, clock: Clock, runtime: Runtime) -> Filed:
    clock.now = kst(2026, 12, 14, 23, 50)
    before = file(client, request_body()).json()["reference"]

    clock.now = kst(2026, 12, 15, 0, 10)
    drafted = Desk(client, staff_headers)
    resp = drafted.staff_write(
        "decision",
        {"outcome": "refused", "grounds": ["35-4-1"], "reason": "법률에 따라 제한됩니다."},
    )
    assert resp.json()["status"] == "awaiting_approval", resp.text

    clock.now = kst(2026, 12, 15, 10, 0)
    decided = Desk(client, staff_headers, items=["manager_name", "access_records"])
    decision = {
        "outcome": "partially_granted",
        "grounds": ["35-4-2"],
        "reason": "접속기록에 다른 직원의 기록이 함께 있어 그 부분은 제외합니다.",
        "items_granted": ["manager_name"],
        "items_withheld": ["access_records"],
        "access": ACCESS_TERMS,
    }
    decided.staff_write("decision", decision, who=decided.officer)
    ok = decided.staff_write("approval", {"approve": True}, who=decided.officer2)
    assert ok.json()["status"] == "executing", ok.text  # the holders' extracts first
    assert deliver_access(client, decided.ref, decided.handler).status_code == 200
    clock.now = kst(2026, 12, 15, 10, 5)
    Outbox(runtime).run_once()

    clock.now = kst(2026, 12, 16, 23, 50)
    person = subject(name=FORMULA_NAME, phone="010-2345-6789")
    del person["email"]
    phone_only = file(client, request_body(type="deletion", subject=person)).json()["reference"]

    clock.now = kst(2026, 12, 17, 0, 10)
    after = file(client, request_body()).json()["reference"]
    # Receipts delivered now are not result notices: 결과통지일시 stays empty for those.
    assert Outbox(runtime).run_once() >= 2
    return Filed(before, drafted.ref, decided.ref, phone_only, after)


def export(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    query = {"from": "2026-12-15", "to": "2026-12-16", **params}
    return client.get(URL, params=query, headers=headers)


def parse(resp: Any) -> list[dict[str, str]]:
    """Rows as dicts by the Korean header, after checking the BOM and the header itself."""
    assert resp.status_code == 200, resp.text
    assert resp.content.startswith(BOM)
    rows = list(csv.reader(io.StringIO(resp.content[len(BOM) :].decode("utf-8"))))
    header, body = rows[0], rows[1:]
    assert header in (HEADER, HEADER + PERSONAL_HEADER)
    return [dict(zip(header, r, strict=True)) for r in body]


def logs(db: Session) -> list[ExportLog]:
    db.expire_all()
    return list(db.exec(select(ExportLog).order_by(col(ExportLog.id))).all())


def test_register_lists_requests_received_in_the_kst_range(
    client: TestClient, staff_headers: Headers, filed: Filed
) -> None:
    resp = export(client, staff_headers("agent"))
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert resp.headers["content-disposition"] == (
        'attachment; filename="rightsdesk-register-2026-12-15-2026-12-16.csv"'
    )
    assert resp.headers["cache-control"] == "no-store"
    text = resp.content[len(BOM) :].decode("utf-8")
    assert text.splitlines()[0] == (
        "접수번호,유형,서비스,접수경로,접수일시,법정기한,본인확인방법,결정,근거,"
        "결과통지일시,종결일시,기한준수"
    )
    rows = parse(resp)
    # KST days: 00:10 on the 15th is in (UTC 14th), 00:10 on the 17th is out (UTC 16th).
    assert [r["접수번호"] for r in rows] == [filed.drafted, filed.decided, filed.phone_only]

    drafted, decided, phone_only = rows
    assert decided == {
        "접수번호": filed.decided,
        "유형": "access 열람",
        "서비스": "uno",
        "접수경로": "api",
        "접수일시": "2026-12-15 10:00",
        "법정기한": "2026-12-28",
        "본인확인방법": "account_record_match",
        "결정": "partially_granted",
        "근거": "35-4-2",
        "결과통지일시": "2026-12-15 10:05",
        "종결일시": "2026-12-15 10:00",
        "기한준수": "Y",
    }
    # A draft awaiting the officer is not a decision yet; the request is still open.
    assert drafted["접수일시"] == "2026-12-15 00:10"
    assert drafted["본인확인방법"] == "account_record_match"
    assert (drafted["결정"], drafted["근거"], drafted["종결일시"], drafted["기한준수"]) == (
        "",
        "",
        "",
        "",
    )
    assert phone_only["유형"] == "deletion 삭제" and phone_only["본인확인방법"] == ""
    assert phone_only["결과통지일시"] == "" and phone_only["기한준수"] == ""
    # Without personal=true no name, e-mail or phone appears anywhere.
    for secret in ("김가상", "example.com", "HYPERLINK", "010-2345-6789"):
        assert secret not in text


def test_personal_register_adds_subject_name_and_contact(
    client: TestClient, staff_headers: Headers, filed: Filed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "_CHUNK_CHARS", 40)  # many small chunks: none lost or doubled
    for role in ("security", "officer"):
        rows = parse(export(client, staff_headers(role), personal="true"))
        by_ref = {r["접수번호"]: r for r in rows}
        assert set(by_ref) == {filed.drafted, filed.decided, filed.phone_only}
        assert by_ref[filed.decided]["정보주체 성명"] == "김가상"
        assert by_ref[filed.decided]["연락처"] == "kim.gasang@example.com"
        assert by_ref[filed.phone_only]["연락처"] == "010-2345-6789"
        # A name that is a formula reaches the spreadsheet as text.
        assert by_ref[filed.phone_only]["정보주체 성명"] == "'" + FORMULA_NAME


def test_personal_data_is_for_security_and_officer_only(
    client: TestClient, staff_headers: Headers, filed: Filed, db: Session
) -> None:
    agent = staff_headers("agent")
    assert_problem(export(client, agent, personal="true"), 403, "forbidden")
    assert_problem(export(client, staff_headers("admin")), 403, "forbidden")
    assert logs(db) == []  # refused exports send nothing and log nothing
    assert export(client, agent, personal="false").status_code == 200
    assert export(client, {}).status_code == 401


def test_every_export_is_logged_with_its_row_count_and_personal_flag(
    client: TestClient, staff_headers: Headers, filed: Filed, db: Session
) -> None:
    me = client.get("/v1/staff/me", headers=(officer := staff_headers("officer"))).json()
    parse(export(client, officer))
    parse(export(client, officer, personal="true", to="2026-12-15"))
    plain, personal = logs(db)
    assert (plain.staff_id, plain.kind, plain.personal_data, plain.row_count) == (
        me["staff_id"],
        "register",
        False,
        3,
    )
    assert plain.params == "from=2026-12-15;to=2026-12-16;personal=false"
    assert plain.client_ip == "127.0.0.1"
    assert (personal.personal_data, personal.row_count) == (True, 2)
    assert personal.params == "from=2026-12-15;to=2026-12-15;personal=true"
    assert personal.at == kst(2026, 12, 17, 0, 10)


@pytest.mark.parametrize(
    ("closed_at", "on_time"),
    [(kst(2026, 12, 28, 23, 59), "Y"), (kst(2026, 12, 29, 0, 0), "N")],
)
def test_closure_is_on_time_up_to_the_last_day_of_the_legal_deadline(
    client: TestClient, staff_headers: Headers, clock: Clock, closed_at: datetime, on_time: str
) -> None:
    desk = Desk(client, staff_headers)  # received Tue 2026-12-15 10:00 KST, due Mon 12-28
    clock.now = closed_at
    desk.staff_write(
        "decision",
        {"outcome": "granted", "access": ACCESS_TERMS},
    )
    done = deliver_access(client, desk.ref, desk.handler)  # completes at the release
    assert done.status_code == 200 and desk.mine()["status"] == "completed", done.text
    [row] = parse(export(client, desk.agent, to="2026-12-15"))
    assert (row["법정기한"], row["종결일시"], row["기한준수"]) == (
        "2026-12-28",
        closed_at.astimezone(KST).strftime("%Y-%m-%d %H:%M"),
        on_time,
    )
    assert row["결정"] == "granted" and row["결과통지일시"] == ""  # not delivered yet


def test_an_empty_range_is_a_header_only(client: TestClient, staff_headers: Headers) -> None:
    resp = export(client, staff_headers("agent"), **{"from": "2025-01-01", "to": "2025-01-31"})
    assert parse(resp) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-12-16", "to": "2026-12-15"}, "from"),
        ({"from": "2026-01-01", "to": "2027-01-02"}, "to"),  # 367 days
        ({"from": "2026-13-01", "to": "2026-12-15"}, "from"),
        ({"to": "2026-12-15"}, "from"),
        ({"from": "2026-12-15"}, "to"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "to"),
    ],
)
def test_bad_ranges_are_422(
    client: TestClient, staff_headers: Headers, params: dict[str, str], field: str, db: Session
) -> None:
    resp = client.get(URL, params=params, headers=staff_headers("security"))
    assert_problem(resp, 422, "validation_error", field)
    assert logs(db) == []


def test_a_full_leap_year_is_allowed(client: TestClient, staff_headers: Headers) -> None:
    resp = client.get(
        URL, params={"from": "2028-01-01", "to": "2028-12-31"}, headers=staff_headers("agent")
    )
    assert parse(resp) == []


def test_pages_cost_a_fixed_number_of_queries_and_keep_order_on_ties(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    # Five requests at the very same instant: the keyset must fall back on the id.
    refs = [file(client, request_body()).json()["reference"] for _ in range(5)]
    Desk(client, staff_headers)  # a sixth with an identity check, same instant

    def export_rows(personal: bool) -> tuple[list[list[str]], list[str]]:
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(runtime.engine, "before_cursor_execute", count)
        try:
            with Session(runtime.engine) as session:
                rows = list(
                    register_rows(
                        session,
                        runtime,
                        received_from=date(2026, 12, 15),
                        received_to=date(2026, 12, 15),
                        personal=personal,
                        page_size=2,
                    )
                )
        finally:
            event.remove(runtime.engine, "before_cursor_execute", count)
        return rows, statements

    rows, statements = export_rows(personal=True)
    assert rows[0] == HEADER + PERSONAL_HEADER
    got = [r[0] for r in rows[1:]]
    assert got[:5] == refs and len(got) == 6 and len(set(got)) == 6
    # 3 full pages: requests, identity, decisions, notices, parties; then one empty page.
    assert len(statements) == 3 * 5 + 1, statements
    # Without personal data the parties are not even read.
    rows, statements = export_rows(personal=False)
    assert rows[0] == HEADER and [r[0] for r in rows[1:]] == got
    assert len(statements) == 3 * 4 + 1, statements
    assert not any("party" in s for s in statements)


def test_the_latest_successful_identity_check_is_the_method(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock
) -> None:
    desk = Desk(client, staff_headers)  # verified by account_record_match
    with transaction(runtime.engine) as session:
        request = session.exec(select(Request).where(Request.reference == desk.ref)).one()
        assert request.id is not None
        for method, result in (("id_copy", "verified"), ("one_time_code", "failed")):
            clock.advance(minutes=1)
            session.add(
                IdentityCheck(
                    request_id=request.id,
                    method=method,
                    result=result,
                    actor="test",
                    checked_at=clock(),
                )
            )
    [row] = parse(export(client, desk.agent, to="2026-12-15"))
    assert row["본인확인방법"] == "id_copy"


# Formulas hidden behind what a spreadsheet ignores or reads the same (issue 16).
HIDDEN_FORMULAS = [
    '\u200b=HYPERLINK("https://evil.example","x")',  # zero-width space
    "\ufeff=1+1",  # byte order mark
    "\u200e\u200f=1+1",  # bidi marks
    "\u202e=1+1",  # right-to-left override
    "\u2066@SUM(A1)",  # bidi isolate
    " =1+1",  # a space
    "\u00a0\u3000+1",  # no-break and ideographic spaces
    "\u2060-1",  # word joiner
    '＝HYPERLINK("https://evil.example")',  # fullwidth equals
    "＋1",
    "－1",
    "＠SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "\tanything",  # a leading tab or CR is itself refused, as before
    "\ranything",
]


@pytest.mark.parametrize("value", HIDDEN_FORMULAS, ids=ascii)
def test_a_formula_behind_invisible_or_fullwidth_characters_is_quoted(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["김가상", "a=b", "010-2345-6789", "kim@example.com", ""])
def test_ordinary_text_is_left_as_it_is(value: str) -> None:
    assert safe_cell(value) == value


def test_a_name_with_a_hidden_formula_reaches_the_register_as_text(
    client: TestClient, staff_headers: Headers, clock: Clock
) -> None:
    clock.now = kst(2026, 12, 15, 10, 0)
    # Intake refuses invisible characters in names (app/textsafety.py), so a name can reach the
    # register only with a full-width starter; the guard's invisible-character case is the
    # unit test above.
    names = ['＝HYPERLINK("https://evil.example","x")', "＝1+1"]
    for name in names:
        resp = file(client, request_body(subject=subject(name=name)))
        assert resp.status_code == 201, resp.text
    rows = parse(export(client, staff_headers("security"), personal="true"))
    cells = [r["정보주체 성명"] for r in rows]
    assert len(cells) == 2 and all(c.startswith("'") for c in cells), [ascii(c) for c in cells]
