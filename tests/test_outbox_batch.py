"""The outbox works a batch at a time: what a requester or staff member would notice."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.integrations.delivery import Outgoing
from app.models.notice import Notice, NoticeAttempt
from app.models.request import Event
from app.runtime import Runtime
from app.services.audit.verify import verify
from app.services.notices.outbox import Outbox
from tests.conftest import Clock, request_body, subject
from tests.factories import file
from tests.servers import MailHandler, SmtpServer, free_port

BATCH = 4
LEASE = 600.0


@dataclass
class RefusingHandler(MailHandler):
    """Refuses one mailbox for good (550); takes every other."""

    refused: str = ""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == self.refused:
            self.rcpt_tried.append(address)
            return "550 5.1.1 No such user"
        return await super().handle_RCPT(server, session, envelope, address, options)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def settings_overrides(smtp_port: int) -> dict[str, Any]:
    return {
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "smtp_timeout_seconds": 5,
        "worker_batch_size": BATCH,
        "notice_lease_seconds": LEASE,
    }


@pytest.fixture
def smtp(smtp_port: int) -> Iterator[SmtpServer]:
    server = SmtpServer(smtp_port)
    handler = RefusingHandler(refused="nobody.here@example.com")
    server.handler = handler
    server.controller.handler = handler  # read when the controller starts
    server.start()
    yield server
    server.stop()


def file_some(client: TestClient, emails: list[str]) -> list[str]:
    """Self filings, each queuing a receipt and a one-time code; their references."""
    refs = []
    for email in emails:
        resp = file(client, request_body(subject=subject(email=email)))
        assert resp.status_code == 201, resp.text
        refs.append(resp.json()["reference"])
    return refs


def all_notices(db: Session) -> list[Notice]:
    db.expire_all()
    return list(db.exec(select(Notice).order_by(col(Notice.id))).all())


def attempt_outcomes(db: Session, notice_id: int | None) -> list[str | None]:
    rows = db.exec(
        select(NoticeAttempt.outcome)
        .where(NoticeAttempt.notice_id == notice_id)
        .order_by(col(NoticeAttempt.number))
    ).all()
    return list(rows)


def test_one_refused_recipient_does_not_hold_up_the_rest_of_the_batch(
    client: TestClient, smtp: SmtpServer, runtime: Runtime, db: Session
) -> None:
    file_some(client, ["kim.one@example.com", "nobody.here@example.com"])
    outbox = Outbox(runtime, rng=random.Random(3))
    assert outbox.run_once() == BATCH  # one batch: both filings' receipt and code
    by_to = {m.rcpt_tos[0]: m for m in smtp.received}
    assert set(by_to) == {"kim.one@example.com"} and len(smtp.received) == 2
    notices = all_notices(db)
    for n in notices:
        to = runtime.vault.decrypt(n.recipient_enc, field="notice.recipient")
        if to == "kim.one@example.com":
            assert (n.status, n.attempts, n.last_error) == ("delivered", 1, None)
            assert attempt_outcomes(db, n.id) == ["delivered"]
        else:
            assert (n.status, n.attempts) == ("failed", 1)
            assert n.last_error == "SMTP recipient refused 550"
            assert attempt_outcomes(db, n.id) == ["failed"]
    kinds = sorted(e.kind for e in db.exec(select(Event)).all() if e.kind.startswith("notice_"))
    assert kinds.count("notice_delivered") == 2 and kinds.count("notice_failed") == 2
    assert verify(runtime)["intact"]  # each request's chain holds its two new entries


def test_a_batch_is_at_most_the_batch_size_and_the_rest_follows(
    client: TestClient, smtp: SmtpServer, runtime: Runtime, db: Session
) -> None:
    file_some(client, [f"batch.{i}@example.com" for i in range(3)])  # six e-mails
    outbox = Outbox(runtime, rng=random.Random(3))
    assert outbox.run_once() == BATCH
    leased = [n for n in all_notices(db) if n.lease_until is not None]
    assert leased == []  # every outcome recorded: nothing is left leased
    assert outbox.run_once() == 2
    assert outbox.run_once() == 0
    assert len(smtp.received) == 6
    assert {m.message["Message-ID"] for m in smtp.received} == {
        f"<rightsdesk-notice-{n.id}@rightsdesk.localhost>" for n in all_notices(db)
    }


def test_a_stopped_worker_gives_the_rest_of_its_batch_back_at_once(
    client: TestClient, smtp: SmtpServer, runtime: Runtime, db: Session
) -> None:
    file_some(client, ["stop.one@example.com", "stop.two@example.com"])
    outbox = Outbox(runtime, rng=random.Random(3))
    assert outbox.run_once(go_on=lambda: False) == 1  # asked to stop after the first
    notices = all_notices(db)
    assert [n.status for n in notices] == ["delivered", "pending", "pending", "pending"]
    for n in notices[1:]:
        # Not tried: no attempt counted or recorded, no lease, due now.
        assert (n.attempts, n.lease_until) == (0, None)
        assert attempt_outcomes(db, n.id) == []
    assert Outbox(runtime).run_once() == 3  # another worker need not wait for a lease
    assert len(smtp.received) == 4


class _StallingTransport:
    """Its first send takes longer than the lease (the test clock jumps); meanwhile another
    worker, whose lease is fresh, takes over what it finds."""

    name = "stalling"

    def __init__(self, clock: Clock, other: Outbox) -> None:
        self.clock, self.other = clock, other
        self.sent: list[int] = []
        self.taken_over = 0

    def send(self, message: Outgoing) -> None:
        self.sent.append(message.notice_id)
        if len(self.sent) == 1:
            self.clock.advance(seconds=LEASE + 1)
            self.taken_over = self.other.run_once()


class _Collecting:
    name = "collecting"

    def __init__(self) -> None:
        self.sent: list[int] = []

    def send(self, message: Outgoing) -> None:
        self.sent.append(message.notice_id)


def test_a_notice_whose_lease_ran_out_in_the_batch_is_not_sent_under_it(
    client: TestClient, runtime: Runtime, clock: Clock, db: Session
) -> None:
    file_some(client, ["lease.one@example.com", "lease.two@example.com"])
    fresh = _Collecting()
    other = Outbox(runtime, {"email": fresh, "sms": fresh}, rng=random.Random(1))
    stalling = _StallingTransport(clock, other)
    first = Outbox(runtime, {"email": stalling, "sms": stalling}, rng=random.Random(2))
    assert first.run_once() == 1  # the first notice only: the lease of the rest ran out
    # The other worker took over all four (the first one too: it could not know it was sent).
    assert stalling.taken_over == 4
    assert sorted(fresh.sent) == [n.id for n in all_notices(db)]
    assert set(stalling.sent).isdisjoint(fresh.sent[1:])  # nothing else sent twice
    for n in all_notices(db):
        assert (n.status, n.attempts) == ("delivered", 2)
        outcomes = attempt_outcomes(db, n.id)
        assert outcomes[1] == "delivered", outcomes
        # The stalled worker's attempts: its one send was late, the rest never left.
        assert outcomes[0] == ("superseded" if n.id == stalling.sent[0] else "not_sent")
    delivered = [e for e in db.exec(select(Event)).all() if e.kind == "notice_delivered"]
    assert len(delivered) == 4  # one per notice: the late outcome did not add a second
    assert verify(runtime)["intact"]


class _Interrupted:
    """The worker is interrupted (Ctrl-C) in the middle of a send."""

    name = "interrupted"

    def send(self, message: Outgoing) -> None:
        raise KeyboardInterrupt


def test_an_interrupted_worker_gives_back_what_it_had_not_started(
    client: TestClient, runtime: Runtime, clock: Clock, db: Session
) -> None:
    file_some(client, ["stop.three@example.com", "stop.four@example.com"])
    interrupted = Outbox(runtime, {"email": _Interrupted(), "sms": _Interrupted()})
    with pytest.raises(KeyboardInterrupt):
        interrupted.run_once()
    fresh = _Collecting()
    other = Outbox(runtime, {"email": fresh, "sms": fresh}, rng=random.Random(1))
    assert other.run_once() == 3  # the three it had not started go out at once
    first = all_notices(db)[0]
    # The one it was sending may have gone out: it waits for its lease, its attempt open.
    assert first.status == "pending" and attempt_outcomes(db, first.id) == [None]
    clock.advance(seconds=LEASE + 1)
    assert other.run_once() == 1 and fresh.sent[-1] == first.id
    assert attempt_outcomes(db, first.id) == [None, "delivered"]
