"""A lost access code: a new one to a contact the request was filed with (Decree art. 46(1):
the contact stands for the person, as for one-time codes)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from app.core.codes import canonical_reference, new_access_code
from app.models.request import Event, Party
from app.models.request import Request as DbRequest
from app.runtime import Runtime
from app.services.audit.timeline import note
from app.services.notices.queue import Recipient, queue_notice
from app.workflows.notice_extras import AccessCodeExtra
from app.workflows.notices import NoticeKind

REISSUED = "access_code_reissued"


def _matching_contact(
    session: Session, rt: Runtime, req: DbRequest, contact: str
) -> Recipient | None:
    """The party's own contact when `contact` is one the request was filed with (compared by
    blind index, so spacing, case and phone punctuation do not matter)."""
    email = rt.vault.blind_index(contact, field="email")
    phone = rt.vault.blind_index(contact, field="phone")
    v = rt.vault
    for p in session.exec(select(Party).where(Party.request_id == req.id)):
        name = v.decrypt_opt(p.name_enc, field="party.name")
        if p.email_enc is not None and p.email_bidx == email:
            return Recipient(name, "email", v.decrypt(p.email_enc, field="party.email"))
        if p.phone_enc is not None and p.phone_bidx == phone:
            return Recipient(name, "sms", v.decrypt(p.phone_enc, field="party.phone"))
    return None


def _throttled(session: Session, rt: Runtime, req: DbRequest) -> bool:
    """Throttled like a one-time code: one send per OTP_RESEND_SECONDS, at most OTP_MAX_SENDS
    in OTP_SEND_WINDOW_HOURS."""
    s, now = rt.settings, rt.clock()
    since = now - timedelta(hours=s.otp_send_window_hours)
    sent = session.exec(
        select(Event.created_at)
        .where(Event.request_id == req.id, Event.kind == REISSUED, col(Event.created_at) >= since)
        .order_by(col(Event.id))
    ).all()
    if len(sent) >= s.otp_max_sends:
        return True
    return bool(sent) and now - sent[-1] < timedelta(seconds=s.otp_resend_seconds)


def reissue(session: Session, rt: Runtime, reference: str, contact: str) -> None:
    """Send a new access code when `contact` is one the request was filed with; the old code
    stops working. Says nothing either way: the caller answers the same whatever matched."""
    ref = canonical_reference(reference)
    req = session.exec(
        select(DbRequest).where(DbRequest.reference == ref).with_for_update()
    ).first()
    if req is None or req.id is None or req.purged_at is not None or req.notify_by == "chat":
        return
    to = _matching_contact(session, rt, req, contact.strip())
    if to is None or _throttled(session, rt, req):
        return
    code = new_access_code()
    req.access_code_hash = rt.vault.hash_secret(code)
    session.add(req)
    session.flush()
    queue_notice(
        session,
        rt,
        req,
        NoticeKind.ACCESS_CODE,
        extra=AccessCodeExtra(new_code=code),
        dedupe=f"access_code:{rt.vault.hash_secret(code)[:16]}",
        secret=code,
        actor="requester",
        to=to,
    )
    note(session, rt, req, REISSUED, actor="requester", channel=to.channel)
