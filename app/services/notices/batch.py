"""The outbox's database work, a batch of notices at a time: claim, give back, record.

Each step is one short transaction of Core statements (no ORM objects): on SQLite the
database is locked only for these, and on PostgreSQL a batch of n notices costs two commits
instead of 2n. What the steps guarantee is in `app.services.notices.outbox`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, update
from sqlalchemy import select as sa_select  # sqlmodel's select takes at most four columns
from sqlmodel import col

from app.db import transaction
from app.integrations.delivery import DeliveryError, Outgoing, PermanentDeliveryError
from app.models.notice import Notice, NoticeAttempt
from app.models.request import Request
from app.models.vocab import NoticeStatus
from app.runtime import Runtime
from app.services.audit.timeline import append_events, note_event
from app.workflows.lifecycle import TransitionEvent

log = logging.getLogger("rightsdesk.outbox")

NOT_SENT = "not_sent"  # an attempt's outcome: its lease ran out before it was sent


@dataclass(frozen=True)
class Claimed:
    """A notice taken under a lease, with its attempt row (committed before any send)."""

    message: Outgoing
    attempt_id: int
    number: int  # the attempt's number: the notice's `attempts` while the lease is ours
    lease_until: datetime
    transport: str


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    error: DeliveryError | None  # None: delivered
    finished_at: datetime


def retry_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Capped exponential backoff with jitter: uniform in [half, full] of min(cap, base*2^(n-1))."""
    ceiling: float = min(cap, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + rng.random() * ceiling / 2


def claim(rt: Runtime, transports: dict[str, Any], limit: int) -> list[Claimed]:
    """Lease up to `limit` due notices and record an attempt of each, in one transaction.

    PostgreSQL: UPDATE ... FROM (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED), so workers take
    different notices instead of queueing behind each other's locks. SQLite has one writer:
    UPDATE ... WHERE id IN (the same SELECT) is the claim. Both repeat the due conditions."""
    now = rt.clock()
    lease = now + timedelta(seconds=rt.settings.notice_lease_seconds)
    due = (
        col(Notice.status) == NoticeStatus.PENDING,
        col(Notice.next_attempt_at) <= now,
        or_(col(Notice.lease_until).is_(None), col(Notice.lease_until) < now),
    )
    with transaction(rt.engine) as session:
        conn = session.connection()
        pick = (
            sa_select(col(Notice.id))
            .where(*due)
            .order_by(col(Notice.next_attempt_at), col(Notice.id))
            .limit(limit)
        )
        claim_ = update(Notice).values(lease_until=lease, attempts=col(Notice.attempts) + 1)
        if conn.dialect.name == "postgresql":
            # Materialised, so the LIMIT holds: inlined, the planner may run the subquery
            # again for every row it updates.
            picked = (
                pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
            )
            claim_ = claim_.where(col(Notice.id) == picked.c.id)
        else:
            claim_ = claim_.where(col(Notice.id).in_(pick))
        rows = list(conn.execute(claim_.where(*due).returning(col(Notice.id), *_CLAIMED)).all())
        if not rows:
            return []
        rows.sort(key=lambda r: r[0] or 0)
        references = dict(
            conn.execute(
                sa_select(col(Request.id), col(Request.reference)).where(
                    col(Request.id).in_({r.request_id for r in rows})
                )
            ).all()
        )
        attempt_ids = (
            conn.execute(
                insert(NoticeAttempt).returning(
                    col(NoticeAttempt.id), sort_by_parameter_order=True
                ),
                [
                    {
                        "notice_id": r.id,
                        "number": r.attempts,
                        "transport": transports[r.channel].name,
                        "started_at": now,
                    }
                    for r in rows
                ],
            )
            .scalars()
            .all()
        )
    # Decrypted after the commit: the transaction holds the claim only.
    return [
        Claimed(_outgoing(rt, r, references[r.request_id]), a or 0, r.attempts, lease, t.name)
        for r, a in zip(rows, attempt_ids, strict=True)
        for t in (transports[r.channel],)
    ]


def _outgoing(rt: Runtime, row: Any, reference: str) -> Outgoing:
    v = rt.vault
    return Outgoing(
        notice_id=row.id,
        key=f"rightsdesk-notice-{row.id}",
        channel=row.channel,
        to=v.decrypt(row.recipient_enc, field="notice.recipient"),
        subject=v.decrypt(row.subject_enc, field="notice.subject"),
        body=v.decrypt(row.body_enc, field="notice.body"),
        reference=reference,
        kind=row.kind,
        redacted_body=(
            None
            if row.redacted_body_enc is None
            else v.decrypt(row.redacted_body_enc, field="notice.body")
        ),
    )


def finish(
    rt: Runtime, outcomes: Sequence[Outcome], unsent: Sequence[Claimed], rng: random.Random
) -> None:
    """Record what was sent and give back what was not, in one transaction."""
    if not outcomes and not unsent:
        return
    now = rt.clock()
    with transaction(rt.engine) as session:
        conn = session.connection()
        ids = [o.claimed.message.notice_id for o in outcomes] + [
            c.message.notice_id for c in unsent
        ]
        # Locked (PostgreSQL) so no other worker takes one of them over meanwhile.
        current = {
            r.id: r
            for r in conn.execute(
                sa_select(*_RECORDED).where(col(Notice.id).in_(ids)).with_for_update()
            ).all()
        }
        attempts: list[dict[str, object]] = []
        notices: list[dict[str, object]] = []
        events: list[tuple[int, TransitionEvent]] = []
        for outcome in outcomes:
            _outcome(
                rt,
                current[outcome.claimed.message.notice_id],
                outcome,
                rng,
                attempts,
                notices,
                events,
            )
        for claimed in unsent:
            _give_back(conn, current[claimed.message.notice_id], claimed, now, attempts)
        _update_many(conn, NoticeAttempt, attempts)
        _update_many(conn, Notice, notices)
        if events:
            append_events(session, rt, events)


def _outcome(
    rt: Runtime,
    notice: Any,
    outcome: Outcome,
    rng: random.Random,
    attempts: list[dict[str, object]],
    notices: list[dict[str, object]],
    events: list[tuple[int, TransitionEvent]],
) -> None:
    claimed, error, at = outcome.claimed, outcome.error, outcome.finished_at
    number = claimed.number
    if notice.attempts != number or notice.status != NoticeStatus.PENDING:
        # Our lease ran out and another worker took the notice over: its outcome is the
        # notice's; ours is only this attempt's record.
        log.warning("notice %s: attempt %d finished after its lease", notice.id, number)
        outcome_name = "superseded" if error is None else "retry"
        reason = None if error is None else error.reason
        attempts.append(
            {"_id": claimed.attempt_id, "finished_at": at, "outcome": outcome_name, "error": reason}
        )
        return
    if error is None:
        done, changes, event = _delivered(notice, claimed, at)
    else:
        done, changes, event = _not_delivered(rt, notice, claimed, error, at, rng)
    attempts.append({"_id": claimed.attempt_id, **done})
    notices.append({"_id": notice.id, **changes})
    if event:
        data: dict[str, object] = {
            "notice_id": notice.id,
            "notice_kind": notice.kind,
            "transport": claimed.transport,
            "attempts": notice.attempts,
        }
        if error is not None:
            data["error"] = error.reason
        events.append((notice.request_id, note_event(event, actor="outbox", at=at, data=data)))


def _give_back(
    conn: Connection,
    notice: Any,
    claimed: Claimed,
    now: datetime,
    attempts: list[dict[str, object]],
) -> None:
    """A notice claimed but not sent: still ours, it is due again at once, as if never
    claimed (its attempt row goes); taken over meanwhile, our attempt says it was not sent."""
    if notice.attempts == claimed.number and notice.status == NoticeStatus.PENDING:
        conn.execute(
            update(Notice)
            .where(col(Notice.id) == notice.id)
            .values(attempts=col(Notice.attempts) - 1, lease_until=None)
        )
        conn.execute(delete(NoticeAttempt).where(col(NoticeAttempt.id) == claimed.attempt_id))
        return
    attempts.append(
        {
            "_id": claimed.attempt_id,
            "finished_at": now,
            "outcome": NOT_SENT,
            "error": "lease ran out before sending",
        }
    )


def _delivered(
    notice: Any, claimed: Claimed, now: datetime
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
        claimed.message.reference,
        claimed.transport,
    )
    return {"finished_at": now, "outcome": "delivered", "error": None}, changes, "notice_delivered"


def _not_delivered(
    rt: Runtime,
    notice: Any,
    claimed: Claimed,
    error: DeliveryError,
    now: datetime,
    rng: random.Random,
) -> tuple[dict[str, object], dict[str, object], str]:
    """A permanent refusal, or the last attempt, fails the notice; anything else is tried
    again after the backoff."""
    settings, number, reference = rt.settings, claimed.number, claimed.message.reference
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
            reference,
            number,
            error.reason,
        )
        return done, changes, "notice_failed"
    delay = retry_delay(
        number,
        base=settings.notice_backoff_base_seconds,
        cap=settings.notice_backoff_cap_seconds,
        rng=rng,
    )
    changes["next_attempt_at"] = now + timedelta(seconds=delay)
    log.warning(
        "notice %s (%s) for %s: attempt %d failed (%s); retry in %.0fs",
        notice.id,
        notice.kind,
        reference,
        number,
        error.reason,
        delay,
    )
    return done, changes, ""


def _update_many(conn: Connection, model: Any, rows: list[dict[str, object]]) -> None:
    """UPDATE ... SET <the row's columns> WHERE id = :_id, one executemany per set of columns."""

    def shape(row: dict[str, object]) -> tuple[str, ...]:
        return tuple(sorted(row))

    by_id = update(model).where(model.id == bindparam("_id"))
    for _, group in groupby(sorted(rows, key=shape), key=shape):
        conn.execute(by_id, list(group))


# What a claim reads back, and what recording an outcome needs.
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
_RECORDED = (
    col(Notice.id),
    col(Notice.request_id),
    col(Notice.kind),
    col(Notice.status),
    col(Notice.attempts),
    col(Notice.redacted_body_enc),
)
