"""Staff reports: the processing register as CSV (처리 대장 내려받기)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from app.deps import PERMISSIONS, Capability, CaseHandler, RuntimeDep, SessionDep
from app.errors import Forbidden
from app.models.bounds import Day
from app.models.staff import Staff
from app.routers.common import client_ip, problem_responses
from app.runtime import Runtime
from app.services.audit.access_log import log_export
from app.services.audit.register import DEFAULT_MAX_DAYS, check_range, register_count, register_rows

log = logging.getLogger("rightsdesk.reports")

router = APIRouter(
    prefix="/v1/staff/reports", tags=["staff"], responses=problem_responses(401, 403)
)

BOM = "\ufeff".encode()
# Roles that may export the subjects' names and contacts with the register (app/deps.py).
PERSONAL_ROLES = tuple(r.value for r in PERMISSIONS[Capability.EXPORT_PERSONAL])
_CHUNK_CHARS = 64 * 1024


@router.get(
    "/register.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a byte order mark"},
        **problem_responses(422),
    },
    summary="처리 대장 CSV 내려받기 (내려받은 기록이 남습니다)",
)
def register_csv(
    staff: CaseHandler,
    session: SessionDep,
    rt: RuntimeDep,
    request: Request,
    received_from: Annotated[Day, Query(alias="from", description="접수일 (KST) 부터")],
    received_to: Annotated[Day, Query(alias="to", description="접수일 (KST) 까지, 포함")],
    personal: Annotated[
        bool, Query(description="정보주체 성명·연락처 포함 (security, officer 만)")
    ] = False,
) -> StreamingResponse:
    """접수일(KST) 기준 기간의 요구별 처리 내역. 한 번에 최대 366일(설정 `register_max_days`)."""
    return register_download(
        session, rt, staff, received_from, received_to, personal=personal,
        client_ip=client_ip(request),
    )  # fmt: skip


def register_download(
    session: Session,
    rt: Runtime,
    staff: Staff,
    received_from: date,
    received_to: date,
    *,
    personal: bool,
    client_ip: str | None,
) -> StreamingResponse:
    """The register as a CSV download, logged as an export before the first row leaves: the
    API's route and the console's dashboard both answer with this."""
    if personal and staff.role not in PERSONAL_ROLES:
        raise Forbidden("개인정보를 포함한 대장은 security, officer 역할만 내려받을 수 있습니다.")
    max_days = int(getattr(rt.settings, "register_max_days", DEFAULT_MAX_DAYS))
    check_range(received_from, received_to, max_days)
    count, up_to_id = register_count(session, received_from=received_from, received_to=received_to)
    log_export(
        session,
        rt,
        staff,
        kind="register",
        params=f"from={received_from};to={received_to};personal={str(personal).lower()}",
        personal_data=personal,
        row_count=count,
        client_ip=client_ip,
    )
    # The body streams after this function returns, and the request's transaction would only
    # commit once the last byte is out (or roll back if the client drops mid-way): commit the
    # export log now, so no row leaves without its record.
    session.commit()
    filename = f"rightsdesk-register-{received_from}-{received_to}.csv"
    body = _csv_body(
        rt, received_from, received_to, personal=personal, up_to_id=up_to_id, expected=count
    )
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _csv_body(
    rt: Runtime,
    received_from: date,
    received_to: date,
    *,
    personal: bool,
    up_to_id: int | None,
    expected: int,
) -> Iterator[bytes]:
    """UTF-8 with a BOM (Excel then reads the Korean right), in chunks of about 64 KiB.

    Its own session, in autocommit mode: each page is one short read, and no transaction stays
    open while a slow client downloads.
    """
    yield BOM
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    sent = -1  # the header row
    engine = rt.engine.execution_options(isolation_level="AUTOCOMMIT")
    with Session(engine) as session:
        for row in register_rows(
            session,
            rt,
            received_from=received_from,
            received_to=received_to,
            personal=personal,
            up_to_id=up_to_id,
        ):
            writer.writerow(row)
            sent += 1
            if buffer.tell() >= _CHUNK_CHARS:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()
    if sent != expected:
        # A request in the range deleted (purge) or committed late while the export ran.
        log.warning("register export sent %d rows, logged %d", sent, expected)
