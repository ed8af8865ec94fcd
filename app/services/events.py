"""The request timeline: append-only events, numbered per request."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from app.models.request import Event, Request
from app.workflows.audit import GENESIS, EventFacts, event_mac

if TYPE_CHECKING:
    from app.runtime import Runtime
from app.workflows.lifecycle import Status, TransitionEvent, transition


def record_event(session: Session, rt: Runtime, request: Request, ev: TransitionEvent) -> Event:
    # Serialise appends per request: two workers recording deliveries of the same request
    # would otherwise both take max(seq)+1. (PostgreSQL row lock; SQLite has one writer.)
    session.exec(select(Request.id).where(Request.id == request.id).with_for_update())
    last = session.exec(
        select(Event.seq, Event.mac)
        .where(Event.request_id == request.id)
        .order_by(col(Event.seq).desc())
    ).first()
    seq, prev = (last[0] + 1, last[1] or GENESIS) if last else (1, GENESIS)
    # Stored as JSON: seal exactly what will be read back (tuples become lists, and so on).
    data = json.loads(json.dumps(ev.data))
    assert request.id is not None
    facts = EventFacts(
        request_id=request.id,
        seq=seq,
        kind=ev.kind,
        from_status=ev.from_status or None,
        to_status=ev.to_status or None,
        actor=ev.actor,
        data=data,
        created_at=ev.at,
    )
    event = Event(
        request_id=request.id,
        seq=seq,
        kind=ev.kind,
        from_status=facts.from_status,
        to_status=facts.to_status,
        actor=ev.actor,
        data=data,
        created_at=ev.at,
        prev_mac=prev,
        mac=event_mac(rt.audit_key, prev, facts),
    )
    session.add(event)
    return event


def move(
    session: Session, rt: Runtime, request: Request, to: Status, *, actor: str, **data: Any
) -> None:
    """Change status through the lifecycle table and record it. The flush runs the version
    check now, so a concurrent writer gets 412 here rather than at commit."""
    now = rt.clock()
    record_event(session, rt, request, transition(request, to, actor=actor, now=now, data=data))
    request.updated_at = now
    session.flush()


def note(
    session: Session, rt: Runtime, request: Request, kind: str, *, actor: str, **data: Any
) -> None:
    """A timeline entry that is not a status change (no personal data in `data`)."""
    record_event(
        session,
        rt,
        request,
        TransitionEvent(
            kind=kind, from_status="", to_status="", actor=actor, at=rt.clock(), data=dict(data)
        ),
    )
