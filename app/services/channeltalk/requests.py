"""Requests made in a Channel Talk chat: detect, file or join, verify, and answer in the chat.

One open request per chat and type: a later message in the same chat joins the open request
(or answers its one-time code) instead of filing again. A chat is not proof of identity: only
a member of a site that boots the messenger with Member Hash is taken as logged in; anyone
else proves control of a contact by a code sent outside the chat, or is verified by staff.
Nothing personal is ever written into the chat.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.core.codes import new_access_code
from app.core.text import normalize_phone
from app.integrations.channeltalk_events import (
    CustomerMessage,
    Envelope,
    ReceiptWindow,
    UserRef,
    customer_message,
    deleted_user_id,
)
from app.models.channeltalk import ChatCandidate, ChatLink, ChatMessage
from app.models.identity import IdentityCheck, Verification
from app.models.request import Request
from app.models.vocab import TYPE_LABELS_KO, Relationship
from app.runtime import Runtime
from app.services.audit.timeline import move, note
from app.services.clinics.forwarding import send_when_verified
from app.services.identity import info_requests, otp
from app.services.intake.plan import Facts, PersonFacts, plan_request
from app.services.intake.write import unique_reference, write_filing
from app.services.notices.queue import CHAT, queue_internal, queue_notice
from app.textsafety import one_line_or_none, phone_violation
from app.workflows import chat_intent, intake
from app.workflows.chat_intent import Confidence, Intent
from app.workflows.deadlines import kst_date, period_for
from app.workflows.identity import IdentityMethod
from app.workflows.lifecycle import Status
from app.workflows.notice_extras import ReceiptExtra, StatusUpdateExtra
from app.workflows.notices import NoticeKind
from app.workflows.sla import closed_statuses

ACTOR = "channeltalk"

log = logging.getLogger("rightsdesk.channeltalk")


def handle_envelope(
    session: Session, rt: Runtime, envelope: Envelope, delivered_at: datetime | None = None
) -> str:
    """Process one delivery (arrived at `delivered_at`, default now); returns what was done
    (stored on the inbound event)."""
    s = rt.settings
    window = ReceiptWindow(
        delivered_at or rt.clock(),
        ahead=timedelta(minutes=s.channeltalk_max_clock_skew_minutes),
        behind=timedelta(hours=s.channeltalk_max_message_age_hours),
    )
    message = customer_message(envelope, window)
    if message is not None:
        return handle_message(session, rt, message)
    user_id = deleted_user_id(envelope)
    if user_id is not None:
        return _user_deleted(session, rt, user_id)
    return "ignored"


def handle_message(session: Session, rt: Runtime, msg: CustomerMessage) -> str:
    _lock_chat(session, msg.user_chat_id)
    if _known(session, msg.message_id):
        return "duplicate"
    open_requests = _open_requests(session, msg.user_chat_id)
    code = chat_intent.verification_code(msg.text)
    awaiting = [r for r in open_requests if _awaits_code(session, r)]
    if code and awaiting:
        return _check_code(session, rt, awaiting[0], code, msg)
    intents = chat_intent.classify(msg.text)
    open_types = {r.type for r in open_requests}
    new = [i for i in intents if i.confidence is Confidence.HIGH and i.type not in open_types]
    if new:
        for intent in new:
            file_from_chat(session, rt, msg, intent.type, intent)
        return "filed"
    if open_requests:
        _join(session, rt, open_requests[0], msg)
        return "joined"
    if intents:
        _candidate(session, rt, msg, intents)
        return "candidate"
    return "ignored"


def _lock_chat(session: Session, user_chat_id: str) -> None:
    """One message of a chat at a time, across processes: two quick messages asking for the
    same right must give one request, not two. PostgreSQL: a transaction-scoped advisory lock
    on the chat. SQLite has one writer, and chat_inbound serialises processing in-process."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        digest = hashlib.sha256(f"channeltalk-chat:{user_chat_id}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# --- filing ----------------------------------------------------------------------------------


def service_for(rt: Runtime, channel_id: str) -> str:
    """The service whose requests arrive in this Channel Talk channel (checked at start-up)."""
    s = rt.settings
    code = s.channeltalk_services.get(channel_id) or s.channeltalk_service
    if code is None and len(rt.policy.services) == 1:
        code = rt.policy.services[0].code
    if code is None or rt.policy.service(code) is None:
        raise RuntimeError("RIGHTSDESK_CHANNELTALK_SERVICE names no service of the policy")
    return code


