"""The request timeline: append-only events, numbered per request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from app.models.request import Event, Request

if TYPE_CHECKING:
    from app.runtime import Runtime
from app.workflows.lifecycle import Status, TransitionEvent, transition


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


def move(
    session: Session, rt: Runtime, request: Request, to: Status, *, actor: str, **data: Any
) -> None:
    """Change status through the lifecycle table and record it. The flush runs the version
    check now, so a concurrent writer gets 412 here rather than at commit."""
    now = rt.clock()
    record_event(session, request, transition(request, to, actor=actor, now=now, data=data))
    request.updated_at = now
    session.flush()


def note(
    session: Session, rt: Runtime, request: Request, kind: str, *, actor: str, **data: Any
) -> None:
    """A timeline entry that is not a status change (no personal data in `data`)."""
    record_event(
        session,
        request,
        TransitionEvent(
            kind=kind, from_status="", to_status="", actor=actor, at=rt.clock(), data=dict(data)
        ),
    )
