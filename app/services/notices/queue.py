"""Writing notices: render the Korean text, pick the recipient, queue it in the outbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlmodel import Session, col, select

from app.models.channeltalk import ChatLink
from app.models.notice import Notice
from app.models.request import Party, Request
from app.models.request_api import NoticeOut
from app.models.vocab import NoticeStatus
from app.runtime import Runtime
from app.services.audit.timeline import note_event, record_event
from app.services.notices.render import render_notice
from app.services.notices.view import readable_body
from app.workflows.deadlines import kst_date
from app.workflows.notices import (
    NoticeExtra,
    NoticeFacts,
    NoticeKind,
    notice_context,
    parse_extra,
    pick_contact,
)

CHAT = "chat"  # notify_by and notice channel of requests filed in a Channel Talk chat


class NoticeRequest(Protocol):
    """What a notice needs of its request (a stored Request, or one being filed)."""

    @property
    def reference(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def notify_by(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def legal_due_on(self) -> date: ...
    @property
    def deadline_unconfirmed(self) -> bool: ...


@dataclass(frozen=True)
class Recipient:
    name: str | None
    channel: str  # email | sms | chat
    address: str


def queue_notice(
    session: Session,
    rt: Runtime,
    request: Request,
    kind: NoticeKind,
    *,
    extra: NoticeExtra | Mapping[str, Any] | None = None,
    dedupe: str | None = None,
    actor: str = "system",
    secret: str | None = None,
    to: Recipient | None = None,
) -> Notice:
    """Queue one notice for the request's recipient (or `to`, a contact the request was filed
    with); the same `dedupe` key queues it once.
    `extra` is the kind's model (a mapping is validated into it here, a wrong or missing
    value a ValueError naming the key).

    `secret` (a one-time code) is masked in the stored body once the notice is delivered.
    """
    assert request.id is not None
    key = dedupe_key(request, kind, dedupe)
    existing = session.exec(select(Notice).where(Notice.dedupe_key == key)).first()
    if existing is not None:
        return existing
    now = rt.clock()
    to = to or _recipient(session, rt, request, kind)
    values = notice_values(rt, request, kind, to, key=key, extra=extra, secret=secret)
    notice = Notice(request_id=request.id, **values, next_attempt_at=now, created_at=now)
    session.add(notice)
    session.flush()
    notice_event(session, rt, request, "notice_queued", notice, actor=actor, at=now)
    return notice


def dedupe_key(request: NoticeRequest, kind: NoticeKind, dedupe: str | None = None) -> str:
    return f"{request.reference}:{dedupe or kind.value}"


def notice_values(
    rt: Runtime,
    request: NoticeRequest,
    kind: NoticeKind,
    to: Recipient,
    *,
    key: str,
    extra: NoticeExtra | Mapping[str, Any] | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    """The rendered, encrypted notice (without request id and times): the Korean text for
    the request's facts, on the recipient's channel."""
    chat = request.notify_by == CHAT
    values = parse_extra(kind, extra)
    facts = NoticeFacts(
        reference=request.reference,
        request_type=request.type,
        service_code=request.service,
        received_at=request.received_at,
        legal_due_on=request.legal_due_on,
        deadline_unconfirmed=request.deadline_unconfirmed,
        # Nothing personal is written into a chat, not even the name.
        recipient_name=None if to.channel == CHAT else to.name,
        filed_by_staff=request.channel not in ("web", "api", "channeltalk"),
        chat=chat,
        extra=values if chat else _with_status_link(rt, values),
        written_on=kst_date(rt.clock()),
    )
    by_sms = to.channel == "sms"
    context = notice_context(kind, facts, rt.policy)
    rendered = render_notice(kind, context, sms=by_sms, lms=rt.settings.sms_allow_lms)
    body = rendered.sms if by_sms else rendered.body
    v = rt.vault

    def masked(text: str) -> str:
        return text.replace(secret, "*" * len(secret)) if secret else text

    return {
        "kind": kind.value,
        "channel": to.channel,
        "dedupe_key": key,
        "recipient_enc": v.encrypt(to.address, field="notice.recipient"),
        "subject_enc": v.encrypt(rendered.subject, field="notice.subject"),
        "body_enc": v.encrypt(body, field="notice.body"),
        "redacted_body_enc": v.encrypt(masked(body), field="notice.body") if secret else None,
        # The SMS says a notice is ready; the whole text is read on the status page.
        "full_body_enc": (
            v.encrypt(masked(rendered.body), field="notice.body") if by_sms else None
        ),
    }


def queue_internal(
    session: Session,
    rt: Runtime,
    request: Request,
    *,
    kind: str,
    to: str,
    key: str,
    subject: str,
    body: str,
    channel: str = "email",
    audience: str = "staff",
) -> Notice | None:
    """A message about the request to someone other than the requester (staff reminders, a
    holder's instruction, the chat description): queued once per `key`, never in the
    requester's view. Returns None when that key was queued before."""
    assert request.id is not None
    if session.exec(select(Notice.id).where(Notice.dedupe_key == key)).first() is not None:
        return None
    v, now = rt.vault, rt.clock()
    notice = Notice(
        request_id=request.id,
        kind=kind,
        channel=channel,
        audience=audience,
        dedupe_key=key,
        recipient_enc=v.encrypt(to, field="notice.recipient"),
        subject_enc=v.encrypt(subject, field="notice.subject"),
        body_enc=v.encrypt(body, field="notice.body"),
        next_attempt_at=now,
        created_at=now,
    )
    session.add(notice)
    session.flush()
    return notice


def _with_status_link(rt: Runtime, extra: NoticeExtra) -> NoticeExtra:
    base = rt.settings.public_base_url
    if base and extra.status_url is None:
        # The code never goes in a URL.
        return extra.model_copy(update={"status_url": base.rstrip("/") + "/status"})
    return extra


def _recipient(session: Session, rt: Runtime, request: Request, kind: NoticeKind) -> Recipient:
    """Whoever filed hears back (see `pick_contact`). A request filed in a Channel Talk chat
    hears back in that chat, except for one-time codes: a code posted into the chat it is
    meant to verify would prove nothing."""
    if request.notify_by == CHAT and kind is not NoticeKind.VERIFICATION_CODE:
        chat_id = session.exec(
            select(ChatLink.user_chat_id).where(ChatLink.request_id == request.id)
        ).one()
        return Recipient(None, CHAT, chat_id)
    parties = {p.role: p for p in session.exec(select(Party).where(Party.request_id == request.id))}
    people = [parties[r] for r in ("requester", "subject") if r in parties]
    picked = pick_contact(
        [(p.email_enc is not None, p.phone_enc is not None) for p in people], request.notify_by
    )
    if picked is None:
        raise RuntimeError(f"request {request.reference} has no contact")  # intake requires one
    person, channel = people[picked[0]], picked[1]
    v = rt.vault
    email = channel == "email"
    enc, field = (person.email_enc, "party.email") if email else (person.phone_enc, "party.phone")
    assert enc is not None
    name = v.decrypt_opt(person.name_enc, field="party.name")
    return Recipient(name, channel, v.decrypt(enc, field=field))


def notice_event(
    session: Session,
    rt: Runtime,
    request: Request,
    kind: str,
    notice: Notice,
    *,
    actor: str,
    at: datetime,
) -> None:
    data = queued_data(notice.id, notice.kind, notice.channel)
    record_event(session, rt, request, note_event(kind, actor=actor, at=at, data=data))


def queued_data(notice_id: int | None, kind: str, channel: str) -> dict[str, Any]:
    """The data of a notice's timeline entry (never its recipient or text)."""
    return {"notice_id": notice_id, "notice_kind": kind, "channel": channel}


def notices_of(session: Session, request_id: int) -> list[Notice]:
    return list(
        session.exec(
            select(Notice).where(Notice.request_id == request_id).order_by(col(Notice.id))
        ).all()
    )


def notice_out(rt: Runtime, n: Notice) -> NoticeOut:
    v = rt.vault
    assert n.id is not None
    return NoticeOut(
        id=n.id,
        kind=n.kind,
        channel=n.channel,
        status=n.status,
        recipient=v.decrypt(n.recipient_enc, field="notice.recipient"),
        subject=v.decrypt(n.subject_enc, field="notice.subject"),
        # A code notice still being sent shows its masked text: the code proves control of
        # the requester's contact, and staff are not that contact.
        body=v.decrypt(n.redacted_body_enc or n.body_enc, field="notice.body"),
        full_text=readable_body(rt, n),
        attempts=n.attempts,
        created_at=n.created_at,
        next_attempt_at=n.next_attempt_at if n.status == NoticeStatus.PENDING else None,
        delivered_at=n.delivered_at,
        failed_at=n.failed_at,
        last_error=n.last_error,
        resend_of=n.resend_of_id,
    )
