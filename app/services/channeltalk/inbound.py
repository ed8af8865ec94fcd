"""Channel Talk deliveries: stored once per event, processed after the 200, at least once.

The webhook only checks the token, stores the raw body (encrypted) under the event's identity
and answers; a repeat of the same event finds its row and is dropped. Processing claims the
row with a conditional UPDATE (a lease, as the outbox does), so the request's background task
and the worker never process one event twice at the same time, and a crash mid-way leaves a
lease that expires and a row that is processed again — which is safe, because every effect of
processing is itself keyed (one request per chat and type, one notice per key).
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app.db import transaction
from app.integrations import channeltalk_events as wire
from app.models.channeltalk import InboundEvent
from app.runtime import Runtime
from app.services.notices.outbox import retry_delay

log = logging.getLogger("rightsdesk.channeltalk")

_LEASE = timedelta(minutes=2)
# Events are processed one at a time in a process (each takes milliseconds): two messages of
# one chat arriving together must not both file the same request. Across processes on
# PostgreSQL, chat_requests takes an advisory lock per chat as well. Never waited on: a
# thread that finds it taken leaves its event to the holder (see process_event).
_ONE_AT_A_TIME = threading.Lock()


def record_delivery(rt: Runtime, raw: bytes, *, via: str = "webhook") -> int | None:
    """Store a delivery; returns its id when it is new and worth processing, else None.

    Committed here, before the webhook answers 200: once Channel Talk hears 200 the event must
    survive a crash of this process.
    """
    depth = rt.settings.channeltalk_max_json_depth
    if wire.nesting_exceeds(raw, depth):
        # Checked before anything parses it recursively; 200 and dropped like any unreadable
        # body (never a 500, which Channel Talk counts towards blocking the webhook).
        log.warning(
            "Channel Talk delivery nested deeper than %d levels (%d bytes); dropped",
            depth,
            len(raw),
        )
        return None
    envelope = wire.parse(raw, max_depth=depth)
    if envelope is None:
        # Never 4xx to Channel Talk for a body we cannot read: 100 failures block the webhook.
        log.warning("Channel Talk delivery is not a JSON envelope (%d bytes); dropped", len(raw))
        return None
    key_hash = wire.dedupe_hash(wire.dedupe_key(envelope, raw))
    now = rt.clock()
    try:
        with transaction(rt.engine) as session:
            if session.exec(
                select(InboundEvent.id).where(InboundEvent.dedupe_hash == key_hash)
            ).first():
                log.info("Channel Talk %s event repeated; already stored", envelope.kind)
                return None
            event = InboundEvent(
                dedupe_hash=key_hash,
                kind=envelope.kind,
                via=via,
                payload_enc=rt.vault.encrypt(raw.decode("utf-8", "replace"), field="inbound.raw"),
                next_attempt_at=now,
                received_at=now,
            )
            session.add(event)
            session.flush()
            return event.id
    except IntegrityError:
        # The same event arrived twice at once; the other copy is stored.
        return None


def process_event(rt: Runtime, event_id: int) -> None:
    """Process this event now, or leave it to the thread of this process that is already
    processing: that one drains every due event before it lets go, so no pool thread ever
    waits here (the web endpoints share that pool)."""
    _drain(rt, first=event_id)


def _drain(rt: Runtime, *, first: int | None) -> int:
    tried = 0
    while _ONE_AT_A_TIME.acquire(blocking=False):
        try:
            ids = [first] if first is not None else []
            first = None
            for event_id in dict.fromkeys([*ids, *_due_ids(rt, rt.settings.worker_batch_size)]):
                tried += _process_one(rt, event_id)
        finally:
            _ONE_AT_A_TIME.release()
        if not _due_ids(rt, 1):  # nothing arrived while we held the lock
            break
    return tried


def _process_one(rt: Runtime, event_id: int) -> int:
    """Claim and process one event (the lock is held); 1 when it was tried, else 0."""
    if not _claim(rt, event_id):
        return 0
    from app.services.channeltalk.requests import handle_envelope

    try:
        with transaction(rt.engine) as session:
            event = session.get(InboundEvent, event_id)
            assert event is not None
            raw = rt.vault.decrypt(event.payload_enc, field="inbound.raw").encode()
            envelope = wire.parse(raw, max_depth=rt.settings.channeltalk_max_json_depth)
            outcome = (
                handle_envelope(session, rt, envelope, event.received_at)
                if envelope
                else "unreadable"
            )
            event.status = "done" if outcome not in ("ignored", "unreadable") else "ignored"
            event.outcome, event.processed_at = outcome, rt.clock()
            event.lease_until, event.last_error = None, None
        log.info("Channel Talk event %s: %s", event_id, outcome)
    except Exception as exc:  # the row stays; the worker tries again with backoff
        _failed(rt, event_id, type(exc).__name__)
    return 1


def _claim(rt: Runtime, event_id: int) -> bool:
    now = rt.clock()
    claimable = (
        col(InboundEvent.id) == event_id,
        col(InboundEvent.status).in_(("pending", "processing")),
        or_(col(InboundEvent.lease_until).is_(None), col(InboundEvent.lease_until) < now),
    )
    with transaction(rt.engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            event = session.exec(
                select(InboundEvent).where(*claimable).with_for_update(skip_locked=True)
            ).first()
            if event is None:
                return False
            event.status, event.lease_until = "processing", now + _LEASE
            event.attempts += 1
            return True
        claimed = session.execute(
            update(InboundEvent)
            .where(*claimable)
            .values(
                status="processing", lease_until=now + _LEASE, attempts=InboundEvent.attempts + 1
            )
        )
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _failed(rt: Runtime, event_id: int, reason: str) -> None:
    now = rt.clock()
    settings = rt.settings
    with transaction(rt.engine) as session:
        event = session.get(InboundEvent, event_id)
        assert event is not None
        event.lease_until, event.last_error = None, reason[:200]
        if event.attempts >= settings.channeltalk_event_max_attempts:
            event.status = "failed"
            log.error(
                "Channel Talk event %s failed after %d attempts: %s",
                event_id,
                event.attempts,
                reason,
            )
            return
        event.status = "pending"
        delay = retry_delay(
            event.attempts,
            base=settings.notice_backoff_base_seconds,
            cap=settings.notice_backoff_cap_seconds,
            rng=random.SystemRandom(),
        )
        event.next_attempt_at = now + timedelta(seconds=delay)
        log.warning(
            "Channel Talk event %s: attempt %d failed (%s)", event_id, event.attempts, reason
        )


def process_due(rt: Runtime) -> int:
    """The worker's pass: events not processed yet (a crash, a failure, a lost background
    task). Returns how many were tried (0 when another thread here is at it)."""
    return _drain(rt, first=None)


def _due_ids(rt: Runtime, limit: int) -> list[int]:
    now = rt.clock()
    with transaction(rt.engine) as session:
        due = session.exec(
            select(InboundEvent.id)
            .where(
                col(InboundEvent.status).in_(("pending", "processing")),
                col(InboundEvent.next_attempt_at) <= now,
                or_(col(InboundEvent.lease_until).is_(None), col(InboundEvent.lease_until) < now),
            )
            .order_by(col(InboundEvent.id))
            .limit(limit)
        ).all()
    return [i for i in due if i is not None]


def purge_expired(rt: Runtime) -> int:
    """Raw deliveries are kept CHANNELTALK_EVENT_RETENTION_DAYS, then deleted (the request keeps
    what it needs: the message text, encrypted, and the chat link)."""
    cutoff = rt.clock() - timedelta(days=rt.settings.channeltalk_event_retention_days)
    with transaction(rt.engine) as session:
        result = session.execute(
            delete(InboundEvent).where(
                col(InboundEvent.received_at) < cutoff,
                col(InboundEvent.status).in_(("done", "ignored", "failed")),
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
