"""Filing a request: check the rules, compute the deadline, store it encrypted, record events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.crypto import Vault
from app.errors import Conflict
from app.evidence.multipart import UploadedFile
from app.models.identity import Attachment, Verification
from app.models.notice import Notice
from app.models.request import Delegation, Event, IdempotencyRecord, Party, Request
from app.models.request_api import RequestCreate, RequestCreated, RequesterIn, SubjectIn
from app.runtime import Runtime
from app.services import identity
from app.services.codes import new_access_code, new_reference
from app.services.events import chain_heads, note_event, record_event, seal_events
from app.services.notices import Recipient, dedupe_key, notice_values, queued_data
from app.workflows import identity as rules
from app.workflows import intake, rrn
from app.workflows.deadlines import Deadline, kst_date, legal_deadline, period_for, target_date
from app.workflows.identity import Evidence
from app.workflows.lifecycle import Status, TransitionEvent
from app.workflows.notices import NoticeKind, pick_contact
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
    reference = unique_reference(session, kst_date(ctx.received_at))
    filing = prepare_filing(rt, payload, ctx, files, kinds, reference=reference)
    (request_id,) = write_filings(session, rt, [filing])
    if key_hash:
        _remember(session, rt, key_hash, body_hash, request_id, filing.response, now)
    return filing.response, False


@dataclass(frozen=True)
class PreparedFiling:
    """A filing checked and computed (encrypted, rendered, hashed), not yet written."""

    filing: NewFiling
    deadline: Deadline
    relationship: Relationship
    actor: str
    rows: _FilingRows
    code: str | None
    response: RequestCreated
    at: datetime
    # For a retry on its own: what was filed.
    payload: RequestCreate
    ctx: FilingContext
    files: Sequence[UploadedFile]
    kinds: Sequence[str]


def prepare_filing(
    rt: Runtime,
    payload: RequestCreate,
    ctx: FilingContext,
    files: Sequence[UploadedFile] = (),
    kinds: Sequence[str] = (),
    *,
    reference: str | None = None,
) -> PreparedFiling:
    """Check the filing against the law and the policy and compute all of its rows, without
    the database: the write is then a handful of statements (on SQLite the database is locked
    only for those). Without `reference` a random one is drawn unchecked; the unique index
    catches the rare taken one, and the caller files again with `file_request`."""
    now = rt.clock()
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
            utf8_mailboxes=rt.settings.utf8_mailboxes,
        ),
    )
    relationship = intake.relationship_of(payload)
    deadline = legal_deadline(ctx.received_at, period_for(payload.type), rt.calendar)
    filing = NewFiling(
        reference=reference or new_reference(received_on),
        type=payload.type,
        service=payload.service,
        channel=ctx.channel,
        notify_by=intake.default_notify_by(payload),
        received_at=ctx.received_at,
        legal_due_on=deadline.due_on,
    )
    access_code = new_access_code()
    next_action = rules.next_action(
        Status.IDENTITY_PENDING,
        relationship.value,
        Evidence(attachment_kinds=frozenset(kinds), contact_verified=False),
    )
    request_row = request_values(
        rt,
        filing,
        deadline,
        access_code,
        items=list(payload.items),
        delivery=payload.delivery,
        details_enc=rt.vault.encrypt_opt(
            intake.mask_rrn(payload.details) if payload.details else None, field="request.details"
        ),
        correction_enc=_correction_enc(rt.vault, payload),
        at=now,
    )
    people = _people(payload, relationship)
    party_rows = [_party_values(rt.vault, role, person, relationship) for role, person in people]
    delegation_row = (
        {
            "fields_enc": rt.vault.encrypt(
                payload.delegation.model_dump_json(), field="delegation.fields"
            ),
            "scope": [s.value for s in payload.delegation.scope],
            "signed_on": payload.delegation.signed_on,
        }
        if payload.delegation is not None
        else None
    )
    attachment_rows = [
        identity.attachment_values(rt, f, kind, actor=ctx.actor, at=now, task_id=None)
        for f, kind in zip(files, kinds, strict=True)
    ]
    # The receipt goes into the outbox in the same transaction as the request: if the request
    # exists, so does its receipt notice.
    to = _contact(people, filing.notify_by)
    receipt = notice_values(
        rt,
        filing,
        NoticeKind.RECEIPT,
        to,
        key=dedupe_key(filing, NoticeKind.RECEIPT),
        extra={"next_action": next_action},
    )
    queued = {"next_attempt_at": now, "created_at": now}
    notices = [("system", {**receipt, **queued})]  # (the actor of its timeline entry, the row)
    # Decree art. 46(1): the subject shows control of the contact they gave.
    code = identity.new_code() if relationship is Relationship.SELF else None
    if code is not None:
        c = identity.code_notice(rt, code)
        key = dedupe_key(filing, c.kind, c.dedupe)
        code_values = notice_values(rt, filing, c.kind, to, key=key, extra=c.extra, secret=c.secret)
        notices.append((ctx.actor, {**code_values, **queued}))
    return PreparedFiling(
        filing=filing,
        deadline=deadline,
        relationship=relationship,
        actor=ctx.actor,
        rows=_FilingRows(request_row, party_rows, delegation_row, attachment_rows, notices),
        code=code,
        response=RequestCreated(
            reference=filing.reference,
            access_code=access_code,
            type=filing.type,
            status=Status.IDENTITY_PENDING,
            received_at=ctx.received_at,
            legal_deadline=deadline.due_on,
            next_action=next_action,
            warnings=[rrn.MASKED_NOTICE] if _typed_an_rrn(payload) else [],
        ),
        at=now,
        payload=payload,
        ctx=ctx,
        files=files,
        kinds=kinds,
    )


@dataclass(frozen=True)
class NewFiling:
    """A request being filed, before it has a row: what its notices and first event need."""

    reference: str
    type: str
    service: str
    channel: str
    notify_by: str
    received_at: datetime
    legal_due_on: date


@dataclass(frozen=True)
class _FilingRows:
    request: dict[str, Any]
    parties: list[dict[str, Any]]
    delegation: dict[str, Any] | None
    attachments: list[dict[str, Any]]
    notices: list[tuple[str, dict[str, Any]]]


def write_filings(session: Session, rt: Runtime, batch: Sequence[PreparedFiling]) -> list[int]:
    """Insert prepared filings with one statement per table, whatever their number (SQLAlchemy
    Core: no unit of work for rows this transaction creates and never reads back), and seal
    their timelines. Returns the new requests' ids."""
    conn = session.connection()
    ids = _insert_returning_ids(conn, Request, [f.rows.request for f in batch], "reference")
    owned = list(zip(batch, ids, strict=True))

    def rows_of(part: Callable[[PreparedFiling], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        return [{**row, "request_id": rid} for f, rid in owned for row in part(f)]

    conn.execute(insert(Party), rows_of(lambda f: f.rows.parties))
    delegations = rows_of(lambda f: [f.rows.delegation] if f.rows.delegation else [])
    if delegations:
        conn.execute(insert(Delegation), delegations)
    files = rows_of(lambda f: f.rows.attachments)
    file_ids = iter(_insert_returning_ids(conn, Attachment, files, "blob_key") if files else [])
    notices = rows_of(lambda f: [n for _, n in f.rows.notices])
    notice_ids = iter(_insert_returning_ids(conn, Notice, notices, "dedupe_key"))
    codes = [
        identity.first_verification(rt, rid, f.code, f.at) for f, rid in owned if f.code is not None
    ]
    if codes:
        conn.execute(insert(Verification), codes)
    heads = chain_heads(session)
    events: list[dict[str, Any]] = []
    for f, rid in owned:
        # The timeline in the order the steps happened: filed, files, notices, code.
        data = {"relationship": f.relationship.value}
        timeline = [filed_event(f.filing, f.deadline, actor=f.actor, at=f.at, **data)]
        if f.rows.attachments:
            stored = [SimpleNamespace(id=next(file_ids), **a) for a in f.rows.attachments]
            note_data = identity.attachments_note(stored, None)
            timeline.append(note_event("attachments_added", actor=f.actor, at=f.at, data=note_data))
        for actor, n in f.rows.notices:
            queued = queued_data(next(notice_ids), n["kind"], n["channel"])
            timeline.append(note_event("notice_queued", actor=actor, at=f.at, data=queued))
        if f.code is not None:
            timeline.append(note_event("code_sent", actor=f.actor, at=f.at, data={"sends": 1}))
        sealed = seal_events(rt, rid, timeline)
        events += sealed
        # The chain's head, for events this transaction may still record (no need to read it).
        heads[rid] = (sealed[-1]["seq"], sealed[-1]["mac"])
    conn.execute(insert(Event), events)
    return ids


def _insert_returning_ids(
    conn: Connection, model: Any, rows: list[dict[str, Any]], unique: str
) -> list[int]:
    """The new ids in the order of `rows`. Several rows go in one INSERT … RETURNING, matched
    back by their `unique` column (SQLite does not promise RETURNING in VALUES order)."""
    if len(rows) == 1:
        key = conn.execute(insert(model), rows[0]).inserted_primary_key
        assert key is not None
        return [int(key[0])]
    result = conn.execute(insert(model).returning(model.id, getattr(model, unique)), rows)
    ids = {value: int(new_id) for new_id, value in result}
    return [ids[row[unique]] for row in rows]


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
    deadline = legal_deadline(received_at, period_for(type), rt.calendar)
    access_code = new_access_code()
    filing = NewFiling(
        reference=unique_reference(session, kst_date(received_at)),
        type=type,
        service=service,
        channel=channel,
        notify_by=notify_by,
        received_at=received_at,
        legal_due_on=deadline.due_on,
    )
    request = Request(
        **request_values(
            rt,
            filing,
            deadline,
            access_code,
            items=items,
            delivery=delivery,
            details_enc=details_enc,
            correction_enc=correction_enc,
            at=rt.clock(),
        )
    )
    session.add(request)
    session.flush()
    return request, deadline, access_code


def request_values(
    rt: Runtime,
    filing: NewFiling,
    deadline: Deadline,
    access_code: str,
    *,
    items: list[str],
    delivery: str,
    details_enc: str | None,
    correction_enc: str | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "reference": filing.reference,
        "type": filing.type,
        "service": filing.service,
        "channel": filing.channel,
        "status": Status.IDENTITY_PENDING,
        "received_at": filing.received_at,
        "legal_due_on": deadline.due_on,
        "target_due_on": target_date(deadline.due_on, rt.settings.target_days_before, rt.calendar),
        "period_days": deadline.period_days,
        "deadline_unconfirmed": deadline.beyond_calendar,
        "version": 1,
        "access_code_hash": rt.vault.hash_secret(access_code),
        "items": items,
        "delivery": delivery,
        "notify_by": filing.notify_by,
        "details_enc": details_enc,
        "correction_enc": correction_enc,
        "created_at": at,
        "updated_at": at,
    }


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
    record_event(session, rt, request, filed_event(request, deadline, actor=actor, at=at, **data))


def filed_event(
    request: NewFiling | Request, deadline: Deadline, *, actor: str, at: datetime, **data: Any
) -> TransitionEvent:
    """The first timeline entry: how it came in and how its deadline was counted."""
    explain = [{"date": s.date.isoformat(), "note": s.note} for s in deadline.explain]
    return TransitionEvent(
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
    )


def _typed_an_rrn(payload: RequestCreate) -> bool:
    texts = [payload.details]
    if payload.correction is not None:
        texts += [payload.correction.current_value, payload.correction.requested_value]
    if payload.delegation is not None:
        texts.append(payload.delegation.model_dump_json())
    return any(rrn.contains(t) for t in texts)


Person = SubjectIn | RequesterIn


def _people(payload: RequestCreate, rel: Relationship) -> list[tuple[str, Person]]:
    """(role, person): the subject, and whoever files for them."""
    people: list[tuple[str, Person]] = [("subject", payload.subject)]
    if rel is not Relationship.SELF and payload.requester is not None:
        people.append(("requester", payload.requester))
    return people


def _party_values(vault: Vault, role: str, person: Person, rel: Relationship) -> dict[str, Any]:
    birth = person.birth_date.isoformat() if person.birth_date else None
    return {
        "role": role,
        "relationship": rel.value,
        "name_enc": vault.encrypt_opt(person.name, field="party.name"),
        "birth_date_enc": vault.encrypt_opt(birth, field="party.birth_date"),
        "email_enc": vault.encrypt_opt(person.email, field="party.email"),
        "phone_enc": vault.encrypt_opt(person.phone, field="party.phone"),
        "name_bidx": vault.blind_index(person.name, field="name") if person.name else None,
        "email_bidx": vault.blind_index(person.email, field="email") if person.email else None,
        "phone_bidx": vault.blind_index(person.phone, field="phone") if person.phone else None,
    }


def _contact(people: list[tuple[str, Person]], notify_by: str) -> Recipient:
    """The recipient of the filing's notices, from what was filed (see `pick_contact`)."""
    ordered = [p for role in ("requester", "subject") for r, p in people if r == role]
    picked = pick_contact([(p.email is not None, p.phone is not None) for p in ordered], notify_by)
    if picked is None:
        raise RuntimeError("a filing without a contact")  # intake.check_intake requires one
    person, channel = ordered[picked[0]], picked[1]
    address = person.email if channel == "email" else person.phone
    assert address is not None
    return Recipient(person.name, channel, address)


def _correction_enc(vault: Vault, payload: RequestCreate) -> str | None:
    if payload.correction is None:
        return None
    data = payload.correction.model_dump()
    for key in ("current_value", "requested_value"):
        if data[key]:
            data[key] = intake.mask_rrn(data[key])
    return vault.encrypt(json.dumps(data, ensure_ascii=False), field="request.correction")


_REFERENCE_TAKEN = select(Request.id).where(Request.reference == bindparam("ref"))


def unique_reference(session: Session, received_on: date) -> str:
    for _ in range(5):
        ref = new_reference(received_on)
        taken = session.connection().execute(_REFERENCE_TAKEN, {"ref": ref}).first()
        if taken is None:
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
