"""Crash safety: SIGKILL the real server in the middle of a burst of filings, restart it.

The server runs as `python -m app.cli serve` in its own process group, with the embedded
worker on and a real SMTP server (aiosmtpd, in this process) as the mail transport, so
notices are being sent while filings come in. Eight client threads file synthetic requests;
after a seeded number of 201s the whole process group gets SIGKILL. Two kill moments:

* `random`: a seeded random delay after the threshold: the kill lands wherever it lands
  (in a filing's transaction, in a claim, in an SMTP conversation, between notices).
* `mid_send`: the hard case, made certain. The SMTP server accepts the DATA of one message
  and holds back its "250 OK"; the server is killed while the worker waits for that answer.
  The message *was* handed over, but the outbox never learnt it: its attempt is open.

The server is then restarted on the same database and runs until the outbox is empty.

What is checked
---------------
Filings: every request that got a 201 exists and its access code reads it (GET -> 200).
A request whose client saw the connection die may or may not exist; one whose connection
was refused (never reached the server) does not. Every request in the database is one we
filed, once, and is whole: its subject party, its `filed` event, its receipt and its
one-time-code notice (all written in the filing's single transaction, committed before the
201 goes out). Each filing carries an Idempotency-Key; after the restart each filing that
died is sent again with its key and gets the stored request back (`Idempotent-Replayed`,
same reference) exactly when it had been stored, else a new one: the client can resolve
the uncertainty without making a second request. The audit chains verify
(`rightsdesk audit verify`).

Notices, "sent once": SMTP cannot be exactly-once. The worker commits the claim of a batch
of notices (WORKER_BATCH_SIZE), with an attempt record each, before talking to SMTP, and the
batch's outcomes after its last send; a process killed between the receiving server's "250"
and that second commit leaves notices that *were* delivered but are still pending in the
database, with attempts that never finished. Nobody can know whether
the message got through, so after the lease (2 s here) the notice is sent again, under the
same Message-ID `rightsdesk-notice-<id>`, which lets the receiving side drop the copy. So
the honest claim, and what is asserted:

* every notice ends `delivered` (none pending or failed), with exactly one `delivered`
  attempt and one `notice_delivered` event, and its Message-ID reached the SMTP server;
* no Message-ID was received twice before the crash, nor twice after the restart: without
  a crash nothing is sent twice;
* a Message-ID received both before and after the crash belongs to a notice whose attempt
  was open at the kill (claimed, not finished). The embedded worker works one batch at a
  time in one thread, so at most one batch of attempts (WORKER_BATCH_SIZE, 20) is open at a
  kill, and at most that many notices are sent twice per crash: those of the batch sent
  before the kill. The two copies carry the same recipient, subject and body (for a
  one-time code: the same code);
* at the crash point: every notice the database calls delivered had reached the SMTP
  server, and a notice that reached it without being marked delivered is the open one;
* `mid_send`: the held-back notice is sent twice; any other duplicate was sent before it in
  its batch.

The kill moment comes from RIGHTSDESK_CRASH_SEED when set (to replay a failure), else from a
fresh seed that is printed and named in every assertion message.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.crypto import Vault
from app.models.notice import Notice, NoticeAttempt
from app.models.request import Event, Party, Request
from app.workflows import rrn
from tests.conftest import TEST_KEY, request_body, subject
from tests.servers import ROOT, MailHandler, Received, ServerProcess, SmtpServer

CLIENTS = 8
FILINGS = 150
LEASE_SECONDS = 2.0
BATCH = 20  # WORKER_BATCH_SIZE's default
KINDS = {"receipt", "verification_code"}


# ---------------------------------------------------------------------------------------------
# Peers


@dataclass
class GateHandler(MailHandler):
    """Records like MailHandler; once armed, holds back the "250 OK" of the next message
    until released (the server is killed in between)."""

    armed: threading.Event = field(default_factory=threading.Event)
    caught: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    caught_id: int | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.armed.is_set() and not self.caught.is_set():
            self.caught_id = notice_id(self.received[-1])
            self.caught.set()
            while not self.release.is_set():
                await asyncio.sleep(0.005)
        return reply


def gated_smtp() -> tuple[SmtpServer, GateHandler]:
    smtp = SmtpServer()
    handler = GateHandler()
    smtp.handler = handler
    smtp.controller.handler = handler  # read when the controller starts
    return smtp.start(), handler


def notice_id(mail: Received) -> int:
    """`<rightsdesk-notice-17@domain>` -> 17."""
    message_id = str(mail.message["Message-ID"])
    local = message_id.strip("<>").partition("@")[0]
    assert local.startswith("rightsdesk-notice-"), message_id
    return int(local.removeprefix("rightsdesk-notice-"))


# ---------------------------------------------------------------------------------------------
# The burst


@dataclass
class Filing:
    index: int
    email: str
    outcome: str = "not_sent"  # created | died (connection lost) | refused | http_<status>
    reference: str | None = None
    access_code: str | None = None
    error: str | None = None
    # A filing that died is filed again after the restart, with the same Idempotency-Key.
    replayed: bool | None = None


def key_of(filing: Filing) -> dict[str, str]:
    return {"Idempotency-Key": f"crash-{filing.index:03d}"}


def burst(
    url: str, filings: list[Filing], marks: dict[int, threading.Event], stop: threading.Event
) -> list[threading.Thread]:
    """CLIENTS threads file until all are sent or `stop` is set; each event of `marks` is set
    once that many filings got their 201."""
    lock = threading.Lock()
    queue = iter(filings)
    created = itertools.count(1)

    def client_loop() -> None:
        with httpx.Client(base_url=url, timeout=20) as client:
            while not stop.is_set():
                with lock:
                    filing = next(queue, None)
                if filing is None:
                    return
                body = request_body(subject=subject(email=filing.email))
                try:
                    resp = client.post("/v1/requests", json=body, headers=key_of(filing))
                except httpx.ConnectError as exc:  # never reached the server
                    filing.outcome, filing.error = "refused", type(exc).__name__
                    continue
                except httpx.TransportError as exc:  # reset, EOF: may or may not exist
                    filing.outcome, filing.error = "died", type(exc).__name__
                    continue
                if resp.status_code != 201:
                    filing.outcome, filing.error = f"http_{resp.status_code}", resp.text[:300]
                    continue
                data = resp.json()
                filing.reference, filing.access_code = data["reference"], data["access_code"]
                filing.outcome = "created"
                with lock:
                    done = next(created)
                for mark, event in marks.items():
                    if done >= mark:
                        event.set()

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    return threads


# ---------------------------------------------------------------------------------------------
# What the database holds


@dataclass
class Snapshot:
    requests: dict[int, Request]
    subject_email: dict[int, str]  # request id -> subject e-mail
    parties: Counter[int]
    filed_events: Counter[int]
    delivered_events: Counter[int]  # notice id -> notice_delivered events
    notices: dict[int, Notice]
    attempts: dict[int, list[NoticeAttempt]]

    def open_attempts(self) -> list[NoticeAttempt]:
        return [a for rows in self.attempts.values() for a in rows if a.finished_at is None]


def snapshot(engine: Engine, vault: Vault) -> Snapshot:
    with Session(engine) as s:
        requests = {r.id: r for r in s.exec(select(Request)).all() if r.id is not None}
        parties = s.exec(select(Party)).all()
        events = s.exec(select(Event)).all()
        notices = {n.id: n for n in s.exec(select(Notice)).all() if n.id is not None}
        attempts: dict[int, list[NoticeAttempt]] = {}
        for a in s.exec(select(NoticeAttempt).order_by(col(NoticeAttempt.number))).all():
            attempts.setdefault(a.notice_id, []).append(a)
    emails = {
        p.request_id: vault.decrypt(p.email_enc, field="party.email")
        for p in parties
        if p.role == "subject" and p.email_enc
    }
    return Snapshot(
        requests=requests,
        subject_email=emails,
        parties=Counter(p.request_id for p in parties),
        filed_events=Counter(e.request_id for e in events if e.kind == "filed"),
        delivered_events=Counter(
            int(e.data["notice_id"]) for e in events if e.kind == "notice_delivered"
        ),
        notices=notices,
        attempts=attempts,
    )


def assert_whole(snap: Snapshot, filings: list[Filing], why: str) -> None:
    """Every request in the database is one we filed, once, and none is half-written."""
    by_email = {f.email: f for f in filings}
    kinds: dict[int, list[str]] = {}
    for n in snap.notices.values():
        kinds.setdefault(n.request_id, []).append(n.kind)
    stored = Counter(snap.subject_email.values())
    assert all(c == 1 for c in stored.values()), f"{why}: a filing stored twice: {stored}"
    for rid, request in snap.requests.items():
        email = snap.subject_email.get(rid)
        assert email in by_email, f"{why}: {request.reference} is no filing of ours"
        filing = by_email[email]
        assert filing.outcome in ("created", "died"), (
            f"{why}: {request.reference} exists but its filing was {filing.outcome}"
        )
        if filing.outcome == "created":
            assert filing.reference == request.reference, why
        assert snap.parties[rid] == 1, f"{why}: {request.reference} parties {snap.parties[rid]}"
        assert snap.filed_events[rid] == 1, f"{why}: {request.reference} has no filed event"
        assert sorted(kinds.get(rid, [])) == sorted(KINDS), (
            f"{why}: {request.reference} notices {kinds.get(rid)}"
        )
    assert set(kinds) <= set(snap.requests), f"{why}: a notice without its request"
    missing = [f.reference for f in filings if f.outcome == "created" and f.email not in stored]
    assert not missing, f"{why}: got 201 but not in the database: {missing}"


# ---------------------------------------------------------------------------------------------
# The test


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["random", "mid_send"])
def test_sigkill_during_a_burst_loses_no_filing_and_sends_each_notice_once(
    database_url: str, tmp_path: Path, kill_at: str
) -> None:
    seed = int(os.environ.get("RIGHTSDESK_CRASH_SEED") or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    threshold = 40 + rng.randrange(40)  # kill after this many 201s (of FILINGS)
    # mid_send: hold the first message sent after this many 201s. Early, because the one
    # worker thread gets a small share of the process (and of SQLite's write lock) while
    # eight clients file: it can go a few seconds between two notices.
    arm_at = 1 + rng.randrange(15)
    delay = rng.uniform(0, 0.15)  # random: kill this long after the threshold
    ctx = f"[seed={seed} kill_at={kill_at} threshold={threshold} arm_at={arm_at}]"
    print(ctx)

    smtp, gate = gated_smtp()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSDESK_")}
    env.update(
        RIGHTSDESK_ENV="test",
        RIGHTSDESK_DATA_KEY=TEST_KEY,
        RIGHTSDESK_DATA_DIR=str(tmp_path / "var"),
        RIGHTSDESK_DATABASE_URL=database_url,
        RIGHTSDESK_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
        RIGHTSDESK_INTAKE_RATE_LIMIT="0",
        RIGHTSDESK_PUBLIC_RATE_LIMIT_PER_MINUTE="0",
        RIGHTSDESK_EMBEDDED_WORKER="true",
        RIGHTSDESK_WORKER_POLL_SECONDS="0.05",
        RIGHTSDESK_WORKER_BATCH_SIZE=str(BATCH),
        RIGHTSDESK_NOTICE_LEASE_SECONDS=str(LEASE_SECONDS),
        RIGHTSDESK_LOG_LEVEL="info",
    )
    server = ServerProcess(env, tmp_path / "server.log")
    engine = create_engine(database_url)
    vault = Vault.from_text(TEST_KEY, scrub=rrn.mask)
    filings = [Filing(i, f"crash.{i:03d}@example.com") for i in range(FILINGS)]
    began = time.monotonic()
    try:
        # 1. The burst, and SIGKILL partway through it.
        url = server.start()
        arm, reached, stop = threading.Event(), threading.Event(), threading.Event()
        threads = burst(url, filings, {arm_at: arm, threshold: reached}, stop)
        if kill_at == "mid_send":
            # The worker is held in the middle of a send while the filings go on (a slow
            # SMTP server; well inside its 15 s timeout), and is killed there.
            assert arm.wait(30), f"{ctx} only {count(filings)} filings:\n{server.tail()}"
            gate.armed.set()
            assert gate.caught.wait(10), f"{ctx} no notice was sent after {arm_at} filings"
        assert reached.wait(30), f"{ctx} only {count(filings)} filings:\n{server.tail()}"
        if kill_at == "random":
            time.sleep(delay)
        server.kill()
        killed_after = count(filings)
        stop.set()
        gate.release.set()
        for t in threads:
            t.join(30)
        time.sleep(0.3)  # a DATA already in aiosmtpd's socket buffer is still handled
        before = list(smtp.received)

        unexpected = [(f.index, f.outcome, f.error) for f in filings if f.outcome[:4] == "http"]
        assert not unexpected, f"{ctx} the server refused filings before the kill: {unexpected}"
        outcomes = Counter(f.outcome for f in filings)

        # 2. The crash point, with the server dead.
        crashed = snapshot(engine, vault)
        assert_whole(crashed, filings, f"{ctx} after the kill")
        sent_before = Counter(notice_id(m) for m in before)
        assert max(sent_before.values(), default=1) == 1, f"{ctx} sent twice without a crash"
        open_ids = {a.notice_id for a in crashed.open_attempts()}
        assert len(crashed.open_attempts()) <= BATCH, f"{ctx} one worker, one batch at a time"
        delivered = {i for i, n in crashed.notices.items() if n.status == "delivered"}
        assert delivered <= set(sent_before), f"{ctx} marked delivered, never received"
        assert set(sent_before) - delivered <= open_ids, (
            f"{ctx} received but not delivered, with no open attempt"
        )
        if kill_at == "mid_send":
            held = gate.caught_id
            assert held is not None and held in open_ids, f"{ctx} {open_ids} vs {held}"
            assert crashed.notices[held].status == "pending", ctx
            assert held in sent_before, ctx

        # 3. Restart on the same database. A client that lost its connection does not know
        # whether its request was stored: it files again with the same Idempotency-Key and
        # gets the stored one back (a replay) or, if it was not stored, a new one. Then the
        # embedded worker empties the outbox.
        url = server.start()
        with httpx.Client(base_url=url, timeout=10) as client:
            for f in filings:
                if f.outcome != "died":
                    continue
                body = request_body(subject=subject(email=f.email))
                resp = client.post("/v1/requests", json=body, headers=key_of(f))
                assert resp.status_code == 201, f"{ctx} retry of {f.index}: {resp.text}"
                f.replayed = resp.headers.get("Idempotent-Replayed") == "true"
                stored = [r for r, e in crashed.subject_email.items() if e == f.email]
                assert f.replayed == bool(stored), f"{ctx} retry of {f.index}: {stored}"
                f.reference, f.access_code = resp.json()["reference"], resp.json()["access_code"]
                if stored:
                    assert crashed.requests[stored[0]].reference == f.reference, ctx
                f.outcome = "created"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with Session(engine) as s:
                pending = s.exec(select(Notice.id).where(Notice.status == "pending")).all()
            if not pending:
                break
            time.sleep(0.1)
        assert not pending, f"{ctx} still pending after 20 s: {pending}\n{server.tail()}"

        with httpx.Client(base_url=url, timeout=10) as client:
            for f in filings:
                if f.outcome != "created":
                    continue
                assert f.access_code is not None
                resp = client.get(
                    f"/v1/requests/{f.reference}", headers={"X-Access-Code": f.access_code}
                )
                assert resp.status_code == 200, f"{ctx} {f.reference}: {resp.text}"
                seen = {n["kind"]: n["sent_at"] for n in resp.json()["notices"]}
                assert set(seen) == KINDS and all(seen.values()), f"{ctx} {seen}"
        server.stop()

        # 4. The end state.
        final = snapshot(engine, vault)
        assert_whole(final, filings, f"{ctx} after the restart")
        assert set(crashed.requests) <= set(final.requests), f"{ctx} requests lost"
        assert len(final.requests) == count(filings), f"{ctx} {len(final.requests)} requests"
        after = smtp.received[len(before) :]
        sent_after = Counter(notice_id(m) for m in after)
        assert max(sent_after.values(), default=1) == 1, f"{ctx} sent twice after the restart"
        never = set(final.notices) - set(sent_before) - set(sent_after)
        assert not never, f"{ctx} notices never received: {never}"
        assert set(sent_before) | set(sent_after) == set(final.notices), f"{ctx} strangers"
        for nid, notice in final.notices.items():
            outcomes_n = [a.outcome for a in final.attempts.get(nid, [])]
            assert notice.status == "delivered", f"{ctx} notice {nid} is {notice.status}"
            assert notice.attempts == len(outcomes_n), f"{ctx} notice {nid} attempts"
            assert outcomes_n.count("delivered") == 1 and outcomes_n[-1] == "delivered", (
                f"{ctx} notice {nid}: {outcomes_n}"
            )
            unfinished = outcomes_n[:-1]
            assert unfinished == ([None] if nid in open_ids else []), (
                f"{ctx} notice {nid}: {outcomes_n}"
            )
            assert final.delivered_events[nid] == 1, f"{ctx} notice {nid} delivered events"
        duplicates = set(sent_before) & set(sent_after)
        assert duplicates <= open_ids, f"{ctx} duplicates {duplicates} not from the crash"
        if kill_at == "mid_send":
            assert gate.caught_id in duplicates, f"{ctx} {duplicates}"
        for nid in duplicates:
            first = next(m for m in before if notice_id(m) == nid).message
            again = next(m for m in after if notice_id(m) == nid).message
            for header in ("To", "Subject", "Message-ID", "X-RightsDesk-Notice"):
                assert str(first[header]) == str(again[header]), f"{ctx} {header}"
            assert first.get_content() == again.get_content(), f"{ctx} body of {nid} changed"

        verified = subprocess.run(
            [sys.executable, "-m", "app.cli", "audit", "verify"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert verified.returncode == 0, f"{ctx} {verified.stdout}{verified.stderr}"

        died_exist = sum(1 for f in filings if f.replayed)
        print(
            f"{ctx} 201 before kill: {killed_after}; outcomes {dict(outcomes)}; "
            f"died-but-stored {died_exist} (replayed); requests {len(final.requests)}; "
            f"notices {len(final.notices)} (received {len(before)} before, {len(after)} after); "
            f"open attempts at kill {len(open_ids)}; duplicates {len(duplicates)}; "
            f"{time.monotonic() - began:.1f} s"
        )
    finally:
        if server.proc is not None:
            server.signal_group(signal.SIGKILL, 10)
        gate.release.set()
        smtp.stop()
        engine.dispose()


def count(filings: list[Filing]) -> int:
    return sum(1 for f in filings if f.outcome == "created")
