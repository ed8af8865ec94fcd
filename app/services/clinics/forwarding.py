"""Forwarding a request to its clinic (the controller): the e-mail with a signed link, and the
page's record of the clinic's receipt and instruction.

The e-mail says only what the clinic needs to find the request and its patient (the type, the
items, the patient's name and birth date); the details are on the signed page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.errors import InvalidTransition
from app.models.clinic import ClinicForward
from app.models.request import Party, Request
from app.models.vocab import TYPE_LABELS_KO
from app.runtime import Runtime
from app.services.audit.timeline import move, note
from app.services.clinics.registry import ClinicInfo
from app.services.notices.queue import queue_internal
from app.services.notices.render import render_internal
from app.services.tasks.links import team_address
from app.workflows import processor as rules
from app.workflows.lifecycle import Status
from app.workflows.notices import date_text


def forward_of(session: Session, request: Request) -> ClinicForward | None:
    return session.exec(select(ClinicForward).where(ClinicForward.request_id == request.id)).first()


def forward_to_clinic(
    session: Session,
    rt: Runtime,
    request: Request,
    clinic: ClinicInfo,
    *,
    medical_records: bool,
    actor: str,
) -> ClinicForward:
    """Art. 26(8): the processor passes the request to the controller without delay, once we
    know who is asking: the e-mail, which names the patient, leaves when our identity check is
    done (`send_when_verified`), never on the word of an unverified requester."""
    assert request.id is not None
    forward = ClinicForward(
        request_id=request.id,
        clinic_code=clinic.code,
        clinic_name=clinic.name,
        clinic_email=clinic.email,
        clinic_phone=clinic.phone,
        medical_records=medical_records,
        due_on=rules.clinic_due_on(request.legal_due_on),
        forwarded_at=None,
    )
    session.add(forward)
    session.flush()
    note(session, rt, request, "clinic_forward_waits_for_identity", actor=actor, clinic=clinic.code)
    return forward


def send_when_verified(session: Session, rt: Runtime, request: Request, *, actor: str) -> None:
    """The request's identity check is done (it entered review): its clinic, if any, gets the
    e-mail now, once."""
    forward = forward_of(session, request)
    if forward is None or forward.forwarded_at is not None:
        return
    forward.forwarded_at = rt.clock()
    session.add(forward)
    session.flush()
    subject, body = render_internal(
        "clinic_forward", forward_context(session, rt, request, forward)
    )
    queue_internal(
        session,
        rt,
        request,
        kind="clinic_forward",
        to=forward.clinic_email,
        key=f"{request.reference}:clinic:{forward.id}:forward",
        subject=subject,
        body=body,
        audience="clinic",
    )
    note(session, rt, request, "forwarded_to_clinic", actor=actor, clinic=forward.clinic_code)


def forward_context(
    session: Session, rt: Runtime, request: Request, forward: ClinicForward
) -> dict[str, object]:
    service = rt.policy.service(request.service)
    assert service is not None
    items = [(item.name if (item := service.item(c)) else c) for c in request.items]
    subject = session.exec(
        select(Party).where(Party.request_id == request.id, Party.role == "subject")
    ).one()
    v = rt.vault
    return {
        "clinic_name": forward.clinic_name,
        "processor_name": rt.policy.controller.signed_as,
        "reference": request.reference,
        "type_label": TYPE_LABELS_KO.get(request.type, request.type),
        "service_name": service.name,
        "items": items,
        "patient_name": v.decrypt_opt(subject.name_enc, field="party.name"),
        "patient_birth_date": v.decrypt_opt(subject.birth_date_enc, field="party.birth_date"),
        "received_text": date_text(request.received_at.date()),
        "due_text": date_text(forward.due_on),
        "medical_records": forward.medical_records,
        "confirm_url": confirm_url(rt, forward),
        "reply_to": team_address(rt),
    }


# --- the signed link ------------------------------------------------------------------------


def link_token(rt: Runtime, forward: ClinicForward, *, now: datetime) -> str:
    """`<forward id>.<expiry>.<mac>`, like a holder's task link, with a key of its own."""
    expires = int((now + timedelta(days=rt.settings.task_link_days)).timestamp())
    payload = f"{forward.id}.{expires}"
    return f"{payload}.{_mac(rt, payload)}"


