"""The access log (접속기록) as the officer reads it: every staff read of personal data and
every export, with who, when, what, from where and why (안전성 확보조치 기준 art. 8)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from app.core import access_purpose
from app.models.console import SignInLog
from app.models.request import Request
from app.models.staff import AccessLog, ExportLog, Staff
from app.runtime import Runtime
from app.workflows.deadlines import KST

# Who read, when it was not staff: the requester downloading the access package.
REQUESTER = "정보주체(요구인)"

COLUMNS = [
    "일시(KST)",
    "구분",
    "직원 번호",
    "직원",
    "역할",
    "접수번호",
    "작업",
    "첨부 번호",
    "목적",
    "접속지",
]


def log_export(
    session: Session,
    rt: Runtime,
    staff: Staff,
    *,
    kind: str,
    params: str,
    personal_data: bool,
    row_count: int,
    client_ip: str | None,
) -> None:
    """An export (or a view of data with no request of its own) into the export log, with
    the purpose the client gave or the one its kind implies."""
    assert staff.id is not None
    session.add(
        ExportLog(
            staff_id=staff.id,
            kind=kind,
            params=params,
            personal_data=personal_data,
            row_count=row_count,
            client_ip=client_ip,
            purpose=access_purpose.current(kind),
            at=rt.clock(),
        )
    )


def _bounds(day_from: date, day_to: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day_from, time(0), tzinfo=KST)
    return start, datetime.combine(day_to + timedelta(days=1), time(0), tzinfo=KST)


def entries(
    session: Session,
    *,
    day_from: date,
    day_to: date,
    staff_id: int | None = None,
    reference: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Reads and exports in time order (KST days, both ends included)."""
    start, end = _bounds(day_from, day_to)
    reads = (
        select(AccessLog, Staff, Request.reference)
        # A requester's download of the access package has no staff member.
        .outerjoin(Staff, col(Staff.id) == col(AccessLog.staff_id))
        .join(Request, col(Request.id) == col(AccessLog.request_id))
        .where(col(AccessLog.at) >= start, col(AccessLog.at) < end)
    )
    if staff_id is not None:
        reads = reads.where(AccessLog.staff_id == staff_id)
    if reference:
        reads = reads.where(Request.reference == reference)
    reads = reads.order_by(col(AccessLog.at), col(AccessLog.id))
    rows = [_read(a, s, ref) for a, s, ref in session.exec(reads)]
    if not reference:
        exports = (
            select(ExportLog, Staff)
            .join(Staff, col(Staff.id) == col(ExportLog.staff_id))
            .where(col(ExportLog.at) >= start, col(ExportLog.at) < end)
        )
        if staff_id is not None:
            exports = exports.where(ExportLog.staff_id == staff_id)
        exports = exports.order_by(col(ExportLog.at), col(ExportLog.id))
        rows += [_export(e, s) for e, s in session.exec(exports)]
        rows += _sign_ins(session, start, end, staff_id)
    yield from sorted(rows, key=lambda r: r["at"])


def _read(a: AccessLog, s: Staff | None, reference: str) -> dict[str, Any]:
    return {
        "at": a.at,
        "kind": "read",
        "staff_id": s.id if s else None,
        "staff": s.name if s else REQUESTER,
        "role": s.role if s else "requester",
        "reference": reference,
        "action": a.action,
        "attachment_id": a.attachment_id,
        "purpose": a.purpose,
        "client_ip": a.client_ip,
    }


def _export(e: ExportLog, s: Staff) -> dict[str, Any]:
    return {
        "at": e.at,
        "kind": "export",
        "staff_id": s.id,
        "staff": s.name,
        "role": s.role,
        "reference": None,
        "action": f"{e.kind} ({e.params}; {e.row_count} rows"
        + (", personal data" if e.personal_data else "")
        + ")",
        "attachment_id": None,
        "purpose": e.purpose,
        "client_ip": e.client_ip,
    }


# The staff console's sign-in events (app/services/console/signin_log.py): no request, no
# personal data of a subject; who signed in (or tried to), when and from where.
_SIGN_IN_PURPOSE = "직원 콘솔 접속"


def _sign_ins(
    session: Session, start: datetime, end: datetime, staff_id: int | None
) -> list[dict[str, Any]]:
    stmt = (
        select(SignInLog, Staff)
        .outerjoin(Staff, col(Staff.id) == col(SignInLog.staff_id))
        .where(col(SignInLog.at) >= start, col(SignInLog.at) < end)
    )
    if staff_id is not None:
        stmt = stmt.where(SignInLog.staff_id == staff_id)
    return [
        {
            "at": e.at,
            "kind": "session",
            "staff_id": s.id if s else None,
            # A failure under a name nobody has: the name typed is not kept.
            "staff": s.name if s else "(알 수 없는 이름)",
            "role": s.role if s else "",
            "reference": None,
            "action": e.event,
            "attachment_id": None,
            "purpose": _SIGN_IN_PURPOSE,
            "client_ip": e.client_ip,
        }
        # Events of the same instant in the order they were written (the id), on every database.
        for e, s in session.exec(stmt.order_by(col(SignInLog.at), col(SignInLog.id)))
    ]


_KIND_KO = {"read": "열람", "export": "내려받기", "session": "접속"}


def csv_row(entry: dict[str, Any]) -> list[str]:
    return [
        entry["at"].astimezone(KST).strftime("%Y-%m-%d %H:%M:%S"),
        _KIND_KO[entry["kind"]],
        str(entry["staff_id"] or ""),
        entry["staff"],
        entry["role"],
        entry["reference"] or "",
        entry["action"],
        str(entry["attachment_id"] or ""),
        entry["purpose"],
        entry["client_ip"] or "",
    ]
