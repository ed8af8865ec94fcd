"""Duplicate requests: the lookup at filing, the flags on both requests, and what staff do
with them (link both, or close the newer as a duplicate with a notice to its requester).

The rule (same subject, service and type, the older still open) is
app/workflows/duplicates.py; here are the candidates (the subject's blind indexes, one
indexed lookup per key) and the rows.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.errors import Conflict, NotFound
from app.models.duplicate import DuplicateFlag
from app.models.request import Party, Request
from app.models.request_api import DuplicateOut
from app.models.staff import Staff
from app.models.vocab import Status
from app.runtime import Runtime
from app.services.audit.timeline import move, note
from app.services.notices.queue import queue_notice
from app.workflows.duplicates import (
    Filed,
    FlagState,
    SubjectKeys,
    duplicate_basis,
    may_close_as_duplicate,
)
from app.workflows.lifecycle import CLOSED
from app.workflows.notice_extras import DuplicateClosedExtra, NoticeKind

_CLOSED = [s.value for s in CLOSED]
# A subject filing the same thing again and again (a script, a frustrated customer) would
# otherwise make each filing flag, and lock the timeline of, every earlier one: the most
# recent few are enough for staff to see the pattern.
MAX_FLAGS_PER_FILING = 5


def _keys(rt: Runtime, party: Party) -> SubjectKeys:
    birth = rt.vault.decrypt_opt(party.birth_date_enc, field="party.birth_date")
    return SubjectKeys(
        email_bidx=party.email_bidx,
        phone_bidx=party.phone_bidx,
        name_bidx=party.name_bidx,
        birth_date=date.fromisoformat(birth) if birth else None,
    )


def _filed(rt: Runtime, req: Request, party: Party) -> Filed:
    return Filed(req.service, req.type, Status(req.status), _keys(rt, party))


def flag_at_filing(session: Session, rt: Runtime, request_id: int, *, actor: str) -> int:
    """Flags the new request against the open requests of the same subject, service and
    type; returns how many. The flag row shows on both requests; only the new request's
    timeline records it. Writing on the older one's timeline would lock its row inside every
    filing, and the outbox worker locks the same rows when it records deliveries: on
    PostgreSQL the two deadlocked under a burst of filings by one person."""
    new = session.get(Request, request_id)
    subject = session.exec(
        select(Party).where(Party.request_id == request_id, Party.role == "subject")
    ).first()
    if new is None or subject is None:
        return 0
    keys = [
        (col(Party.email_bidx), subject.email_bidx),
        (col(Party.phone_bidx), subject.phone_bidx),
        (col(Party.name_bidx), subject.name_bidx),
    ]
    matches = [column == value for column, value in keys if value]
    if not matches:
        return 0
    rows = session.exec(
        select(Request, Party)
        .join(Party, col(Party.request_id) == col(Request.id))
        .where(
            or_(*matches),
            Party.role == "subject",
            Request.service == new.service,
            Request.type == new.type,
            col(Request.status).not_in(_CLOSED),
            col(Request.id) != request_id,
        )
        .order_by(col(Request.id).desc())
        .limit(MAX_FLAGS_PER_FILING)
    ).all()
    mine = _filed(rt, new, subject)
    flagged = 0
    for other, party in rows:
        basis = duplicate_basis(mine, _filed(rt, other, party))
        if basis is None or other.id is None:
            continue
        session.add(
            DuplicateFlag(
                request_id=request_id, other_id=other.id, basis=basis.value,
                flagged_at=rt.clock(),
            )
        )  # fmt: skip
        note(session, rt, new, "duplicate_flagged", actor=actor,
             duplicates=other.reference, basis=basis.value)  # fmt: skip
        flagged += 1
    session.flush()
    return flagged


def duplicates_of(session: Session, request_id: int) -> list[DuplicateOut]:
    """The flags a request is in, newer or older side, in the order they were raised."""
    flags = session.exec(
        select(DuplicateFlag)
        .where(
            or_(
                col(DuplicateFlag.request_id) == request_id,
                col(DuplicateFlag.other_id) == request_id,
            )
        )
        .order_by(col(DuplicateFlag.id))
    ).all()
    others = {f.other_id if f.request_id == request_id else f.request_id for f in flags}
    reqs = {r.id: r for r in session.exec(select(Request).where(col(Request.id).in_(others))).all()}
    out = []
    for f in flags:
        newer_side = f.request_id == request_id
        other = reqs[f.other_id if newer_side else f.request_id]
        out.append(
            DuplicateOut(
                reference=other.reference,
                other_is="older" if newer_side else "newer",
                basis=f.basis,
                state=f.state,
                other_status=Status(other.status).value,
            )
        )
    return out


def open_flags(session: Session, limit: int = 200) -> list[tuple[DuplicateFlag, Request, Request]]:
    """Flags nobody has settled yet, oldest first: (flag, newer, older)."""
    rows = session.exec(
        select(DuplicateFlag).where(DuplicateFlag.state == FlagState.FLAGGED.value)
        .order_by(col(DuplicateFlag.id)).limit(limit)
    ).all()  # fmt: skip
    out = []
    for f in rows:
        newer, older = session.get(Request, f.request_id), session.get(Request, f.other_id)
        if newer is not None and older is not None:
            out.append((f, newer, older))
    return out


def _flag(session: Session, newer: Request, older_reference: str) -> tuple[DuplicateFlag, Request]:
    older = session.exec(select(Request).where(Request.reference == older_reference)).first()
    flag = None
    if older is not None:
        flag = session.exec(
            select(DuplicateFlag).where(
                DuplicateFlag.request_id == newer.id, DuplicateFlag.other_id == older.id
            )
        ).first()
    if older is None or flag is None:
        raise NotFound(f"{newer.reference}은(는) {older_reference}의 중복으로 표시되지 않았습니다.")
    return flag, older


def link(session: Session, rt: Runtime, newer: Request, older_reference: str, staff: Staff) -> None:
    """Staff saw the flag and keep both requests: each timeline names the other."""
    flag, older = _flag(session, newer, older_reference)
    if flag.state != FlagState.FLAGGED.value:
        raise Conflict("이미 처리된 중복 표시입니다.", code="duplicate_settled")
    actor = f"staff:{staff.id}"
    flag.state, flag.settled_at, flag.settled_by = FlagState.LINKED.value, rt.clock(), staff.id
    note(session, rt, newer, "duplicate_linked", actor=actor, linked_to=older.reference)
    note(session, rt, older, "duplicate_linked", actor=actor, linked_to=newer.reference)
    session.flush()


def close_as_duplicate(
    session: Session, rt: Runtime, newer: Request, older_reference: str, staff: Staff
) -> None:
    """Closes the newer request (rejected) and tells its requester which request continues
    and how to object; the older one's timeline records it."""
    flag, older = _flag(session, newer, older_reference)
    if Status(older.status) in CLOSED:
        raise Conflict(
            f"{older.reference}이(가) 이미 종결되어 이어서 처리할 요청이 없습니다.",
            code="duplicate_of_closed",
        )
    if not may_close_as_duplicate(Status(newer.status), FlagState(flag.state)):
        raise Conflict(
            "중복으로 종결할 수 있는 것은 아직 처리하지 않은 표시, 그리고 검토 전(본인 확인 "
            "대기·보완 요청 중)인 요청뿐입니다.",
            code="duplicate_not_closable",
        )
    actor = f"staff:{staff.id}"
    flag.state, flag.settled_at, flag.settled_by = FlagState.CLOSED.value, rt.clock(), staff.id
    move(session, rt, newer, Status.REJECTED, actor=actor, duplicate_of=older.reference)
    queue_notice(
        session, rt, newer, NoticeKind.DUPLICATE_CLOSED, actor=actor,
        extra=DuplicateClosedExtra(continuing_reference=older.reference),
    )  # fmt: skip
    note(session, rt, older, "duplicate_closed", actor=actor, closed=newer.reference)
    session.flush()
