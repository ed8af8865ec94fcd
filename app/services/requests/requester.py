"""The requester's side: the access-code check and the requester's view."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from app.core.codes import canonical_code, canonical_reference
from app.core.crypto import constant_time_equal
from app.errors import NotFound, RateLimited
from app.models.access import PACKAGE_KIND
from app.models.identity import Attachment
from app.models.request import Request
from app.models.request_api import (
    DocumentSent,
    InfoRequestOpen,
    RequestPublic,
)
from app.runtime import Runtime
from app.services.decisions import view as decisions_view
from app.services.identity import checks as identity_checks
from app.services.identity import info_requests
from app.services.notices.view import summaries

# Compared against when the reference is unknown, so both failures cost the same.
_DUMMY_HASH = "0" * 64


def authorize_requester(
    session: Session,
    rt: Runtime,
    reference: str,
    code: str,
    *,
    for_update: bool = False,
    client: str | None = None,
) -> Request:
    """The request, if the access code is right; unknown reference and wrong code look alike.
    Writes lock the row (`for_update`) so they queue behind staff writes. `client` is the
    caller's address: wrong codes lock that address out of the reference, not the reference
    (rt.code_lock)."""
    # Checked first, and the same whether the reference exists or not, so the lock reveals
    # nothing either.
    ref = canonical_reference(reference)
    target = rt.vault.hash_secret(f"code-target:{ref}")
    tries = rt.vault.hash_secret(f"code-target:{ref}\x00{client or '-'}")
    now = rt.clock().timestamp()
    wait = rt.code_lock.wait(tries, now, crowd=target) if rt.code_lock else None
    if wait is not None:
        raise RateLimited(
            "확인코드를 여러 번 틀려 잠시 조회할 수 없습니다. 잠시 후 다시 시도해 주세요.",
            retry_after=timedelta(seconds=wait),
        )
    stmt = select(Request).where(Request.reference == ref)
    request = session.exec(stmt.with_for_update() if for_update else stmt).first()
    supplied = rt.vault.hash_secret(canonical_code(code))
    stored = request.access_code_hash if request is not None else _DUMMY_HASH
    if not constant_time_equal(supplied, stored) or request is None or request.id is None:
        if rt.code_lock:
            rt.code_lock.failed(tries, now, crowd=target)
        raise NotFound("접수번호 또는 확인코드가 올바르지 않습니다.")
    return request


def get_for_requester(
    session: Session, rt: Runtime, reference: str, code: str, *, client: str | None = None
) -> RequestPublic:
    request = authorize_requester(session, rt, reference, code, client=client)
    assert request.id is not None
    question = info_requests.open_question(session, rt, request)
    return RequestPublic(
        reference=request.reference,
        type=request.type,
        service=request.service,
        status=request.status,
        outcome=request.outcome,
        received_at=request.received_at,
        legal_deadline=request.legal_due_on,
        deadline_unconfirmed=request.deadline_unconfirmed,
        next_action=identity_checks.next_action(session, request),
        decision=decisions_view.decision_summary(session, rt, request),
        notices=summaries(session, rt, request.id),
        info_request=InfoRequestOpen.model_validate(question) if question else None,
        items=list(request.items or []),
        documents=_documents_sent(session, request),
    )


def _documents_sent(session: Session, request: Request) -> list[DocumentSent]:
    """The files sent for the request (at filing or later, or by letter through staff), not
    the holders' extracts nor the access package."""
    rows = session.exec(
        select(Attachment)
        .where(Attachment.request_id == request.id, col(Attachment.task_id).is_(None))
        .where(Attachment.kind != PACKAGE_KIND)
        .order_by(col(Attachment.id))
    ).all()
    return [
        DocumentSent(
            kind=a.kind, content_type=a.content_type, size=a.size, uploaded_at=a.uploaded_at
        )
        for a in rows
    ]