def _mac(rt: Runtime, payload: str) -> str:
    digest = hmac.new(rt.vault.derive("clinic-links"), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def confirm_url(rt: Runtime, forward: ClinicForward) -> str | None:
    base = rt.settings.public_base_url
    if not base:
        return None
    return f"{base.rstrip('/')}/clinics/confirm?token={link_token(rt, forward, now=rt.clock())}"


def forward_for_token(
    session: Session, rt: Runtime, token: str
) -> tuple[ClinicForward, Request] | None:
    """The forward a clinic's link is for, with its request; None for a forged, damaged or
    expired token."""
    parts = token.split(".")
    if len(parts) != 3 or not all(p.isascii() for p in parts):
        return None
    forward_id, expires, mac = parts
    if not hmac.compare_digest(mac, _mac(rt, f"{forward_id}.{expires}")):
        return None
    if not (forward_id.isdigit() and expires.isdigit()) or int(expires) < rt.clock().timestamp():
        return None
    forward = session.get(ClinicForward, int(forward_id))
    if forward is None:
        return None
    request = session.get(Request, forward.request_id)
    assert request is not None
    return forward, request


# --- the clinic's answer on the page --------------------------------------------------------


_OPEN_FOR_INSTRUCTION = frozenset({Status.IDENTITY_PENDING, Status.IN_REVIEW})


def record_instruction(
    session: Session,
    rt: Runtime,
    forward: ClinicForward,
    request: Request,
    instruction: str,
    reason: str | None,
) -> rules.ClinicInstruction:
    """The clinic confirms receipt and instructs. Staff then carry the instruction out
    (app/services/clinics/apply.py). ValueError (Korean) for an answer the page must refuse."""
    if forward.instruction is not None:
        raise AlreadyAnswered("이 요청에 대한 병원의 지시는 이미 받았습니다.")
    if request.status not in _OPEN_FOR_INSTRUCTION:
        raise InvalidTransition("이 요청은 더 이상 병원의 지시를 받을 수 없는 상태입니다.")
    chosen = rules.check_instruction(instruction, reason)
    now = rt.clock()
    actor = f"clinic:{forward.clinic_code}"
    # One conditional UPDATE: of two submissions at once, only the first is recorded, even
    # where the request lock does not serialize them (SQLite); the other gets the "already
    # answered" page. The request keeps its status: the clinic's word does not replace our
    # own identity check (apply.py waits for it).
    stored = session.connection().execute(
        update(ClinicForward)
        .where(col(ClinicForward.id) == forward.id, col(ClinicForward.instruction).is_(None))
        .values(
            received_at=forward.received_at or now,
            instruction=chosen.value,
            reason_enc=rt.vault.encrypt_opt(
                (reason or "").strip() or None
                if chosen is rules.ClinicInstruction.REFUSE
                else None,
                field="clinic_forward.reason",
            ),
            instructed_at=now,
        )
    )
    session.refresh(forward)
    if stored.rowcount != 1:
        raise AlreadyAnswered("이 요청에 대한 병원의 지시는 이미 받았습니다.")
    note(session, rt, request, "clinic_instruction", actor=actor, instruction=chosen.value)
    session.flush()
    return chosen


class AlreadyAnswered(InvalidTransition):
    """The clinic's instruction was recorded already (maybe by a submission a moment ago)."""


def record_answered(
    session: Session, rt: Runtime, forward: ClinicForward, request: Request
) -> None:
    """The clinic that answers the patient itself confirms it did: the request completes."""
    if forward.instruction != rules.ClinicInstruction.CLINIC_ANSWERS:
        raise InvalidTransition("병원이 직접 답변하기로 한 요청이 아닙니다.")
    stored = session.connection().execute(
        update(ClinicForward)
        .where(col(ClinicForward.id) == forward.id, col(ClinicForward.answered_at).is_(None))
        .values(answered_at=rt.clock())
    )
    session.refresh(forward)
    if stored.rowcount != 1:
        raise AlreadyAnswered("병원이 답변했다는 확인은 이미 받았습니다.")
    actor = f"clinic:{forward.clinic_code}"
    if forward.applied_at is None:
        # Staff have not passed the instruction on yet: applying it completes the request.
        note(session, rt, request, "clinic_answered", actor=actor)
        request.version += 1
        session.flush()
        return
    move(session, rt, request, Status.COMPLETED, actor=actor, clinic_answered=True)
