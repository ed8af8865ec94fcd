"""Sealing and checking the timeline: global anchors, and `audit verify` (app/workflows/audit.py).

No API edits or deletes events; this module is how anyone can show that nobody did it by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.db import transaction
from app.models.request import AuditAnchor, Event, Request
from app.runtime import Runtime
from app.workflows.audit import GENESIS, Break, EventFacts, anchor_mac, check_chain


def anchor(rt: Runtime) -> AuditAnchor | None:
    """Append one anchor over the chains that grew since the last one (None: nothing new)."""
    key = rt.audit_key
    try:
        with transaction(rt.engine) as session:
            last = session.exec(
                select(AuditAnchor).order_by(col(AuditAnchor.id).desc()).limit(1)
            ).first()
            watermark = last.last_event_id if last else 0
            top = session.exec(select(func.max(Event.id))).one()
            if not top or top <= watermark:
                return None
            # The newest event of every chain that grew, with its MAC, in one query.
            grown = (
                select(Event.request_id, func.max(Event.seq).label("seq"))
                .where(col(Event.id) > watermark, col(Event.id) <= top)
                .group_by(col(Event.request_id))
                .subquery()
            )
            rows = session.exec(
                select(Event.request_id, Event.seq, Event.mac)
                .join(
                    grown,
                    and_(
                        col(Event.request_id) == grown.c.request_id,
                        col(Event.seq) == grown.c.seq,
                    ),
                )
                .order_by(col(Event.request_id))
            ).all()
            heads: list[list[Any]] = [[rid, seq, mac] for rid, seq, mac in rows]
            prev = last.mac if last else GENESIS
            new = AuditAnchor(
                last_event_id=top,
                heads=heads,
                prev_mac=prev,
                mac=anchor_mac(key, prev, top, heads),
                created_at=rt.clock(),
            )
            session.add(new)
            session.flush()
            return new
    except IntegrityError:
        return None  # another worker anchored the same moment (prev_mac is unique)


def verify(rt: Runtime) -> dict[str, Any]:
    """Walk every chain and every anchor; report the first broken link, by reference."""
    key = rt.audit_key
    counts = {"requests": 0, "events": 0, "anchors": 0}
    found: Break | None = None
    with Session(rt.engine) as session:
        for chain in _chains(session):
            counts["requests"] += 1
            counts["events"] += len(chain)
            found = check_chain(key, chain)
            if found:
                break
        if found is None:
            found = _check_anchors(session, key, counts)
        reference = _reference(session, found.request_id) if found else None
    result: dict[str, Any] = {"intact": found is None, "checked": counts}
    if found is not None:
        result["first_break"] = {
            "where": found.where,
            "id": found.id,
            "reference": reference,
            "seq": found.seq,
            "reason": found.reason,
        }
    return result


def _chains(
    session: Session,
) -> Iterator[list[tuple[int, str | None, str | None, EventFacts]]]:
    """Each request's events in seq order, streamed (a request at a time in memory)."""
    rows = session.execute(
        select(Event)
        .order_by(col(Event.request_id), col(Event.seq))
        .execution_options(yield_per=2000)
    ).scalars()
    chain: list[tuple[int, str | None, str | None, EventFacts]] = []
    for e in rows:
        if chain and chain[-1][3].request_id != e.request_id:
            yield chain
            chain = []
        assert e.id is not None
        facts = EventFacts(
            request_id=e.request_id,
            seq=e.seq,
            kind=e.kind,
            from_status=e.from_status,
            to_status=e.to_status,
            actor=e.actor,
            data=e.data,
            created_at=e.created_at,
        )
        chain.append((e.id, e.prev_mac, e.mac, facts))
    if chain:
        yield chain


def _check_anchors(session: Session, key: bytes, counts: dict[str, int]) -> Break | None:
    prev = GENESIS
    for a in session.exec(select(AuditAnchor).order_by(col(AuditAnchor.id))):
        assert a.id is not None
        counts["anchors"] += 1
        if a.prev_mac != prev or a.mac != anchor_mac(key, prev, a.last_event_id, a.heads):
            return Break("anchor", a.id, None, None, "anchor does not follow the chain")
        for rid, seq, mac in a.heads:
            stored = session.exec(
                select(Event.id, Event.mac).where(Event.request_id == rid, Event.seq == seq)
            ).first()
            if stored is None:
                return Break("anchor", a.id, rid, seq, "an anchored event is missing")
            if stored[1] != mac:
                return Break("event", stored[0] or 0, rid, seq, "differs from its anchored seal")
        prev = a.mac
    return None


def _reference(session: Session, request_id: int | None) -> str | None:
    if request_id is None:
        return None
    return session.exec(select(Request.reference).where(Request.id == request_id)).first()
