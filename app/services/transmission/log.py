"""The transmission log (Decree art. 42-6(11)): to whom, which items, when, with what result.

Rows hold no personal data (the reference, the recipient institution, item codes), so the
purge of a closed request leaves them; they go after `TRANSMISSION_LOG_RETENTION_DAYS`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app.db import transaction
from app.models.request import Request
from app.models.transmission import TransmissionLog
from app.runtime import Runtime
from app.workflows.deadlines import KST

COLUMNS = ["일시(KST)", "접수번호", "전송 대상", "받는 기관", "등록번호", "보유처", "항목", "결과"]

RESULTS = ("transmitted", "failed", "refused")
_TO_KO = {"self": "정보주체 본인", "third_party": "제3자(지정 기관)"}
_RESULT_KO = {"transmitted": "전송함", "failed": "전송 실패", "refused": "거절"}


def recipient_of(rt: Runtime, request: Request) -> dict[str, str] | None:
    """The recipient institution named at filing (art. 35-2(2)), or None."""
    if not request.transmission_enc:
        return None
    data: dict[str, str] = json.loads(
        rt.vault.decrypt(request.transmission_enc, field="request.transmission")
    )
    return data


def record(
    session: Session,
    rt: Runtime,
    request: Request,
    *,
    items: Sequence[str],
    result: str,
    holder_code: str | None = None,
) -> None:
    assert request.id is not None and result in RESULTS
    recipient = recipient_of(rt, request)
    session.add(
        TransmissionLog(
            request_id=request.id,
            to=request.transmission_to or "self",
            recipient_name=recipient["name"] if recipient else None,
            recipient_code=recipient["code"] if recipient else None,
            holder_code=holder_code,
            items=sorted(set(items)),
            result=result,
            at=rt.clock(),
        )
    )
    session.flush()


def entries(
    session: Session, *, day_from: date, day_to: date, reference: str | None = None
) -> list[dict[str, Any]]:
    """The log in time order (KST days, both ends included)."""
    start = datetime.combine(day_from, time(0), tzinfo=KST)
    end = datetime.combine(day_to + timedelta(days=1), time(0), tzinfo=KST)
    query = (
        select(TransmissionLog, Request.reference)
        .join(Request, col(Request.id) == col(TransmissionLog.request_id))
        .where(col(TransmissionLog.at) >= start, col(TransmissionLog.at) < end)
    )
    if reference:
        query = query.where(Request.reference == reference)
    rows = session.exec(query.order_by(col(TransmissionLog.at), col(TransmissionLog.id)))
    return [
        {
            "at": t.at,
            "reference": ref,
            "to": t.to,
            "recipient_name": t.recipient_name,
            "recipient_code": t.recipient_code,
            "holder": t.holder_code,
            "items": list(t.items),
            "result": t.result,
        }
        for t, ref in rows
    ]


def csv_row(entry: dict[str, Any]) -> list[str]:
    return [
        entry["at"].astimezone(KST).strftime("%Y-%m-%d %H:%M:%S"),
        entry["reference"],
        _TO_KO.get(entry["to"], entry["to"]),
        entry["recipient_name"] or "",
        entry["recipient_code"] or "",
        entry["holder"] or "",
        " ".join(entry["items"]),
        _RESULT_KO.get(entry["result"], entry["result"]),
    ]


def purge_old(rt: Runtime, *, dry_run: bool) -> int:
    """Entries older than the retention period (at least 3 years: Decree art. 42-6(11))."""
    cutoff = rt.clock() - timedelta(days=rt.settings.transmission_log_retention_days)
    old = col(TransmissionLog.at) < cutoff
    with transaction(rt.engine) as session:
        if dry_run:
            count = select(func.count()).select_from(TransmissionLog).where(old)
            return int(session.exec(count).one())
        result = session.execute(delete(TransmissionLog).where(old))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
