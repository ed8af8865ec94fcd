"""The request timeline: append-only events, numbered per request."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.models.request import Event, Request
from app.workflows.lifecycle import TransitionEvent


def record_event(session: Session, request: Request, ev: TransitionEvent) -> Event:
    # Serialise appends per request: two workers recording deliveries of the same request
    # would otherwise both take max(seq)+1. (PostgreSQL row lock; SQLite has one writer.)
    session.exec(select(Request.id).where(Request.id == request.id).with_for_update())
    last = session.exec(
        select(Event.seq).where(Event.request_id == request.id).order_by(col(Event.seq).desc())
    ).first()
    event = Event(
        request_id=request.id,  # type: ignore[arg-type]
        seq=(last or 0) + 1,
        kind=ev.kind,
        from_status=ev.from_status or None,
        to_status=ev.to_status or None,
        actor=ev.actor,
        data=ev.data,
        created_at=ev.at,
    )
    session.add(event)
    return event
