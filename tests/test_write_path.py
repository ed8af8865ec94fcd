"""The write path under load: a filing's few statements, its sealed timeline, and SQLite
writers that queue in arrival order instead of polling the busy handler."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text
from sqlmodel import Session, col, select

from app.db import WriteTurns, transaction
from app.models.request import Event, Request
from app.models.request_api import RequestCreate, RequestCreated
from app.runtime import Runtime
from app.services import audit
from app.services.events import note
from app.services.filing import FilingContext, PreparedFiling, prepare_filing
from app.services.filing_writer import FilingWriter
from tests.conftest import request_body


def test_a_filing_is_a_handful_of_statements(client: TestClient, runtime: Runtime) -> None:
    """The filing computes everything first and then writes one INSERT per row kind: no
    re-reading of what it has just written (it was 26 statements, 17 of them SELECTs)."""
    statements: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        created = client.post("/v1/requests", json=request_body())
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert created.status_code == 201, created.text
    # A free reference; request, party, two notices, the code, the events.
    assert statements.count("SELECT") <= 1
    assert len(statements) <= 8, statements


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


def _engine(path: Path, turns: WriteTurns) -> Any:
    engine = create_engine(
        f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30}
    )
    with engine.begin() as conn:
        conn.execute(text("PRAGMA journal_mode=WAL"))
        conn.execute(text("CREATE TABLE IF NOT EXISTS log (who TEXT)"))
    turns.install(engine)
    return engine


def test_waiting_writers_get_the_database_in_arrival_order(tmp_path: Path) -> None:
    """SQLite's busy handler lets a newcomer overtake a writer that has waited for seconds;
    the writers of one process take turns first come, first served."""
    engine = _engine(tmp_path / "turns.db", WriteTurns(timeout=30))
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO log VALUES ('first')"))
            holding.set()
            release.wait(10)

    def writer(name: str) -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO log VALUES (:who)"), {"who": name})

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert holding.wait(10)
    names = [f"w{i}" for i in range(6)]
    for name in names:
        t = threading.Thread(target=writer, args=(name,))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # each is queued before the next arrives
    release.set()
    for t in threads:
        t.join(30)
    with engine.connect() as conn:
        order = [row[0] for row in conn.execute(text("SELECT who FROM log ORDER BY rowid"))]
    assert order == ["first", *names]


@pytest.mark.parametrize("ending", ["rollback", "returned_unfinished", "closed"])
def test_a_writer_that_ends_without_commit_gives_its_turn_back(tmp_path: Path, ending: str) -> None:
    engine = _engine(tmp_path / "turns.db", WriteTurns(timeout=2))
    conn = engine.connect()
    conn.execute(text("INSERT INTO log VALUES ('abandoned')"))
    if ending == "rollback":
        conn.rollback()
        conn.close()
    elif ending == "returned_unfinished":
        conn.close()  # back to the pool, which rolls it back
    else:
        conn.invalidate()  # the DBAPI connection is closed
    # Otherwise this waits for the turn for 2 s and fails with "database is locked".
    with engine.begin() as other:
        other.execute(text("INSERT INTO log VALUES ('next')"))
    with engine.connect() as check:
        assert [r[0] for r in check.execute(text("SELECT who FROM log"))] == ["next"]


def test_a_writer_that_waits_too_long_is_told_the_database_is_locked(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "turns.db", WriteTurns(timeout=0.2))
    with engine.connect() as holder:
        holder.execute(text("INSERT INTO log VALUES ('holder')"))
        errors: list[BaseException] = []

        def late() -> None:
            try:
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO log VALUES ('late')"))
            except Exception as exc:
                errors.append(exc)

        t = threading.Thread(target=late)
        t.start()
        t.join(10)
        holder.commit()
    assert len(errors) == 1 and "database is locked" in str(errors[0])
    # The one that gave up left no place in the queue behind: the next writer goes ahead.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO log VALUES ('after')"))


# --- group commit of API filings -----------------------------------------------------------


def _prepared(runtime: Runtime, n: int, **kwargs: Any) -> list[PreparedFiling]:
    ctx = FilingContext(
        channel="api",
        received_at=runtime.clock(),
        actor="requester",
        idempotency_scope="public",
        idempotency_key=None,
    )
    return [
        prepare_filing(runtime, RequestCreate.model_validate(request_body()), ctx, **kwargs)
        for _ in range(n)
    ]


def test_filings_that_arrive_together_are_one_transaction(runtime: Runtime) -> None:
    writer = FilingWriter(runtime)
    filings = _prepared(runtime, 5)
    statements: list[str] = []
    commits: list[int] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(runtime.engine, "before_cursor_execute", count)
    event.listen(runtime.engine, "commit", lambda _c: commits.append(1))
    try:
        answers = [Future[RequestCreated]() for _ in filings]
        writer.write(list(zip(filings, answers, strict=True)))
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert [a.result(0).reference for a in answers] == [f.response.reference for f in filings]
    assert len(commits) == 1
    assert len(statements) <= 8, statements  # one INSERT per table, not per filing
    with Session(runtime.engine) as session:
        refs = set(session.exec(select(Request.reference)).all())
    assert refs == {f.response.reference for f in filings}
    assert audit.verify(runtime)["intact"] is True


def test_one_bad_filing_does_not_fail_the_others_in_its_batch(runtime: Runtime) -> None:
    """Two filings drew the same reference: the batch is rolled back and each is filed alone;
    the second gets a fresh reference, and both callers get a 201's answer."""
    first, second = _prepared(runtime, 2)
    clash = _prepared(runtime, 1, reference=first.response.reference)[0]
    answers = [Future[RequestCreated]() for _ in range(3)]
    FilingWriter(runtime).write(list(zip([first, second, clash], answers, strict=True)))
    refs = [a.result(0).reference for a in answers]
    assert refs[:2] == [first.response.reference, second.response.reference]
    assert refs[2] != first.response.reference
    with Session(runtime.engine) as session:
        stored = set(session.exec(select(Request.reference)).all())
    assert stored == set(refs)
    assert audit.verify(runtime)["intact"] is True


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
