"""Trust: the sealed timeline, the access log, staff tokens, the tracker's own retention."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.db import transaction
from app.models.identity import Attachment
from app.models.request import Event, Party, Request
from app.models.staff import ApiToken, Role
from app.runtime import Runtime
from app.services.audit.purge import purge
from app.services.audit.verify import anchor, verify
from app.services.staff.accounts import add_staff
from app.settings import Settings
from tests.conftest import Clock, carry_out, request_body, subject
from tests.factories import file, rightsdesk

Headers = Callable[..., dict[str, str]]


def a_request(client: TestClient, staff_headers: Headers, **body: Any) -> tuple[str, str]:
    created = file(client, request_body(**body)).json()
    ref = created["reference"]
    handler = staff_headers("security")
    etag = client.get(f"/v1/staff/requests/{ref}", headers=handler).headers["etag"]
    resp = client.post(
        f"/v1/staff/requests/{ref}/identity",
        json={"result": "verified", "method": "account_record_match"},
        headers={**handler, "If-Match": etag},
    )
    assert resp.status_code == 200, resp.text
    return ref, created["access_code"]


def event_of(db: Session, reference: str, seq: int) -> Event:
    db.expire_all()
    rid = db.exec(select(Request.id).where(Request.reference == reference)).one()
    return db.exec(select(Event).where(Event.request_id == rid, Event.seq == seq)).one()


# --- the sealed timeline -----------------------------------------------------------------------


def test_changing_an_event_by_hand_is_named_by_audit_verify(
    client: TestClient, staff_headers: Headers, runtime: Runtime, db: Session
) -> None:
    ref, _ = a_request(client, staff_headers)
    other, _ = a_request(client, staff_headers)
    assert verify(runtime)["intact"] is True
    target = event_of(db, ref, 2)
    with runtime.engine.begin() as conn:  # someone with database access edits the history
        conn.execute(text("UPDATE event SET actor = 'staff:999' WHERE id = :id"), {"id": target.id})
    report = verify(runtime)
    assert report["intact"] is False
    assert report["first_break"] == {
        "where": "event",
        "id": target.id,
        "reference": ref,
        "seq": 2,
        "reason": "content differs from what was sealed",
    }
    auditor = staff_headers("security")
    api = client.get("/v1/staff/audit/verify", headers=auditor).json()
    assert api["first_break"]["reference"] == ref
    assert client.get("/v1/staff/audit/verify", headers=staff_headers("agent")).status_code == 403
    assert other != ref


def test_re_sealing_without_the_key_and_deleting_events_are_caught_too(
    client: TestClient, staff_headers: Headers, runtime: Runtime, db: Session
) -> None:
    ref, _ = a_request(client, staff_headers)
    assert anchor(runtime) is not None and anchor(runtime) is None  # nothing new the 2nd time
    rid = db.exec(select(Request.id).where(Request.reference == ref)).one()
    top = max(db.exec(select(Event.seq).where(Event.request_id == rid)).all())
    last = event_of(db, ref, top)
    # Deleting the newest (anchored) event leaves an intact-looking, shorter chain: the anchor
    # still remembers its head.
    with runtime.engine.begin() as conn:
        conn.execute(text("DELETE FROM event WHERE id = :id"), {"id": last.id})
    report = verify(runtime)
    assert report["first_break"]["reason"] == "an anchored event is missing"
    assert (report["first_break"]["reference"], report["first_break"]["seq"]) == (ref, top)


def test_a_gap_in_a_chain_and_a_forged_anchor_are_named(
    client: TestClient, staff_headers: Headers, runtime: Runtime, db: Session
) -> None:
    ref, _ = a_request(client, staff_headers)
    anchor(runtime)
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE audit_anchor SET last_event_id = last_event_id + 1"))
    assert verify(runtime)["first_break"]["where"] == "anchor"
    middle = event_of(db, ref, 2)
    with runtime.engine.begin() as conn:
        conn.execute(text("DELETE FROM event WHERE id = :id"), {"id": middle.id})
    report = verify(runtime)
    assert report["first_break"]["reason"] == "seq 2 is missing"


@pytest.mark.slow  # the command in subprocesses
def test_audit_verify_from_the_command_line(tmp_path: Path) -> None:
    env = {
        "RIGHTSDESK_ENV": "test",
        "RIGHTSDESK_DATA_DIR": str(tmp_path),
        "RIGHTSDESK_DATA_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    }
    assert rightsdesk(env, "migrate").returncode == 0
    from app.main import create_app

    settings = Settings(env="test", data_dir=tmp_path, data_key=env["RIGHTSDESK_DATA_KEY"])
    with TestClient(create_app(settings)) as client:
        assert file(client, request_body()).status_code == 201
    ok = rightsdesk(env, "audit", "verify")
    assert ok.returncode == 0 and '"intact": true' in ok.stdout
    db = tmp_path / "rightsdesk.db"
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE event SET kind = 'filed_by_nobody' WHERE seq = 1")
    broken = rightsdesk(env, "audit", "verify")
    assert broken.returncode == 1
    assert "audit chain broken at event" in broken.stderr and "seq 1" in broken.stderr


# --- the access log ------------------------------------------------------------------------------


def test_every_read_is_logged_with_its_purpose_and_the_officer_queries_and_exports_it(
    client: TestClient, staff_headers: Headers
) -> None:
    ref, _ = a_request(client, staff_headers)
    agent, officer = staff_headers("agent", "담당자 갑"), staff_headers("officer")
    headers = {**agent, "X-Access-Purpose": quote("민원 회신 내용 확인")}
    assert client.get(f"/v1/staff/requests/{ref}", headers=headers).status_code == 200
    today = "2026-12-15"
    params = {"from": today, "to": today, "reference": ref}
    rows = client.get("/v1/staff/audit/access-log", params=params, headers=officer).json()["items"]
    mine = [r for r in rows if r["staff"] == "담당자 갑"]
    assert [(r["action"], r["purpose"]) for r in mine] == [("view_detail", "민원 회신 내용 확인")]
    assert {r["client_ip"] for r in rows} == {"127.0.0.1"}
    assert client.get("/v1/staff/audit/access-log", params=params, headers=agent).status_code == 403
    exported = client.get(
        "/v1/staff/audit/access-log",
        params={"from": today, "to": today, "format": "csv"},
        headers=officer,
    )
    assert exported.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert table[0][0] == "일시(KST)" and any("민원 회신 내용 확인" in r for r in table)
    # The export is itself in the log.
    again = client.get(
        "/v1/staff/audit/access-log", params={"from": today, "to": today}, headers=officer
    ).json()["items"]
    assert any(r["kind"] == "export" and r["action"].startswith("access_log") for r in again)


# --- tokens ------------------------------------------------------------------------------------


def test_tokens_expire_record_their_last_use_and_revocation_takes_effect_at_once(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock, db: Session
) -> None:
    with transaction(runtime.engine) as session:
        made = add_staff(session, name="만료 예정", role=Role.AGENT, now=clock(), token_ttl_days=30)
    bearer = {"Authorization": f"Bearer {made.token}"}
    admin = staff_headers("admin")
    assert client.get("/v1/staff/me", headers=bearer).status_code == 200
    [listed] = [t for t in client.get("/v1/staff/admin/tokens", headers=admin).json()["items"]
                if t["staff"] == "만료 예정"]  # fmt: skip
    assert listed["usable"] and listed["last_used_at"] is not None
    assert listed["expires_at"].startswith("2027-01-14")
    assert client.get("/v1/staff/admin/tokens", headers=bearer).status_code == 403
    clock.advance(days=31)
    expired = client.get("/v1/staff/me", headers=bearer)
    assert expired.status_code == 401 and expired.json()["code"] == "unauthenticated"

    other = staff_headers("security")
    assert client.get("/v1/staff/me", headers=other).status_code == 200
    token_id = next(
        t["id"] for t in client.get("/v1/staff/admin/tokens", headers=admin).json()["items"]
        if t["role"] == "security"
    )  # fmt: skip
    revoked = client.post(f"/v1/staff/admin/tokens/{token_id}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["usable"] is False
    assert client.get("/v1/staff/me", headers=other).status_code == 401
    db.expire_all()
    assert db.exec(select(ApiToken).where(col(ApiToken.revoked_at).is_not(None))).all()


# --- the tracker's own retention ------------------------------------------------------------------


def test_purge_removes_personal_data_of_long_closed_requests_and_keeps_the_statistics(
    client: TestClient,
    staff_headers: Headers,
    runtime: Runtime,
    clock: Clock,
    db: Session,
    settings: Settings,
) -> None:
    ref, _ = a_request(client, staff_headers, type="suspension", details="가상의 상세 사유")
    handler, officer = staff_headers("security"), staff_headers("officer")
    url = f"/v1/staff/requests/{ref}"
    for path, body in (("decision", {"outcome": "granted"}), ("approval", {"approve": True})):
        who = handler if path == "decision" else officer
        etag = client.get(url, headers=handler).headers["etag"]
        assert client.post(f"{url}/{path}", json=body, headers={**who, "If-Match": etag}).is_success
    carry_out(client, ref, handler)
    open_ref, _ = a_request(client, staff_headers, subject=subject(name="박가상"))
    assert purge(runtime)["requests"] == 0  # closed today: nothing is due
    clock.advance(days=settings.purge_after_days + 1)
    assert purge(runtime, dry_run=True)["requests"] == 1
    assert purge(runtime)["requests"] == 1
    db.expire_all()
    rid = db.exec(select(Request.id).where(Request.reference == ref)).one()
    party = db.exec(select(Party).where(Party.request_id == rid)).one()
    assert (party.name_enc, party.email_enc, party.name_bidx) == (None, None, None)
    detail = client.get(url, headers=handler).json()
    assert detail["details"] is None and detail["subject"]["name"] is None
    assert detail["status"] == "completed" and detail["outcome"] == "granted"
    assert detail["events"][-1]["kind"] == "personal_data_purged"
    open_detail = client.get(f"/v1/staff/requests/{open_ref}", headers=handler).json()
    assert open_detail["subject"]["name"] == "박가상"  # open requests are never touched
    assert verify(runtime)["intact"] is True  # the timeline and its seals survive
    assert purge(runtime)["requests"] == 0  # once


def test_purge_deletes_evidence_files(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock, db: Session
) -> None:
    created = client.post(
        "/v1/requests",
        data={"request": '{"type": "access", "service": "uno", "subject": '
              '{"name": "김가상", "birth_date": "1990-05-01", "email": "kim.gasang@example.com"}}',
              "attachment_kinds": "other"},
        files={"attachments": ("id.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    ref, code = created.json()["reference"], created.json()["access_code"]
    assert client.post(f"/v1/requests/{ref}/withdrawal", headers={"X-Access-Code": code}).is_success
    blob = db.exec(select(Attachment.blob_key)).one()
    assert runtime.evidence.exists(blob)
    clock.advance(days=runtime.settings.purge_after_days + 1)
    assert purge(runtime) == {
        "requests": 1,
        "files": 1,
        "proofs": 0,
        "access_logs": 0,
        "transmission_logs": 0,
        "dry_run": False,
    }
    assert not runtime.evidence.exists(blob)
    agent = staff_headers("agent")
    attachment_id = db.exec(select(Attachment.id)).one()
    gone = client.get(f"/v1/staff/requests/{ref}/attachments/{attachment_id}", headers=agent)
    assert gone.status_code == 404


def test_access_logs_are_kept_two_years(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock
) -> None:
    ref, _ = a_request(client, staff_headers)
    client.get(f"/v1/staff/requests/{ref}", headers=staff_headers("agent"))
    clock.advance(days=729)
    assert purge(runtime)["access_logs"] == 0
    clock.advance(days=2)
    assert purge(runtime)["access_logs"] >= 1
    assert timedelta(days=runtime.settings.access_log_retention_days) >= timedelta(days=730)
