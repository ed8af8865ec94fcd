"""The request timeline: append-only events, numbered per request."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, insert
from sqlmodel import Session, col, select

from app.models.request import Event, Request
from app.workflows.audit import GENESIS, EventFacts, event_mac

if TYPE_CHECKING:
    from app.runtime import Runtime
from app.workflows.lifecycle import Status, TransitionEvent, transition


def record_event(session: Session, rt: Runtime, request: Request, ev: TransitionEvent) -> Event:
    assert request.id is not None
    event = Event(**_next_event(session, rt, request.id, ev))
    session.add(event)
    return event


def append_event(session: Session, rt: Runtime, request_id: int, ev: TransitionEvent) -> None:
    """`record_event` without loading the request or making an ORM object: one INSERT."""
    session.connection().execute(insert(Event), _next_event(session, rt, request_id, ev))


def append_events(
    session: Session, rt: Runtime, events: Sequence[tuple[int, TransitionEvent]]
) -> None:
    """`append_event` for many (request id, event) pairs at once, in their order: the
    requests locked in id order (workers never wait on each other in a circle), every chain's
    head read in one query, one INSERT."""
    ids = sorted({request_id for request_id, _ in events})
    session.exec(
        select(Request.id)
        .where(col(Request.id).in_(ids))
        .order_by(col(Request.id))
        .with_for_update()
    ).all()
    last = (
        select(Event.request_id, func.max(Event.seq).label("seq"))
        .where(col(Event.request_id).in_(ids))
        .group_by(col(Event.request_id))
        .subquery()
    )
    heads = session.exec(
        select(Event.request_id, Event.seq, Event.mac).join(
            last,
            and_(col(Event.request_id) == last.c.request_id, col(Event.seq) == last.c.seq),
        )
    ).all()
    head = {request_id: (seq + 1, mac or GENESIS) for request_id, seq, mac in heads}
    rows: list[dict[str, Any]] = []
    for request_id, ev in events:
        seq, prev = head.get(request_id, (1, GENESIS))
        rows.append(event_values(rt, request_id, seq, prev, ev))
        head[request_id] = (seq + 1, rows[-1]["mac"])
    session.connection().execute(insert(Event), rows)


def _next_event(
    session: Session, rt: Runtime, request_id: int, ev: TransitionEvent
) -> dict[str, Any]:
    seq, prev = _chain_head(session, request_id)
    return event_values(rt, request_id, seq, prev, ev)


def event_values(
    rt: Runtime, request_id: int, seq: int, prev: str, ev: TransitionEvent
) -> dict[str, Any]:
    """The row of the `seq`-th event of a request, sealed onto `prev` (the last event's MAC)."""
    # Stored as JSON: seal exactly what will be read back (tuples become lists, and so on).
    data = json.loads(json.dumps(ev.data))
    facts = EventFacts(
        request_id=request_id,
        seq=seq,
        kind=ev.kind,
        from_status=ev.from_status or None,
        to_status=ev.to_status or None,
        actor=ev.actor,
        data=data,
        created_at=ev.at,
    )
    return {
        "request_id": request_id,
        "seq": seq,
        "kind": ev.kind,
        "from_status": facts.from_status,
        "to_status": facts.to_status,
        "actor": ev.actor,
        "data": data,
        "created_at": ev.at,
        "prev_mac": prev,
        "mac": event_mac(rt.audit_key, prev, facts),
    }


def seal_events(
    rt: Runtime, request_id: int, events: list[TransitionEvent]
) -> list[dict[str, Any]]:
    """The rows of a new request's first events, chained from the start."""
    rows: list[dict[str, Any]] = []
    prev = GENESIS
    for seq, ev in enumerate(events, start=1):
        rows.append(event_values(rt, request_id, seq, prev, ev))
        prev = rows[-1]["mac"]
    return rows


def _chain_head(session: Session, request_id: int) -> tuple[int, str]:
    """The next seq and the MAC to seal onto (one indexed SELECT after the row lock)."""
    # Serialise appends per request: two workers recording deliveries of the same request
    # would otherwise both take max(seq)+1. (PostgreSQL row lock; SQLite has one writer.)
    session.exec(select(Request.id).where(Request.id == request_id).with_for_update())
    last = session.exec(
        select(Event.seq, Event.mac)
        .where(Event.request_id == request_id)
        .order_by(col(Event.seq).desc())
    ).first()
    return (last[0] + 1, last[1] or GENESIS) if last else (1, GENESIS)


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
    record_event(session, rt, request, note_event(kind, actor=actor, at=rt.clock(), data=data))


def note_event(kind: str, *, actor: str, at: datetime, data: Mapping[str, Any]) -> TransitionEvent:
    """The entry `note` records, for callers that write it themselves."""
    return TransitionEvent(
        kind=kind, from_status="", to_status="", actor=actor, at=at, data=dict(data)
    )
