"""The audit trail: timeline verification, the access log, and staff tokens (admin)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import Session

from app.deps import AdminDep, AuditorDep, OfficerDep, RuntimeDep, SessionDep
from app.models.bounds import MAX_ID, Day, IdPath
from app.models.staff import Staff
from app.routers.common import Page, client_ip, problem_responses
from app.runtime import Runtime
from app.services.audit import access_log
from app.services.audit import verify as audit
from app.services.audit.register import check_range, safe_cell
from app.services.staff import accounts as staff_service
from app.services.transmission import log as transmission_log

router = APIRouter(prefix="/v1/staff", tags=["audit"], responses=problem_responses(401, 403, 422))


@router.get("/audit/verify", summary="처리 기록(타임라인) 위·변조 검증")
def verify(staff: AuditorDep, rt: RuntimeDep) -> dict[str, Any]:
    """Every request's chain and the global anchors; `first_break` names the first broken
    link. Reads the whole timeline: run it off-hours on a large database."""
    return audit.verify(rt)


class AccessEntry(BaseModel):
    at: datetime
    kind: Literal["read", "export", "session"]  # session: a console sign-in event
    staff_id: int | None
    staff: str
    role: str
    reference: str | None
    action: str
    attachment_id: int | None
    purpose: str
    client_ip: str | None


@router.get(
    "/audit/access-log",
    response_model=Page[AccessEntry],
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(422)},
    summary="접속기록 조회·내려받기 (개인정보 보호책임자)",
)
def access_log_view(
    officer: OfficerDep,
    session: SessionDep,
    rt: RuntimeDep,
    request: Request,
    day_from: Annotated[Day, Query(alias="from")],
    day_to: Annotated[Day, Query(alias="to")],
    staff_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    reference: Annotated[str | None, Query(max_length=32)] = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """KST days, both ends included, at most 366 days at a time; the CSV is itself logged."""
    check_range(day_from, day_to, 366)
    rows = list(
        access_log.entries(
            session, day_from=day_from, day_to=day_to, staff_id=staff_id, reference=reference
        )
    )
    if format == "json":
        return Page[AccessEntry](items=rows)
    return access_log_csv(
        session, rt, officer, day_from, day_to, rows, staff_id=staff_id, reference=reference,
        client_ip=client_ip(request),
    )  # fmt: skip


def access_log_csv(
    session: Session,
    rt: Runtime,
    officer: Staff,
    day_from: date,
    day_to: date,
    rows: list[dict[str, Any]],
    *,
    staff_id: int | None,
    reference: str | None,
    client_ip: str | None,
) -> Response:
    """The access log's rows as a CSV download, itself logged as an export (the API's route
    and the console's dashboard)."""
    access_log.log_export(
        session,
        rt,
        officer,
        kind="access_log",
        params=f"from={day_from};to={day_to};staff={staff_id or ''};ref={reference or ''}",
        personal_data=False,
        row_count=len(rows),
        client_ip=client_ip,
    )
    cells = (access_log.csv_row(row) for row in rows)
    return _csv_download(access_log.COLUMNS, cells, f"access-log-{day_from}-{day_to}.csv")


def _csv_download(header: Sequence[str], rows: Iterable[Sequence[Any]], name: str) -> Response:
    """A log as a CSV download: a BOM for spreadsheet programs, every cell made safe, never
    cached."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


class TransmissionEntry(BaseModel):
    at: datetime
    reference: str
    to: Literal["self", "third_party"]
    recipient_name: str | None
    recipient_code: str | None
    holder: str | None
    items: list[str]
    result: Literal["transmitted", "failed", "refused"]


@router.get(
    "/audit/transmission-log",
    response_model=Page[TransmissionEntry],
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(422)},
    summary="전송 기록 조회·내려받기 (시행령 제42조의6제11항, 개인정보 보호책임자)",
)
def transmission_log_view(
    officer: OfficerDep,
    session: SessionDep,
    rt: RuntimeDep,
    request: Request,
    day_from: Annotated[Day, Query(alias="from")],
    day_to: Annotated[Day, Query(alias="to")],
    reference: Annotated[str | None, Query(max_length=32)] = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Every transmission (to whom, which items, when, the result), KST days, both ends
    included, at most 366 days at a time; the CSV is logged like the access log's."""
    check_range(day_from, day_to, 366)
    rows = transmission_log.entries(session, day_from=day_from, day_to=day_to, reference=reference)
    if format == "json":
        return Page[TransmissionEntry](items=rows)
    access_log.log_export(
        session,
        rt,
        officer,
        kind="transmission_log",
        params=f"from={day_from};to={day_to};ref={reference or ''}",
        personal_data=False,
        row_count=len(rows),
        client_ip=client_ip(request),
    )
    cells = (transmission_log.csv_row(row) for row in rows)
    return _csv_download(
        transmission_log.COLUMNS, cells, f"transmission-log-{day_from}-{day_to}.csv"
    )


class TokenOut(BaseModel):
    id: int
    staff_id: int
    staff: str
    role: str
    staff_active: bool
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    usable: bool


@router.get("/admin/tokens", response_model=Page[TokenOut], summary="토큰 목록 (admin)")
def tokens(admin: AdminDep, session: SessionDep, rt: RuntimeDep) -> Page[TokenOut]:
    return Page(items=_tokens(session, rt))


def _tokens(session: Session, rt: Runtime) -> list[TokenOut]:
    now = rt.clock()
    return [
        TokenOut(
            id=t.id or 0,
            staff_id=s.id or 0,
            staff=s.name,
            role=s.role,
            staff_active=s.active,
            created_at=t.created_at,
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
            usable=s.active
            and t.revoked_at is None
            and (t.expires_at is None or t.expires_at > now),
        )
        for t, s in staff_service.list_tokens(session)
    ]


@router.post(
    "/admin/tokens/{token_id}/revoke",
    response_model=TokenOut,
    responses=problem_responses(404),
    summary="토큰 폐기 (즉시 효력, admin)",
)
def revoke(token_id: IdPath, admin: AdminDep, session: SessionDep, rt: RuntimeDep) -> TokenOut:
    staff_service.revoke_token(session, token_id, now=rt.clock())
    return next(t for t in _tokens(session, rt) if t.id == token_id)
