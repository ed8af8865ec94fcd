"""Reading notices back: the whole text of each notice the requester was sent, as the
requester (GET /v1/requests/{ref}, the web status page) and staff (the request's detail) see it.

An SMS only says that a notice is ready; the form it points to (PIPC forms No. 9 and 10, the
reasons, the objection method) is stored beside it and shown here. A one-time code never
shows: a code notice reads from its masked text whether it is queued, delivered or failed.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.models.notice import Notice
from app.models.request_api import NoticeSummary
from app.runtime import Runtime

REQUESTER = "requester"  # Notice.audience of the notices addressed to the requester's side


def requester_notices(session: Session, request_id: int) -> list[Notice]:
    """The notices addressed to the requester, oldest first: not holders' task instructions,
    staff reminders or the chat's description for managers."""
    return list(
        session.exec(
            select(Notice)
            .where(Notice.request_id == request_id, Notice.audience == REQUESTER)
            .order_by(col(Notice.id))
        ).all()
    )


def readable_body(rt: Runtime, notice: Notice) -> str:
    """The whole text of a notice: for an SMS the form it points to, otherwise what was sent;
    a one-time code masked (the masked text exists from queueing until the code's notice
    ends, when it replaces the body)."""
    enc = notice.full_body_enc or notice.redacted_body_enc or notice.body_enc
    return rt.vault.decrypt(enc, field="notice.body")


def summaries(session: Session, rt: Runtime, request_id: int) -> list[NoticeSummary]:
    """The requester's list: every notice to them with its whole text, queued ones included
    (`sent_at` None, `status` pending), so a reason or an objection method is readable even
    when its message is late or never arrives."""
    v = rt.vault
    return [
        NoticeSummary(
            kind=n.kind,
            sent_at=n.delivered_at,
            created_at=n.created_at,
            channel=n.channel,
            status=n.status,
            subject=v.decrypt(n.subject_enc, field="notice.subject"),
            body=readable_body(rt, n),
        )
        for n in requester_notices(session, request_id)
    ]
