"""Filing through the web form, the API or staff: check the rules, plan, write."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlmodel import Session

from app.core.codes import new_access_code
from app.core.crypto import Vault
from app.errors import BusinessRuleViolation
from app.evidence.multipart import UploadedFile
from app.models.request import Request
from app.models.request_api import RequestCreate, RequestCreated, RequesterIn, SubjectIn
from app.models.vocab import Relationship
from app.runtime import Runtime
from app.services.clinics.forwarding import forward_to_clinic
from app.services.clinics.registry import ClinicInfo, resolve_controller
from app.services.identity import evidence as identity_evidence
from app.services.identity import otp
from app.services.intake import idempotency
from app.services.intake.plan import Facts, PersonFacts, QueuedNotice, plan_request
from app.services.intake.write import unique_reference, write_filing
from app.services.notices.queue import Recipient
from app.workflows import automated, intake, rrn
from app.workflows import identity as rules
from app.workflows.deadlines import kst_date, period_for
from app.workflows.identity import Evidence
from app.workflows.lifecycle import Status
from app.workflows.notice_extras import ReceiptExtra
from app.workflows.notices import NoticeKind, pick_contact
from app.workflows.processor import mentions_medical_records


@dataclass(frozen=True)
class FilingContext:
    channel: str
    received_at: datetime
    actor: str
    # Scope of the Idempotency-Key: the same key from two callers never collides.
    idempotency_scope: str
    idempotency_key: str | None
    # The client address the filing came from: a key replays only to the address that sent
    # it first (kept only inside a keyed hash).
    client: str | None = None


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
    key = idempotency.key_of(
        rt.vault, ctx.idempotency_scope, ctx.client, ctx.idempotency_key, payload
    )
    if key is not None:
        replay = idempotency.replay(session, rt.vault, key, now)
        if replay is not None:
            return replay, True
    intake.check_receipt_time(ctx.received_at, now=now)
    received_on = kst_date(ctx.received_at)
    service = rt.policy.service(payload.service)
    try:
        intake.check_intake(
            payload,
            received_on=received_on,
            item_codes=rt.policy.item_codes(payload.service) if service else None,
            collects_birth_date=service.collects_birth_date if service else True,
            transmission_from=rt.policy.controller.transmission_from,
            limits=intake.IntakeLimits(
                max_text_chars=rt.settings.max_text_chars,
                max_items=rt.settings.max_items_per_request,
                utf8_mailboxes=rt.settings.utf8_mailboxes,
            ),
        )
    except BusinessRuleViolation as exc:
        if exc.code != "unknown_service":
            raise
        # The services of the policy in force: what would have been accepted.
        raise BusinessRuleViolation(
            "unknown_service", "service", exc.detail, allowed=rt.policy.service_codes()
        ) from None
    # Processor mode (art. 26(8)): a clinic the request names, checked before anything is written.
    clinic = resolve_controller(session, rt, payload.controller, payload.service, str(payload.type))
    medical = clinic is not None and mentions_medical_records(
        payload.details, _item_names(rt, payload)
    )
    automated.check_views(payload.type, payload.details)
    access_code = new_access_code()
    reference = unique_reference(session, received_on)
    facts, next_action = _facts(rt, payload, ctx, files, kinds, reference, access_code)
    if clinic is not None:
        facts = _with_clinic(facts, clinic, medical)
    plan = plan_request(rt, facts)
    request_id = write_filing(session, rt, plan)
    if clinic is not None:
        filed = session.get(Request, request_id)
        assert filed is not None
        forward_to_clinic(session, rt, filed, clinic, medical_records=medical, actor=ctx.actor)
    response = RequestCreated(
        reference=plan.filing.reference,
        access_code=access_code,
        type=plan.filing.type,
        status=Status.IDENTITY_PENDING,
        received_at=ctx.received_at,
        legal_deadline=plan.deadline.due_on,
        next_action=next_action,
        warnings=[rrn.MASKED_NOTICE] if _typed_an_rrn(payload) else [],
        controller=clinic.code if clinic is not None else None,
    )
    if key is not None:
        idempotency.remember(session, rt, key, request_id, response, now)
    return response, False


def _facts(
    rt: Runtime,
    payload: RequestCreate,
    ctx: FilingContext,
    files: Sequence[UploadedFile],
    kinds: Sequence[str],
    reference: str,
    access_code: str,
) -> tuple[Facts, str]:
    """The filing's facts from the payload, and the next action its receipt names."""
    relationship = intake.relationship_of(payload)
    next_action = rules.next_action(
        Status.IDENTITY_PENDING,
        relationship.value,
        Evidence(attachment_kinds=frozenset(kinds), contact_verified=False),
    )
    people = _people(payload, relationship)
    notify_by = intake.default_notify_by(payload)
    to = _contact(people, notify_by)
    notices = [QueuedNotice(NoticeKind.RECEIPT, to, extra=ReceiptExtra(next_action=next_action))]
    # Decree art. 46(1): the subject shows control of the contact they gave.
    code = otp.new_code() if relationship is Relationship.SELF else None
    if code is not None:
        c = otp.code_notice(rt, code)
        notices.append(QueuedNotice(c.kind, to, ctx.actor, c.extra, c.dedupe, c.secret))
    now = rt.clock()
    facts = Facts(
        reference=reference,
        type=payload.type,
        service=payload.service,
        channel=ctx.channel,
        received_at=ctx.received_at,
        period_days=period_for(payload.type),
        notify_by=notify_by,
        items=list(payload.items),
        access_scope=sorted({s.value for s in payload.access_scope})
        if payload.access_scope
        else None,
        automated_decision=automated.named_decision(
            payload.type, payload.automated_decision, service=payload.service, policy=rt.policy
        ),
        delivery=payload.delivery,
        actor=ctx.actor,
        access_code_hash=rt.vault.hash_secret(access_code),
        details_enc=rt.vault.encrypt_opt(
            intake.mask_rrn(payload.details) if payload.details else None, field="request.details"
        ),
        correction_enc=_correction_enc(rt.vault, payload),
        transmission_to=payload.transmission.to.value if payload.transmission else None,
        transmission_enc=_transmission_enc(rt.vault, payload),
        people=[_person(role, p, relationship) for role, p in people],
        delegation=_delegation_row(rt.vault, payload),
        attachments=[
            identity_evidence.attachment_values(rt, f, kind, actor=ctx.actor, at=now, task_id=None)
            for f, kind in zip(files, kinds, strict=True)
        ],
        notices=notices,
        code=code,
        event_data={"relationship": relationship.value},
    )
    return facts, next_action


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


