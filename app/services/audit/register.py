"""The processing register (처리 대장): one CSV row per request received in a date range.

Streams in keyset pages of `PAGE_SIZE` requests ordered by (received_at, id); for each page the
identity method, the decision in force, the result notice and (only when asked for) the data
subject are fetched with one `IN (...)` query each, so the cost is a handful of queries per
page and memory stays bounded whatever the range.

Personal data is decrypted only when `personal` is true. Every cell goes through `safe_cell`, which
defuses spreadsheet formulas: names and contacts come from the public form, and a cell such as
`=HYPERLINK(...)` must reach Excel as text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from app.errors import FieldError, ValidationFailed
from app.models.decision import Decision
from app.models.identity import IdentityCheck
from app.models.notice import Notice
from app.models.request import Party, Request
from app.models.vocab import TYPE_LABELS_KO
from app.runtime import Runtime
from app.workflows.deadlines import KST
from app.workflows.notices import NoticeKind

PAGE_SIZE = 500
DEFAULT_MAX_DAYS = 366

HEADER = [
    "접수번호",
    "유형",
    "서비스",
    "접수경로",
    "접수일시",
    "법정기한",
    "본인확인방법",
    "결정",
    "근거",
    "결과통지일시",
    "종결일시",
    "기한준수",
]
PERSONAL_HEADER = ["정보주체 성명", "연락처"]

RESULT_NOTICE_KINDS = (
    NoticeKind.ACCESS_RESULT.value,
    NoticeKind.ACTION_RESULT.value,
    NoticeKind.OBJECTION_RESULT.value,
)

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets; the
# fullwidth and small forms are what an IME types and some spreadsheets read the same.
_FORMULA_START = frozenset("=+-@\t\r\n＝＋－＠﹦﹢﹣﹫")


def check_range(received_from: date, received_to: date, max_days: int) -> None:
    """422 for an inverted range, or one longer than `max_days` days (both ends counted)."""
    if received_from > received_to:
        msg = "시작일(from)이 종료일(to)보다 늦습니다."
        raise ValidationFailed(msg, errors=[FieldError("from", "invalid_range", msg)])
    if (received_to - received_from).days + 1 > max_days:
        msg = f"한 번에 내려받을 수 있는 기간은 {max_days}일까지입니다."
        raise ValidationFailed(
            msg, errors=[FieldError("to", "range_too_long", msg, limit=max_days)]
        )
    try:
        received_bounds(received_from, received_to)
    except OverflowError as exc:
        msg = "날짜가 허용 범위를 벗어났습니다."
        raise ValidationFailed(msg, errors=[FieldError("to", "out_of_range", msg)]) from exc


def received_bounds(received_from: date, received_to: date) -> tuple[datetime, datetime]:
    """[start, end) instants of the KST days `received_from` .. `received_to`, both included."""
    start = datetime.combine(received_from, time.min, KST)
    end = datetime.combine(received_to + timedelta(days=1), time.min, KST)
    return start, end


def _in_range(received_from: date, received_to: date, up_to_id: int | None) -> list[Any]:
    start, end = received_bounds(received_from, received_to)
    where = [col(Request.received_at) >= start, col(Request.received_at) < end]
    if up_to_id is not None:
        where.append(col(Request.id) <= up_to_id)
    return where


def register_count(
    session: Session, *, received_from: date, received_to: date
) -> tuple[int, int | None]:
    """How many requests the register for this range holds, and the highest id among them.

    Passing that id as `up_to_id` to `register_rows` keeps requests filed while the export
    streams out of it, so the count logged before streaming is the count sent.
    """
    count, max_id = session.exec(
        select(func.count(), func.max(col(Request.id))).where(
            *_in_range(received_from, received_to, None)
        )
    ).one()
    return int(count), max_id


def register_rows(
    session: Session,
    rt: Runtime,
    *,
    received_from: date,
    received_to: date,
    personal: bool,
    up_to_id: int | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[list[str]]:
    """The header row, then one row per request received in [received_from, received_to]
    (KST dates), ordered by received_at, id. Only requests with id <= `up_to_id`, if given."""
    yield (HEADER + PERSONAL_HEADER) if personal else list(HEADER)
    where = _in_range(received_from, received_to, up_to_id)
    last: tuple[datetime, int] | None = None
    while True:
        stmt = select(Request).where(*where)
        if last is not None:
            at, rid = last
            stmt = stmt.where(
                or_(
                    col(Request.received_at) > at,
                    and_(col(Request.received_at) == at, col(Request.id) > rid),
                )
            )
        page = list(
            session.exec(
                stmt.order_by(col(Request.received_at), col(Request.id)).limit(page_size)
            ).all()
        )
        if not page:
            return
        yield from _page_rows(session, rt, page, personal)
        tail = page[-1]
        assert tail.id is not None
        last = (tail.received_at, tail.id)
        if len(page) < page_size:
            return


def _page_rows(
    session: Session, rt: Runtime, page: Sequence[Request], personal: bool
) -> list[list[str]]:
    ids = [r.id for r in page if r.id is not None]
    methods = _identity_methods(session, ids)
    decisions = _decisions_in_force(session, ids)
    notified = _result_notified_at(session, ids)
    subjects = _subjects(session, rt, ids) if personal else {}
    rows = []
    for r in page:
        assert r.id is not None
        outcome, grounds = decisions.get(r.id, ("", []))
        row = [
            r.reference,
            f"{r.type} {TYPE_LABELS_KO.get(r.type, '')}".strip(),
            r.service,
            r.channel,
            _kst(r.received_at),
            r.legal_due_on.isoformat(),
            methods.get(r.id, ""),
            outcome,
            ";".join(grounds),
            _kst(notified.get(r.id)),
            _kst(r.closed_at),
            _on_time(r),
        ]
        if personal:
            row.extend(subjects.get(r.id, ("", "")))
        rows.append([safe_cell(v) for v in row])
    return rows


def _identity_methods(session: Session, ids: list[int]) -> dict[int, str]:
    """The method of each request's latest successful identity check."""
    rows = session.exec(
        select(IdentityCheck.request_id, IdentityCheck.method)
        .where(col(IdentityCheck.request_id).in_(ids), IdentityCheck.result == "verified")
        .order_by(col(IdentityCheck.id))
    ).all()
    return {request_id: method for request_id, method in rows}  # the latest one wins


