"""What a new request is made of, computed without the database: the builder of every filing.

The caller gathers the facts of its channel; `plan_request` turns them into the rows to write
(encrypted, rendered, hashed) and the first timeline entries. `app.services.intake.write`
writes a plan; nothing else inserts a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.core.crypto import Vault
from app.runtime import Runtime
from app.services.notices.queue import Recipient, dedupe_key, notice_values
from app.workflows import automated
from app.workflows.deadlines import Deadline, legal_deadline, target_date
from app.workflows.lifecycle import Status, TransitionEvent
from app.workflows.notice_extras import NoticeExtra
from app.workflows.notices import NoticeKind


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
    # The deadline reached past the confirmed holiday calendar (law rule 5).
    deadline_unconfirmed: bool = False


@dataclass(frozen=True)
class PersonFacts:
    """One party as given (plain text), before encryption."""

    role: str  # subject | requester
    relationship: str
    name: str | None = None
    birth_date: date | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class QueuedNotice:
    kind: NoticeKind
    to: Recipient
    actor: str = "system"  # whose step its timeline entry records
    extra: NoticeExtra | None = None
    dedupe: str | None = None
    secret: str | None = None


@dataclass(frozen=True)
class Facts:
    """Everything an entry point knows about the request it files."""

    reference: str
    type: str
    service: str
    channel: str
    received_at: datetime
    period_days: int
    notify_by: str
    items: list[str]
    delivery: str
    actor: str
    access_code_hash: str
    details_enc: str | None = None
    correction_enc: str | None = None
    status: Status = Status.IDENTITY_PENDING
    parent_id: int | None = None
    # Access: Decree art. 41(1) 1-5 as the subject chose them; None = all.
    access_scope: list[str] | None = None
    # Art. 37-2 types: the decision named (None: `unknown` for those types, nothing otherwise).
    automated_decision: str | None = None
    # Transmission: where to, and the recipient institution (encrypted JSON) if a third party.
    transmission_to: str | None = None
    transmission_enc: str | None = None
    # New people (encrypted here), or rows copied as they are from the request followed up.
    people: Sequence[PersonFacts] = ()
    copied_parties: Sequence[dict[str, Any]] = ()
    delegation: dict[str, Any] | None = None
    attachments: Sequence[dict[str, Any]] = ()
    notices: Sequence[QueuedNotice] = ()
    code: str | None = None  # a one-time code sent with the filing (Decree art. 46(1))
    event_data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FilingPlan:
    """The rows of one new request, none of them with ids yet."""

    filing: NewFiling
    deadline: Deadline
    actor: str
    at: datetime
    request: dict[str, Any]
    parties: list[dict[str, Any]]
    delegation: dict[str, Any] | None
    attachments: list[dict[str, Any]]
    notices: list[tuple[str, dict[str, Any]]]  # (the actor of its timeline entry, the row)
    code: str | None
    filed: TransitionEvent


def plan_request(rt: Runtime, facts: Facts) -> FilingPlan:
    """The one builder: the Civil-Act deadline, the request row, the parties, the notices
    (rendered and encrypted) and the `filed` entry."""
    now = rt.clock()
    deadline = legal_deadline(facts.received_at, facts.period_days, rt.calendar)
    filing = NewFiling(
        reference=facts.reference,
        type=facts.type,
        service=facts.service,
        channel=facts.channel,
        notify_by=facts.notify_by,
        received_at=facts.received_at,
        legal_due_on=deadline.due_on,
        deadline_unconfirmed=deadline.beyond_calendar,
    )
    queued = {"next_attempt_at": now, "created_at": now}
    notices = [
        (
            n.actor,
            {
                **notice_values(
                    rt,
                    filing,
                    n.kind,
                    n.to,
                    key=dedupe_key(filing, n.kind, n.dedupe),
                    extra=n.extra,
                    secret=n.secret,
                ),
                **queued,
            },
        )
        for n in facts.notices
    ]
    parties = [party_values(rt.vault, p) for p in facts.people] + [
        dict(p) for p in facts.copied_parties
    ]
    return FilingPlan(
        filing=filing,
        deadline=deadline,
        actor=facts.actor,
        at=now,
        request=_request_row(rt, facts, deadline, now),
        parties=parties,
        delegation=facts.delegation,
        attachments=list(facts.attachments),
        notices=notices,
        code=facts.code,
        filed=filed_event(
            filing, deadline, facts.status, actor=facts.actor, at=now, **facts.event_data
        ),
    )


def _request_row(rt: Runtime, facts: Facts, deadline: Deadline, now: datetime) -> dict[str, Any]:
    return {
        "reference": facts.reference,
        "type": facts.type,
        "service": facts.service,
        "channel": facts.channel,
        "status": facts.status,
        "received_at": facts.received_at,
        "legal_due_on": deadline.due_on,
        "target_due_on": target_date(deadline.due_on, rt.settings.target_days_before, rt.calendar),
        "period_days": deadline.period_days,
        "deadline_unconfirmed": deadline.beyond_calendar,
        "parent_id": facts.parent_id,
        "version": 1,
        "access_code_hash": facts.access_code_hash,
        "items": list(facts.items),
        "access_scope": facts.access_scope,
        "automated_decision": facts.automated_decision
        or (automated.UNKNOWN if automated.is_automated_type(facts.type) else None),
        "delivery": facts.delivery,
        "notify_by": facts.notify_by,
        "details_enc": facts.details_enc,
        "correction_enc": facts.correction_enc,
        "transmission_to": facts.transmission_to,
        "transmission_enc": facts.transmission_enc,
        "created_at": now,
        "updated_at": now,
    }


def filed_event(
    filing: NewFiling,
    deadline: Deadline,
    status: Status,
    *,
    actor: str,
    at: datetime,
    **data: Any,
) -> TransitionEvent:
    """The first timeline entry, the same for every channel: how the request came in and how
    its deadline was counted."""
    explain = [{"date": s.date.isoformat(), "note": s.note} for s in deadline.explain]
    return TransitionEvent(
        kind="filed",
        from_status="",
        to_status=status,
        actor=actor,
        at=at,
        data={
            "channel": filing.channel,
            **data,
            "received_at": filing.received_at.isoformat(),
            "legal_deadline": deadline.due_on.isoformat(),
            "deadline_unconfirmed": deadline.beyond_calendar,
            "explain": explain,
        },
    )


def party_values(vault: Vault, person: PersonFacts) -> dict[str, Any]:
    """A party row without its request id: every field encrypted, contacts blind-indexed."""
    birth = person.birth_date.isoformat() if person.birth_date else None
    return {
        "role": person.role,
        "relationship": person.relationship,
        "name_enc": vault.encrypt_opt(person.name, field="party.name"),
        "birth_date_enc": vault.encrypt_opt(birth, field="party.birth_date"),
        "email_enc": vault.encrypt_opt(person.email, field="party.email"),
        "phone_enc": vault.encrypt_opt(person.phone, field="party.phone"),
        "name_bidx": vault.blind_index(person.name, field="name") if person.name else None,
        "email_bidx": vault.blind_index(person.email, field="email") if person.email else None,
        "phone_bidx": vault.blind_index(person.phone, field="phone") if person.phone else None,
    }