def _person(role: str, p: Person, rel: Relationship) -> PersonFacts:
    return PersonFacts(role, rel.value, p.name, p.birth_date, p.email, p.phone)


def _delegation_row(vault: Vault, payload: RequestCreate) -> dict[str, object] | None:
    if payload.delegation is None:
        return None
    return {
        "fields_enc": vault.encrypt(
            payload.delegation.model_dump_json(), field="delegation.fields"
        ),
        "scope": [s.value for s in payload.delegation.scope],
        "signed_on": payload.delegation.signed_on,
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


# --- processor mode (art. 26(8)) ----------------------------------------------------------------


def _item_names(rt: Runtime, payload: RequestCreate) -> list[str]:
    service = rt.policy.service(payload.service)
    if service is None:
        return []
    return [item.name for code in payload.items if (item := service.item(code))]


def _with_clinic(facts: Facts, clinic: ClinicInfo, medical: bool) -> Facts:
    """The receipt names the clinic as the controller (and points 진료기록 to 의료법 제21조)."""
    notices = [
        replace(
            n,
            extra=n.extra.model_copy(
                update={
                    "clinic_name": clinic.name,
                    "clinic_contact": clinic.phone or clinic.email,
                    "medical_records": medical,
                }
            ),
        )
        if isinstance(n.extra, ReceiptExtra)
        else n
        for n in facts.notices
    ]
    return replace(facts, notices=notices)


def _transmission_enc(vault: Vault, payload: RequestCreate) -> str | None:
    if payload.transmission is None or payload.transmission.recipient is None:
        return None
    data = payload.transmission.recipient.model_dump_json()
    return vault.encrypt(data, field="request.transmission")
