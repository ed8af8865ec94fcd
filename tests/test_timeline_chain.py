"""The write path: a filing's sealed timeline continued by later events, savepoints, and
concurrent filings each committed."""

from __future__ import annotations

import itertools

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.db import transaction
from app.models.request import Event, Request
from app.runtime import Runtime
from app.services.audit import verify as audit
from app.services.audit.timeline import note
from tests.conftest import request_body


def test_events_recorded_after_the_filing_continue_its_sealed_chain(
    client: TestClient, runtime: Runtime
) -> None:
    """The chain head the filing leaves behind is the one later events seal onto, in the same
    transaction and in later ones; `audit verify` finds every link."""
    ref = client.post("/v1/requests", json=request_body()).json()["reference"]
    with transaction(runtime.engine) as session:
        req = session.exec(select(Request).where(Request.reference == ref)).one()
        note(session, runtime, req, "looked_at", actor="tester")
        note(session, runtime, req, "looked_at_again", actor="tester")
    with transaction(runtime.engine) as session:
        req = session.exec(select(Request).where(Request.reference == ref)).one()
        note(session, runtime, req, "next_day", actor="tester")
    with Session(runtime.engine) as session:
        events = session.exec(
            select(Event).where(Event.request_id == req.id).order_by(col(Event.seq))
        ).all()
    kinds = [e.kind for e in events]
    assert kinds == [
        "filed",
        "notice_queued",
        "notice_queued",
        "code_sent",
        "looked_at",
        "looked_at_again",
        "next_day",
    ]
    assert [e.seq for e in events] == list(range(1, 8))
    assert all(b.prev_mac == a.mac for a, b in itertools.pairwise(events))
    assert audit.verify(runtime)["intact"] is True


def test_a_rolled_back_savepoint_forgets_its_events(client: TestClient, runtime: Runtime) -> None:
    ref = client.post("/v1/requests", json=request_body()).json()["reference"]
    with transaction(runtime.engine) as session:
        req = session.exec(select(Request).where(Request.reference == ref)).one()
        savepoint = session.begin_nested()
        note(session, runtime, req, "undone", actor="tester")
        session.flush()
        savepoint.rollback()
        note(session, runtime, req, "kept", actor="tester")
    with Session(runtime.engine) as session:
        kinds = session.exec(
            select(Event.kind).where(Event.request_id == req.id).order_by(col(Event.seq))
        ).all()
    assert kinds[-1] == "kept" and "undone" not in kinds
    assert audit.verify(runtime)["intact"] is True


# --- SQLite writers in one process ---------------------------------------------------------


def test_concurrent_api_filings_each_get_their_own_committed_request(live_server: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    with httpx.Client(base_url=live_server, timeout=30) as http, ThreadPoolExecutor(20) as pool:
        responses = list(
            pool.map(lambda _: http.post("/v1/requests", json=request_body()), range(40))
        )
    assert [r.status_code for r in responses] == [201] * 40
    with httpx.Client(base_url=live_server) as http:
        for r in responses:
            body = r.json()
            seen = http.get(
                f"/v1/requests/{body['reference']}", headers={"X-Access-Code": body["access_code"]}
            )
            assert seen.status_code == 200, seen.text
    assert len({r.json()["reference"] for r in responses}) == 40
