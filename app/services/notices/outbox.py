"""The outbox: claims due notices, hands them to a transport, records every attempt.

Delivery is at least once. A notice is claimed with a conditional UPDATE (a lease), which is
safe with several workers on SQLite and PostgreSQL alike; the claim and the attempt record
are committed before sending, the outcome right after. A worker that dies mid-send leaves a
lease that expires, and the notice is sent again under the same Message-ID /
Idempotency-Key, so the receiving side can tell it is the same message.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, update
from sqlalchemy import select as sa_select  # sqlmodel's select takes at most four columns
from sqlmodel import col, select

from app.db import transaction
from app.integrations.delivery import (
    DeliveryError,
    Outgoing,
    PermanentDeliveryError,
    Transport,
    classify,
)
from app.integrations.mail import FileTransport, SmtpTransport
from app.integrations.sms import HttpSmsTransport
from app.models.notice import Notice, NoticeAttempt
from app.models.request import Request
from app.models.vocab import NoticeStatus
from app.runtime import Runtime
from app.services.audit.timeline import append_event, note_event
from app.settings import Settings

log = logging.getLogger("rightsdesk.outbox")


def retry_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Capped exponential backoff with jitter: uniform in [half, full] of min(cap, base*2^(n-1))."""
    ceiling: float = min(cap, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + rng.random() * ceiling / 2


def transports_for(settings: Settings) -> dict[str, Transport]:
    """Chosen by settings: SMTP, the SMS gateway and the Channel Talk Open API when configured,
    .eml files otherwise."""
    files = FileTransport(
        settings.mail_dir, settings.mail_from, reveal_codes=settings.env != "production"
    )
    email: Transport = (
        SmtpTransport(
            settings.smtp_url,
            settings.mail_from,
            timeout=settings.smtp_timeout_seconds,
            ca_file=settings.smtp_ca_file,
            idle_seconds=settings.smtp_idle_seconds,
        )
        if settings.smtp_url
        else files
    )
    sms: Transport = (
        HttpSmsTransport(
            settings.sms_url, timeout=settings.sms_timeout_seconds, token=settings.sms_token
        )
        if settings.sms_url
        else files
    )
    chat: Transport = files
    if settings.channeltalk_api_enabled:
        from app.integrations.chat import ChatTransport, client_for

        chat = ChatTransport(client_for(settings), settings.channeltalk_bot_name)
    return {"email": email, "sms": sms, "chat": chat}


class Outbox:
    def __init__(
        self,
        rt: Runtime,
        transports: dict[str, Transport] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.rt = rt
        self.transports = transports or transports_for(rt.settings)
        self.rng = rng or random.SystemRandom()

    def close(self) -> None:
        """Close what the transports keep open (the SMTP connection)."""
        for transport in {id(t): t for t in self.transports.values()}.values():
            close = getattr(transport, "close", None)
            if close is not None:
                close()

    def run_once(self, go_on: Callable[[], bool] | None = None) -> int:
        """Deliver what is due now; returns how many notices were tried. `go_on` is asked
        after each notice whether to continue."""
        now = self.rt.clock()
        with transaction(self.rt.engine) as session:
            due = session.exec(
                select(Notice.id)
                .where(
                    Notice.status == NoticeStatus.PENDING,
                    col(Notice.next_attempt_at) <= now,
                    or_(col(Notice.lease_until).is_(None), col(Notice.lease_until) < now),
                )
                .order_by(col(Notice.next_attempt_at), col(Notice.id))
                .limit(self.rt.settings.worker_batch_size)
            ).all()
        tried = 0
        for notice_id in due:
            assert notice_id is not None
            claim = self._claim(notice_id)
            if claim is not None:
                self._deliver(*claim)
                tried += 1
            if go_on is not None and not go_on():
                break
        return tried

    def _claim(self, notice_id: int) -> tuple[Outgoing, int, int] | None:
        """Take the notice's lease and record the attempt, in one short transaction (Core
        statements: on SQLite the database is locked only for these)."""
        now = self.rt.clock()
        lease = now + timedelta(seconds=self.rt.settings.notice_lease_seconds)
        claimable = (
            col(Notice.id) == notice_id,
            col(Notice.status) == NoticeStatus.PENDING,
            or_(col(Notice.lease_until).is_(None), col(Notice.lease_until) < now),
        )
        with transaction(self.rt.engine) as session:
            conn = session.connection()
            if conn.dialect.name == "postgresql":
                # Workers skip each other's rows instead of queueing behind their locks.
                locked = (
                    select(Notice.id).where(*claimable).with_for_update(skip_locked=True)
                ).scalar_subquery()
                claim = update(Notice).where(col(Notice.id) == locked)
            else:
                # SQLite has one writer: a conditional UPDATE is the claim.
                claim = update(Notice).where(*claimable)
            row = conn.execute(
                claim.values(lease_until=lease, attempts=col(Notice.attempts) + 1).returning(
                    *_CLAIMED
                )
            ).first()
            if row is None:
                return None  # another worker has it
            request_id, channel, kind, attempts, recipient, subject, body, redacted = row
            reference = conn.execute(_REFERENCE, {"id": request_id}).scalar_one()
            transport = self.transports[channel]
            attempt_id = conn.execute(
                insert(NoticeAttempt),
                {
                    "notice_id": notice_id,
                    "number": attempts,
                    "transport": transport.name,
                    "started_at": now,
                },
            ).inserted_primary_key
            assert attempt_id is not None
            v = self.rt.vault
            outgoing = Outgoing(
                notice_id=notice_id,
                key=f"rightsdesk-notice-{notice_id}",
                channel=channel,
                to=v.decrypt(recipient, field="notice.recipient"),
                subject=v.decrypt(subject, field="notice.subject"),
                body=v.decrypt(body, field="notice.body"),
                reference=reference,
                kind=kind,
                redacted_body=(
                    None if redacted is None else v.decrypt(redacted, field="notice.body")
                ),
            )
            return outgoing, int(attempt_id[0]), attempts

    def _deliver(self, message: Outgoing, attempt_id: int, number: int) -> None:
        transport = self.transports[message.channel]
        error: DeliveryError | None = None
        try:
            transport.send(message)
        except Exception as exc:  # every failure is recorded; none escapes the worker
            error = classify(exc)
        self._record(message, attempt_id, number, transport.name, error)

    def _record(
        self,
        message: Outgoing,
        attempt_id: int,
        number: int,
        transport: str,
        error: DeliveryError | None,
    ) -> None:
        now = self.rt.clock()
        with transaction(self.rt.engine) as session:
            conn = session.connection()
            notice = conn.execute(_RECORDED, {"id": message.notice_id}).one()
            if notice.attempts != number or notice.status != NoticeStatus.PENDING:
                # Our lease ran out and another worker took the notice over: its outcome is
                # the notice's; ours is only this attempt's record.
                done: dict[str, object] = {"finished_at": now}
                done["outcome"] = "superseded" if error is None else "retry"
                done["error"] = None if error is None else error.reason
                log.warning("notice %s: attempt %d finished after its lease", notice.id, number)
                _update(conn, NoticeAttempt, attempt_id, done)
                return
            if error is None:
                done, changes, event = self._delivered(notice, message, transport, now)
            else:
                done, changes, event = self._not_delivered(notice, message, number, error, now)
            _update(conn, NoticeAttempt, attempt_id, done)
            _update(conn, Notice, notice.id, changes)
            if event:
                data: dict[str, object] = {
                    "notice_id": notice.id,
                    "notice_kind": notice.kind,
                    "transport": transport,
                    "attempts": notice.attempts,
                }
                if error is not None:
                    data["error"] = error.reason
                entry = note_event(event, actor="outbox", at=now, data=data)
                append_event(session, self.rt, notice.request_id, entry)

    def _delivered(
        self, notice: Any, message: Outgoing, transport: str, now: datetime
    ) -> tuple[dict[str, object], dict[str, object], str]:
        changes: dict[str, object] = {
            "lease_until": None,
            "status": NoticeStatus.DELIVERED,
            "delivered_at": now,
            "last_error": None,
        }
        if notice.redacted_body_enc is not None:  # a one-time code ends with delivery
            changes.update(body_enc=notice.redacted_body_enc, redacted_body_enc=None)
        log.info(
            "notice %s (%s) for %s delivered via %s",
            notice.id,
            notice.kind,
            message.reference,
            transport,
        )
        return {"finished_at": now, "outcome": "delivered"}, changes, "notice_delivered"

    def _not_delivered(
        self, notice: Any, message: Outgoing, number: int, error: DeliveryError, now: datetime
    ) -> tuple[dict[str, object], dict[str, object], str]:
        """A permanent refusal, or the last attempt, fails the notice; anything else is tried
        again after the backoff."""
        settings = self.rt.settings
        done: dict[str, object] = {"finished_at": now, "outcome": "retry", "error": error.reason}
        changes: dict[str, object] = {"lease_until": None, "last_error": error.reason}
        final = isinstance(error, PermanentDeliveryError) or number >= settings.notice_max_attempts
        if final:
            done["outcome"] = "failed"
            changes.update(status=NoticeStatus.FAILED, failed_at=now)
            if notice.redacted_body_enc is not None:  # an undeliverable code ends too
                changes.update(body_enc=notice.redacted_body_enc, redacted_body_enc=None)
            log.error(
                "notice %s (%s) for %s failed after %d attempt(s): %s",
                notice.id,
                notice.kind,
                message.reference,
                number,
                error.reason,
            )
            return done, changes, "notice_failed"
        delay = retry_delay(
            number,
            base=settings.notice_backoff_base_seconds,
            cap=settings.notice_backoff_cap_seconds,
            rng=self.rng,
        )
        changes["next_attempt_at"] = now + timedelta(seconds=delay)
        log.warning(
            "notice %s (%s) for %s: attempt %d failed (%s); retry in %.0fs",
            notice.id,
            notice.kind,
            message.reference,
            number,
            error.reason,
            delay,
        )
        return done, changes, ""


# What a claim reads back, and what recording an outcome needs (Core: no ORM objects).
_CLAIMED = (
    col(Notice.request_id),
    col(Notice.channel),
    col(Notice.kind),
    col(Notice.attempts),
    col(Notice.recipient_enc),
    col(Notice.subject_enc),
    col(Notice.body_enc),
    col(Notice.redacted_body_enc),
)
_REFERENCE = select(Request.reference).where(col(Request.id) == bindparam("id"))
_RECORDED = sa_select(
    col(Notice.id),
    col(Notice.request_id),
    col(Notice.kind),
    col(Notice.status),
    col(Notice.attempts),
    col(Notice.redacted_body_enc),
).where(col(Notice.id) == bindparam("id"))


def _update(conn: Connection, model: Any, row_id: int, values: dict[str, object]) -> None:
    conn.execute(update(model).where(model.id == row_id).values(**values))


class BackgroundWorker:
    """Runs the outbox, and the periodic jobs (SLA sweep, Channel Talk work) when they are
    due, in a thread of the web process (RIGHTSDESK_EMBEDDED_WORKER) or in `rightsdesk worker`.
    Notices the law requires go out as soon as they are queued: they never wait behind the
    web's throughput."""

    def __init__(
        self,
        outbox: Outbox,
        poll_seconds: float,
        jobs: Sequence[Periodic] = (),
    ) -> None:
        self.outbox = outbox
        self.poll_seconds = poll_seconds
        self.jobs = list(jobs)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rightsdesk-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.halt()
        self._thread.join(timeout)

    def halt(self) -> None:
        """Stop after the notice being sent now (callable from a signal handler)."""
        self._stop.set()

    def run_pass(self) -> None:
        """The due jobs, then the outbox until it is empty (or the worker is stopped)."""
        for job in self.jobs:
            job.run_if_due(time.monotonic())
        try:
            while self.outbox.run_once(self._go_on) and not self._stop.is_set():
                pass
        except Exception as exc:  # keep the thread alive; the database may be back soon
            log.error("outbox pass failed: %s", type(exc).__name__)

    def _go_on(self) -> bool:
        """After each notice: go on unless asked to stop."""
        return not self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_pass()
            self._stop.wait(self.poll_seconds)
        self.outbox.close()


@dataclass
class Periodic:
    """A job run every `every_seconds` (0: on every pass of the worker)."""

    name: str
    every_seconds: float
    run: Callable[[], object]
    next_at: float = 0.0

    def run_if_due(self, now: float) -> None:
        if now < self.next_at:
            return
        self.next_at = now + self.every_seconds
        try:
            self.run()
        except Exception as exc:  # one failing job must not stop the others or the outbox
            reason = exc.reason if isinstance(exc, DeliveryError) else type(exc).__name__
            log.error("%s failed: %s", self.name, reason)
