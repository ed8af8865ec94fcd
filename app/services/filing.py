"""Filing a request: check the rules, compute the deadline, store it encrypted, record events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.crypto import Vault
from app.errors import Conflict
from app.evidence.multipart import UploadedFile
from app.models.request import Delegation, IdempotencyRecord, Party, Request
from app.models.request_api import RequestCreate, RequestCreated
from app.runtime import Runtime
from app.services import identity
from app.services.codes import new_access_code, new_reference
from app.services.events import record_event
from app.services.notices import queue_notice
from app.workflows import intake, rrn
from app.workflows.deadlines import Deadline, kst_date, legal_deadline, period_for, target_date
from app.workflows.lifecycle import Status, TransitionEvent
from app.workflows.notices import NoticeKind
from app.workflows.vocab import Relationship


@dataclass(frozen=True)
class FilingContext:
    channel: str
    received_at: datetime
    actor: str
    # Scope of the Idempotency-Key: the same key from two callers never collides.
    idempotency_scope: str
    idempotency_key: str | None


def file_request(
    session: Session,
    rt: Runtime,
    payload: RequestCreate,
    ctx: FilingContext,
    files: Sequence[UploadedFile] = (),
    kinds: Sequence[str] = (),
) -> tuple[RequestCreated, bool]:
    """Returns the response and whether it is a replay of an earlier identical POST.

    `files` were already streamed into the evidence store by the router; they are recorded
    here with their `kinds`.
    """
    now = rt.clock()
    body_hash = hashlib.sha256(payload.model_dump_json().encode()).hexdigest()
    key_hash = _key_hash(ctx) if ctx.idempotency_key else None
    if key_hash:
        replay = _replay(session, rt.vault, key_hash, body_hash, now)
        if replay is not None:
            return replay, True

    intake.check_receipt_time(ctx.received_at, now=now)
    received_on = kst_date(ctx.received_at)
    service = rt.policy.service(payload.service)
    intake.check_intake(
        payload,
        received_on=received_on,
        item_codes=rt.policy.item_codes(payload.service) if service else None,
        limits=intake.IntakeLimits(
            max_text_chars=rt.settings.max_text_chars,
            max_items=rt.settings.max_items_per_request,
        ),
    )
    relationship = intake.relationship_of(payload)
    request, deadline, access_code = new_request(
        session,
        rt,
        type=payload.type,
        service=payload.service,
        channel=ctx.channel,
        received_at=ctx.received_at,
        items=list(payload.items),
        delivery=payload.delivery,
        notify_by=intake.default_notify_by(payload),
        details_enc=rt.vault.encrypt_opt(
            intake.mask_rrn(payload.details) if payload.details else None, field="request.details"
        ),
        correction_enc=_correction_enc(rt.vault, payload),
    )
    assert request.id is not None
    _add_parties(session, rt.vault, request.id, payload, relationship)
    if payload.delegation is not None:
        d = payload.delegation
        session.add(
            Delegation(
                request_id=request.id,
                fields_enc=rt.vault.encrypt(d.model_dump_json(), field="delegation.fields"),
                scope=[s.value for s in d.scope],
                signed_on=d.signed_on,
            )
        )
    record_filed(
        session, rt, request, deadline, actor=ctx.actor, at=now, relationship=relationship.value
    )
    if files:
        identity.attach(session, rt, request, files, kinds, actor=ctx.actor)
    next_action = identity.next_action(session, request)
    # The receipt goes into the outbox in this same transaction: if the request exists, so
    # does its receipt notice.
    queue_notice(session, rt, request, NoticeKind.RECEIPT, extra={"next_action": next_action})
    if relationship is Relationship.SELF:
        # Decree art. 46(1): the subject shows control of the contact they gave.
        identity.issue_code(session, rt, request, actor=ctx.actor)
    response = RequestCreated(
        reference=request.reference,
        access_code=access_code,
        type=request.type,
        status=request.status,
        received_at=ctx.received_at,
        legal_deadline=deadline.due_on,
        next_action=next_action,
        warnings=[rrn.MASKED_NOTICE] if _typed_an_rrn(payload) else [],
    )
    if key_hash:
        _remember(session, rt, key_hash, body_hash, request.id, response, now)
    return response, False


def new_request(
    session: Session,
    rt: Runtime,
    *,
    type: str,
    service: str,
    channel: str,
    received_at: datetime,
    items: list[str],
    delivery: str,
    notify_by: str,
    details_enc: str | None,
    correction_enc: str | None = None,
) -> tuple[Request, Deadline, str]:
    """A new request awaiting identity, its Civil-Act deadline and its access code (shown
    once by the caller, stored only as an HMAC)."""
    now = rt.clock()
    deadline = legal_deadline(received_at, period_for(type), rt.calendar)
    access_code = new_access_code()
    request = Request(
        reference=unique_reference(session, kst_date(received_at)),
        type=type,
        service=service,
        channel=channel,
        status=Status.IDENTITY_PENDING,
        received_at=received_at,
        legal_due_on=deadline.due_on,
        target_due_on=target_date(deadline.due_on, rt.settings.target_days_before, rt.calendar),
        period_days=deadline.period_days,
        deadline_unconfirmed=deadline.beyond_calendar,
        access_code_hash=rt.vault.hash_secret(access_code),
        items=items,
        delivery=delivery,
        notify_by=notify_by,
        details_enc=details_enc,
        correction_enc=correction_enc,
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    session.flush()
    return request, deadline, access_code


def record_filed(
    session: Session,
    rt: Runtime,
    request: Request,
    deadline: Deadline,
    *,
    actor: str,
    at: datetime,
    **data: Any,
) -> None:
    """The first timeline entry: how it came in and how its deadline was counted."""
    explain = [{"date": s.date.isoformat(), "note": s.note} for s in deadline.explain]
    record_event(
        session,
        rt,
        request,
        TransitionEvent(
            kind="filed",
            from_status="",
            to_status=Status.IDENTITY_PENDING,
            actor=actor,
            at=at,
            data={
                "channel": request.channel,
                **data,
                "received_at": request.received_at.isoformat(),
                "legal_deadline": deadline.due_on.isoformat(),
                "deadline_unconfirmed": deadline.beyond_calendar,
                "explain": explain,
            },
        ),
    )


def _typed_an_rrn(payload: RequestCreate) -> bool:
    texts = [payload.details]
    if payload.correction is not None:
        texts += [payload.correction.current_value, payload.correction.requested_value]
    if payload.delegation is not None:
        texts.append(payload.delegation.model_dump_json())
    return any(rrn.contains(t) for t in texts)


def _add_parties(
    session: Session, vault: Vault, request_id: int, payload: RequestCreate, rel: Relationship
) -> None:
    people = [("subject", payload.subject)]
    if rel is not Relationship.SELF and payload.requester is not None:
        people.append(("requester", payload.requester))  # type: ignore[arg-type]
    for role, person in people:
        birth = person.birth_date.isoformat() if person.birth_date else None
        session.add(
            Party(
                request_id=request_id,
                role=role,
                relationship=rel.value,
                name_enc=vault.encrypt_opt(person.name, field="party.name"),
                birth_date_enc=vault.encrypt_opt(birth, field="party.birth_date"),
                email_enc=vault.encrypt_opt(person.email, field="party.email"),
                phone_enc=vault.encrypt_opt(person.phone, field="party.phone"),
                name_bidx=vault.blind_index(person.name, field="name") if person.name else None,
                email_bidx=vault.blind_index(person.email, field="email") if person.email else None,
                phone_bidx=vault.blind_index(person.phone, field="phone") if person.phone else None,
            )
        )


def _correction_enc(vault: Vault, payload: RequestCreate) -> str | None:
    if payload.correction is None:
        return None
    data = payload.correction.model_dump()
    for key in ("current_value", "requested_value"):
        if data[key]:
            data[key] = intake.mask_rrn(data[key])
    return vault.encrypt(json.dumps(data, ensure_ascii=False), field="request.correction")


def unique_reference(session: Session, received_on: date) -> str:
    for _ in range(5):
        ref = new_reference(received_on)
        if session.exec(select(Request.id).where(Request.reference == ref)).first() is None:
            return ref
    raise RuntimeError("could not draw a free reference")  # 40 random bits: practically never


def _key_hash(ctx: FilingContext) -> str:
    assert ctx.idempotency_key is not None
    return hashlib.sha256(f"{ctx.idempotency_scope}\x00{ctx.idempotency_key}".encode()).hexdigest()


def _replay(
    session: Session, vault: Vault, key_hash: str, body_hash: str, now: datetime
) -> RequestCreated | None:
    record = session.exec(
        select(IdempotencyRecord).where(IdempotencyRecord.key_hash == key_hash)
    ).first()
    if record is None or record.expires_at <= now:
        if record is not None:
            session.delete(record)
            session.flush()
        return None
    if record.body_hash != body_hash:
        raise Conflict(
            "같은 Idempotency-Key로 다른 내용의 요청이 이미 접수되었습니다.",
            code="idempotency_key_reused",
        )
    return RequestCreated.model_validate_json(
        vault.decrypt(record.response_enc, field="idempotency.response")
    )


def _remember(
    session: Session,
    rt: Runtime,
    key_hash: str,
    body_hash: str,
    request_id: int,
    response: RequestCreated,
    now: datetime,
) -> None:
    session.add(
        IdempotencyRecord(
            key_hash=key_hash,
            body_hash=body_hash,
            request_id=request_id,
            response_enc=rt.vault.encrypt(response.model_dump_json(), field="idempotency.response"),
            created_at=now,
            expires_at=now + timedelta(hours=rt.settings.idempotency_ttl_hours),
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        # A concurrent retry with the same key won the race; the caller retries and replays.
        raise Conflict(
            "같은 요청이 동시에 처리되고 있습니다. 잠시 후 다시 시도해 주세요.",
            code="idempotency_in_progress",
        ) from exc