def _decisions_in_force(session: Session, ids: list[int]) -> dict[int, tuple[str, list[str]]]:
    """Outcome and grounds of each request's latest decision that was actually made (decided_at
    set): a draft awaiting approval, or one the officer sent back, is not a decision."""
    latest = (
        select(func.max(col(Decision.id)))
        .where(col(Decision.request_id).in_(ids), col(Decision.decided_at).is_not(None))
        .group_by(col(Decision.request_id))
    )
    rows = session.exec(
        select(Decision.request_id, Decision.outcome, Decision.grounds).where(
            col(Decision.id).in_(latest)
        )
    ).all()
    return {request_id: (outcome, list(grounds or [])) for request_id, outcome, grounds in rows}


def _result_notified_at(session: Session, ids: list[int]) -> dict[int, datetime]:
    """When the result first reached the requester (a resend is a later copy of it)."""
    rows = session.exec(
        select(Notice.request_id, func.min(col(Notice.delivered_at)))
        .where(
            col(Notice.request_id).in_(ids),
            col(Notice.kind).in_(RESULT_NOTICE_KINDS),
            Notice.audience == "requester",
            col(Notice.delivered_at).is_not(None),
        )
        .group_by(col(Notice.request_id))
    ).all()
    return {request_id: at for request_id, at in rows if at is not None}


def _subjects(session: Session, rt: Runtime, ids: list[int]) -> dict[int, tuple[str, str]]:
    """The data subject's name and contact (e-mail, else phone), decrypted."""
    v = rt.vault
    parties = session.exec(
        select(Party).where(col(Party.request_id).in_(ids), Party.role == "subject")
    ).all()
    out = {}
    for p in parties:
        name = v.decrypt_opt(p.name_enc, field="party.name") or ""
        contact = v.decrypt_opt(p.email_enc, field="party.email") or v.decrypt_opt(
            p.phone_enc, field="party.phone"
        )
        out[p.request_id] = (name, contact or "")
    return out


def _kst(instant: datetime | None) -> str:
    return "" if instant is None else instant.astimezone(KST).strftime("%Y-%m-%d %H:%M")


def _on_time(r: Request) -> str:
    if r.closed_on is None:
        return ""
    return "Y" if r.closed_on <= r.legal_due_on else "N"


def _visible_start(value: str) -> int:
    """Index of the first character a spreadsheet does not skip: whitespace and format
    characters (zero-width spaces and joiners, the BOM, bidi marks) are passed over."""
    for i, ch in enumerate(value):
        if not ch.isspace() and unicodedata.category(ch) != "Cf":
            return i
    return len(value)


def safe_cell(value: str) -> str:
    """Text for a spreadsheet: a cell that starts with a formula character, itself or behind
    invisible characters, is quoted with an apostrophe."""
    if value[:1] in _FORMULA_START or value[_visible_start(value) :][:1] in _FORMULA_START:
        return "'" + value
    return value