def file_from_chat(
    session: Session,
    rt: Runtime,
    msg: CustomerMessage,
    request_type: str,
    intent: Intent | None,
    *,
    actor: str = ACTOR,
) -> Request:
    """File a request received at the message's time (it reached us then: Civil Act art. 157
    counts from that day), linked to the chat, user and member."""
    now = rt.clock()
    received_at = min(msg.sent_at, now)
    v = rt.vault
    email, phone = _contacts(msg.user, utf8_mailboxes=rt.settings.utf8_mailboxes)
    name = msg.user.name or (msg.user.profile or {}).get("name")
    # The same rules as a typed name (app/textsafety.py): a name that breaks them is not used.
    name = one_line_or_none(name) if isinstance(name, str) else None
    link_values = _link_values(rt, msg, intent)
    facts = Facts(
        reference=unique_reference(session, kst_date(received_at)),
        type=request_type,
        service=service_for(rt, msg.channel_id),
        channel="channeltalk",
        received_at=received_at,
        period_days=period_for(request_type),
        notify_by=CHAT,
        items=[],  # the whole of the service's data, until the requester narrows it
        delivery="electronic",
        actor=actor,
        access_code_hash=v.hash_secret(new_access_code()),  # answered in the chat, never shown
        details_enc=v.encrypt(intake.mask_rrn(msg.text), field="request.details"),
        people=[
            PersonFacts(
                role="subject",
                relationship=Relationship.SELF.value,
                name=name,
                email=email,
                phone=phone,
            )
        ],
        event_data={
            "relationship": "self",
            "chat_identity": link_values["identity"],
            "confidence": link_values["confidence"],
            "matched": link_values["matched"],
            **_time_refused(msg),
        },
    )
    request_id = write_filing(session, rt, plan_request(rt, facts))
    request = session.get(Request, request_id)
    assert request is not None
    link = ChatLink(request_id=request_id, **link_values)
    session.add(link)
    _keep_message(session, rt, request, msg)
    _start_identity(session, rt, request, link, has_contact=bool(email or phone))
    _queue_description(session, rt, request, link)
    return request


def _time_refused(msg: CustomerMessage) -> dict[str, str | None]:
    """For the timeline: the message's own time, when it was not taken as the receipt time
    (the deadline counts from receipt, so both are kept)."""
    if msg.time_basis != "delivery":
        return {}
    log.warning("Channel Talk message time outside the accepted window; filed at its delivery")
    claimed = msg.created_at.isoformat() if msg.created_at else None
    return {"message_created_at": claimed, "received_at_basis": "delivery"}


def _start_identity(
    session: Session, rt: Runtime, request: Request, link: ChatLink, *, has_contact: bool
) -> None:
    """Member Hash: verified by the login. Otherwise a code to the contact Channel Talk holds,
    typed back into the chat; with no contact, staff verify and say how in the chat."""
    if link.identity == "member_hash":
        assert request.id is not None
        session.add(
            IdentityCheck(
                request_id=request.id,
                method=IdentityMethod.MEMBER_LOGIN,
                result="verified",
                actor=ACTOR,
                checked_at=rt.clock(),
            )
        )
        move(session, rt, request, Status.IN_REVIEW, actor=ACTOR, identity="member_login")
        send_when_verified(session, rt, request, actor=ACTOR)
        queue_notice(
            session, rt, request, NoticeKind.RECEIPT, extra=ReceiptExtra(next_action="wait")
        )
        return
    step = "verify_contact" if has_contact else "verify_by_staff"
    queue_notice(session, rt, request, NoticeKind.RECEIPT, extra=ReceiptExtra(next_action=step))
    if has_contact:
        otp.issue_code(session, rt, request, actor=ACTOR)


def _contacts(user: UserRef, *, utf8_mailboxes: bool) -> tuple[str | None, str | None]:
    """The e-mail and mobile number Channel Talk holds, when they are well-formed (and the
    e-mail one that notices can reach, by the intake rule)."""
    profile = user.profile or {}
    email, phone = profile.get("email"), profile.get("mobileNumber")
    if isinstance(email, str) and one_line_or_none(email):
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            email = None
        if email and not intake.mailbox_deliverable(email, utf8_mailboxes=utf8_mailboxes):
            email = None
    else:
        email = None
    if isinstance(phone, str) and phone_violation(phone) is None:
        digits = normalize_phone(phone)
        phone = phone if 9 <= len(digits) <= 11 and digits.startswith("0") else None
    else:
        phone = None
    return email, phone


def _link_values(rt: Runtime, msg: CustomerMessage, intent: Intent | None) -> dict[str, Any]:
    """The chat link of a new request, without its request id."""
    member = msg.user.memberId
    trusted = rt.settings.channeltalk_member_hash and msg.user.type == "member" and bool(member)
    return {
        "channel_id": msg.channel_id,
        "user_chat_id": msg.user_chat_id,
        "user_id": msg.user_id,
        "member_id_enc": rt.vault.encrypt_opt(member, field="chat_link.member_id"),
        "member_id_bidx": rt.vault.blind_index(member, field="member_id") if member else None,
        "user_type": msg.user.type or "unknown",
        "identity": "member_hash" if trusted else "none",
        "trigger_message_id": msg.message_id,
        "confidence": intent.confidence.value if intent else "staff",
        "matched": list(intent.matched) if intent else [],
        "created_at": rt.clock(),
    }


