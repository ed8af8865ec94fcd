"""Search by subject: the requests whose subject or requester has this name, e-mail or phone
(exact match through the blind indexes), or whose reference starts with a prefix.

Names, e-mails and phones are never compared in clear: the value typed is put through the
same keyed hash as at filing (app/core/crypto.py `blind_index`, which normalises names with
app/core/text.py), so a search needs the data key and finds only exact matches. Every search
is logged with its purpose (안전성 확보조치 기준 art. 8), the kind of value searched, never
the value itself.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from app.models.request import Party, Request
from app.models.staff import ExportLog, Staff
from app.models.vocab import Status
from app.runtime import Runtime

SearchBy = Literal["name", "email", "phone", "reference"]
SEARCH_KIND = "subject_search"
# Enough for one person's requests; a search that reaches it says there are more.
MAX_HITS = 100


class SubjectSearch(BaseModel):
    """What a search asks: by what, the value, and why (the purpose goes to the access log)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    by: SearchBy
    value: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=2, max_length=100)


class SearchHit(BaseModel):
    reference: str
    type: str
    service: str
    status: str
    received_at: datetime
    legal_due_on: date
    # Whose value matched: the data subject, or the person who filed for them.
    matched: Literal["subject", "requester", "reference"]


class SearchResult(BaseModel):
    items: list[SearchHit]
    # More requests matched than MAX_HITS: narrow the search.
    truncated: bool


def search_requests(
    session: Session, rt: Runtime, staff: Staff, query: SubjectSearch, client_ip: str | None
) -> SearchResult:
    value = query.value.strip()
    if query.by == "reference":
        hits = _by_reference(session, value)
    else:
        hits = _by_party(session, rt, query.by, value)
    truncated = len(hits) > MAX_HITS
    hits = hits[:MAX_HITS]
    assert staff.id is not None
    session.add(
        ExportLog(
            staff_id=staff.id,
            kind=SEARCH_KIND,
            params=f"by={query.by}",
            personal_data=True,
            row_count=len(hits),
            client_ip=client_ip,
            purpose=query.purpose.strip(),
            at=rt.clock(),
        )
    )
    return SearchResult(items=hits, truncated=truncated)


def _by_party(session: Session, rt: Runtime, by: str, value: str) -> list[SearchHit]:
    column = {"name": Party.name_bidx, "email": Party.email_bidx, "phone": Party.phone_bidx}[by]
    digest = rt.vault.blind_index(value, field=by)
    stmt = (
        select(Request, Party.role)
        .join(Party, col(Party.request_id) == col(Request.id))
        .where(col(column) == digest)
        .order_by(col(Request.received_at).desc(), col(Request.id).desc())
        .limit(MAX_HITS + 1)
    )
    seen: dict[str, SearchHit] = {}
    for req, role in session.exec(stmt):
        # A subject who filed for themselves matches once, as the subject.
        if req.reference not in seen or role == "subject":
            seen[req.reference] = _hit(req, "subject" if role == "subject" else "requester")
    return list(seen.values())


def _by_reference(session: Session, prefix: str) -> list[SearchHit]:
    # Taken literally and upper-cased, like the queue's prefix; a range on the unique index
    # (SQLite's LIKE would not use it: LIKE is case-insensitive there).
    prefix = prefix.upper()
    stmt = (
        select(Request)
        .where(col(Request.reference) >= prefix, col(Request.reference) < prefix + "\uffff")
        .order_by(col(Request.reference))
        .limit(MAX_HITS + 1)
    )
    return [_hit(req, "reference") for req in session.exec(stmt)]


def _hit(req: Request, matched: Literal["subject", "requester", "reference"]) -> SearchHit:
    return SearchHit(
        reference=req.reference,
        type=req.type,
        service=req.service,
        status=Status(req.status).value,
        received_at=req.received_at,
        legal_due_on=req.legal_due_on,
        matched=matched,
    )
