"""The outbox: claims due notices a batch at a time, hands them to a transport, records
every attempt.

Delivery is at least once. A worker claims up to WORKER_BATCH_SIZE due notices in one
transaction: each gets a lease (NOTICE_LEASE_SECONDS) and an attempt record, committed
before anything is sent; this is safe with several workers on SQLite and PostgreSQL alike.
It then sends them one after the other (over the one kept SMTP connection), and records
every outcome, and the timeline entries, in one more transaction after the batch.

- A worker that dies mid-batch leaves its leases to expire; the notices it had sent but not
  recorded (at most the batch) are sent again under the same Message-ID / Idempotency-Key,
  so the receiving side can tell it is the same message. Their first attempt stays open.
- A notice is sent only while its lease has at least the slowest send left (at most 90 % of
  the lease): a batch that fell behind gives the rest back, due again at once, instead of
  sending under a lease another worker may have taken over. A notice given back loses its
  attempt record, since nothing was tried.
- An outcome that arrives after another worker took the notice over is that attempt's
  record only; the notice keeps the other worker's outcome.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from app.integrations.delivery import DeliveryError, Transport, classify
from app.integrations.mail import FileTransport, SmtpTransport
from app.integrations.sms import HttpSmsTransport
from app.runtime import Runtime
from app.services.notices.batch import Claimed, Outcome, claim, finish, retry_delay
from app.settings import Settings

log = logging.getLogger("rightsdesk.outbox")

__all__ = ["BackgroundWorker", "Outbox", "Periodic", "retry_delay", "transports_for"]


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
            settings.sms_url,
            timeout=settings.sms_timeout_seconds,
            token=settings.sms_token,
            allow_lms=settings.sms_allow_lms,
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
        """Deliver one batch of what is due now; returns how many notices were tried.
        `go_on` is asked after each notice whether to continue: if not, the rest of the
        batch is given back."""
        settings = self.rt.settings
        batch = claim(self.rt, self.transports, settings.worker_batch_size)
        # A send must end inside the lease; a lease shorter than the slowest send (warned
        # about at start-up) still lets the first notices of a batch go.
        margin = timedelta(
            seconds=min(settings.slowest_send_seconds, settings.notice_lease_seconds * 0.9)
        )
        outcomes: list[Outcome] = []
        started = 0
        try:
            for claimed in batch:
                if self.rt.clock() + margin > claimed.lease_until:
                    break
                started += 1
                outcomes.append(self._send(claimed))
                if go_on is not None and not go_on():
                    break
        finally:
            # The notices not started go back. One interrupted mid-send (an exception
            # that is not a delivery error) may have gone out: it keeps its open attempt
            # and lease, like after a crash.
            finish(self.rt, outcomes, batch[started:], self.rng)
        return len(outcomes)

    def _send(self, claimed: Claimed) -> Outcome:
        error: DeliveryError | None = None
        try:
            self.transports[claimed.message.channel].send(claimed.message)
        except Exception as exc:  # every failure is recorded; none escapes the worker
            error = classify(exc)
        return Outcome(claimed, error, self.rt.clock())


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
        """Stop after the notice being sent now; the rest of its batch is given back
        (callable from a signal handler)."""
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