def _queue_description(session: Session, rt: Runtime, request: Request, link: ChatLink) -> None:
    """The reference in the chat's description, for managers in the Desk (no personal data)."""
    assert request.id is not None
    label = TYPE_LABELS_KO.get(request.type, request.type)
    text = f"{request.reference} {label} 요청 접수 · 법정기한 {request.legal_due_on.isoformat()}"
    queue_internal(
        session,
        rt,
        request,
        kind="chat_description",
        to=link.user_chat_id,
        key=f"{request.reference}:chat_description",
        subject="",
        body=text,
        channel=CHAT,
    )


# --- later messages --------------------------------------------------------------------------


def _known(session: Session, message_id: str) -> bool:
    for column in (ChatMessage.message_id, ChatCandidate.message_id):
        if session.exec(select(column).where(column == message_id)).first():
            return True
    return False


def _open_requests(session: Session, user_chat_id: str) -> list[Request]:
    """Open requests of this chat, newest first."""
    return list(
        session.exec(
            select(Request)
            .join(ChatLink, col(ChatLink.request_id) == col(Request.id))
            .where(
                ChatLink.user_chat_id == user_chat_id,
                col(Request.status).not_in(closed_statuses()),
            )
            .order_by(col(Request.id).desc())
        ).all()
    )


def _awaits_code(session: Session, request: Request) -> bool:
    if request.status != Status.IDENTITY_PENDING:
        return False
    sent = session.exec(
        select(Verification.id).where(
            Verification.request_id == request.id, col(Verification.verified_at).is_(None)
        )
    ).first()
    return sent is not None


def _check_code(
    session: Session, rt: Runtime, request: Request, code: str, msg: CustomerMessage
) -> str:
    try:
        otp.verify_code(session, rt, request, code)
    except (otp.CodeRefused, otp.CodeLocked) as error:
        text = error.detail  # the attempt stays counted: answered in the chat, not raised
        outcome = "code_rejected"
    else:
        outcome = "code_verified"
        text = (
            "본인 확인이 완료되었습니다. 담당자가 요청을 검토하고 결과를 이 채팅으로 알려 드립니다."
        )
    queue_notice(
        session,
        rt,
        request,
        NoticeKind.STATUS_UPDATE,
        extra=StatusUpdateExtra(message=text),
        dedupe=f"status_update:{msg.message_id}",
        actor=ACTOR,
    )
    # The code is a secret: the message is remembered by id only.
    _keep_message(session, rt, request, msg, text="(인증번호 입력)")
    return outcome


def _join(session: Session, rt: Runtime, request: Request, msg: CustomerMessage) -> None:
    _keep_message(session, rt, request, msg)
    if request.status == Status.AWAITING_REQUESTER:
        info_requests.reply(session, rt, request, intake.mask_rrn(msg.text))
    else:
        note(session, rt, request, "chat_message_joined", actor="requester")


def _keep_message(
    session: Session, rt: Runtime, request: Request, msg: CustomerMessage, text: str | None = None
) -> None:
    assert request.id is not None
    session.add(
        ChatMessage(
            request_id=request.id,
            message_id=msg.message_id,
            sent_at=msg.sent_at,
            text_enc=rt.vault.encrypt(text or intake.mask_rrn(msg.text), field="chat_message.text"),
            created_at=rt.clock(),
        )
    )
    session.flush()


# --- detections for a manager to confirm -----------------------------------------------------


def _candidate(session: Session, rt: Runtime, msg: CustomerMessage, intents: list[Intent]) -> None:
    v = rt.vault
    session.add(
        ChatCandidate(
            message_id=msg.message_id,
            channel_id=msg.channel_id,
            user_chat_id=msg.user_chat_id,
            user_id=msg.user_id,
            member_id_enc=v.encrypt_opt(msg.user.memberId, field="chat_link.member_id"),
            user_enc=v.encrypt(msg.user.model_dump_json(), field="chat_candidate.user"),
            user_type=msg.user.type or "unknown",
            message_at=msg.sent_at,
            text_enc=v.encrypt(intake.mask_rrn(msg.text), field="chat_candidate.text"),
            suggested=[i.type for i in intents],
            matched=sorted({m for i in intents for m in i.matched}),
            created_at=rt.clock(),
        )
    )
    session.flush()


def _user_deleted(session: Session, rt: Runtime, user_id: str) -> str:
    """Channel Talk confirms the user record is gone: evidence on the linked requests."""
    requests = session.exec(
        select(Request)
        .join(ChatLink, col(ChatLink.request_id) == col(Request.id))
        .where(ChatLink.user_id == user_id)
    ).all()
    for request in requests:
        note(session, rt, request, "channeltalk_user_deleted", actor=ACTOR)
    return "user_deleted" if requests else "ignored"
