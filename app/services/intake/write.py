"""The one writer of new requests: a plan's rows in one go, and the sealed first timeline.

This is the only INSERT into the request table (SQLAlchemy Core: rows this transaction
creates and never reads back need no unit of work).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, bindparam, insert
from sqlmodel import Session, select

from app.core.codes import new_reference
from app.models.identity import Attachment, Verification
from app.models.notice import Notice
from app.models.request import Delegation, Event, Party, Request
from app.runtime import Runtime
from app.services.audit.timeline import note_event, seal_events
from app.services.identity import evidence, otp
from app.services.intake.plan import FilingPlan
from app.services.notices.queue import queued_data
from app.services.requests import duplicates
from app.workflows.lifecycle import TransitionEvent


def write_filing(session: Session, rt: Runtime, plan: FilingPlan) -> int:
    """Insert the plan's request and everything that belongs to it; returns the request id.
    The timeline lists the steps in the order they happened: filed, files, notices, code."""
    conn = session.connection()
    rid = _insert(conn, Request, plan.request)
    if plan.parties:
        conn.execute(insert(Party), [{**p, "request_id": rid} for p in plan.parties])
    if plan.delegation is not None:
        conn.execute(insert(Delegation), {**plan.delegation, "request_id": rid})
    timeline: list[TransitionEvent] = [plan.filed]
    if plan.attachments:
        stored = [{**a, "request_id": rid} for a in plan.attachments]
        for row in stored:
            row["id"] = _insert(conn, Attachment, row)
        note = evidence.attachments_note(stored, None)
        timeline.append(note_event("attachments_added", actor=plan.actor, at=plan.at, data=note))
    for actor, row in plan.notices:
        notice_id = _insert(conn, Notice, {**row, "request_id": rid})
        queued = queued_data(notice_id, row["kind"], row["channel"])
        timeline.append(note_event("notice_queued", actor=actor, at=plan.at, data=queued))
    if plan.code is not None:
        conn.execute(insert(Verification), otp.first_verification(rt, rid, plan.code, plan.at))
        timeline.append(note_event("code_sent", actor=plan.actor, at=plan.at, data={"sends": 1}))
    conn.execute(insert(Event), seal_events(rt, rid, timeline))
    duplicates.flag_at_filing(session, rt, rid, actor=plan.actor)
    return rid


def _insert(conn: Connection, model: Any, row: dict[str, Any]) -> int:
    key = conn.execute(insert(model), row).inserted_primary_key
    assert key is not None
    return int(key[0])


_REFERENCE_TAKEN = select(Request.id).where(Request.reference == bindparam("ref"))


def unique_reference(session: Session, received_on: date) -> str:
    """A reference no request has yet (40 random bits: a clash is practically never)."""
    for _ in range(5):
        ref = new_reference(received_on)
        taken = session.connection().execute(_REFERENCE_TAKEN, {"ref": ref}).first()
        if taken is None:
            return ref
    raise RuntimeError("could not draw a free reference")
