"""One request's page in the staff console: what the API's detail shows, its tasks, and what
the forms on the page may offer, all from the same services and tables the API uses.

The forms offer only what the rules allow for this request: the outcomes of its type, the
grounds of refusal that apply to it (the grounds table, public-institution grounds only for a
public institution), the service's items as checkboxes, and the statutory retention rules whose
record dates a deletion or withdrawal must state (art. 21(1), 36(1) proviso).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.models.request import Event
from app.models.request import Request as DbRequest
from app.models.request_api import StaffRequestDetail
from app.models.staff import Staff
from app.models.vocab import DecisionState
from app.runtime import Runtime
from app.services import closing
from app.services.access import package
from app.services.access.extracts import extract_tasks
from app.services.closing import _parent
from app.services.requests.detail import get_detail, log_access, request_by_reference
from app.services.tasks import execution as tasks
from app.services.tasks import views as task_views
from app.workflows import automated as ad_rules
from app.workflows import decisions as decision_rules
from app.workflows import tasks as task_rules
from app.workflows.grounds import GROUNDS, grounds_for
from app.workflows.identity import IdentityMethod
from app.workflows.lifecycle import Outcome
from app.workflows.retention import consent_items, missing_record_dates

# Deletion and consent withdrawal keep what a statute keeps: their drafts name record dates.
_PLANNED = frozenset({"deletion", "consent_withdrawal"})


@dataclass(frozen=True)
class Choice:
    code: str
    label: str


@dataclass(frozen=True)
class RecordRule:
    code: str
    name: str
    period: str
    items: list[str]


@dataclass(frozen=True)
class TaskForm:
    """A task's completion form: for each instruction, the action it asks for and the methods
    that count as doing it (표준 개인정보 보호지침 art. 10 for deletion)."""

    instruction: str
    label: str
    action: str
    methods: list[Choice]


@dataclass
class DecisionForm:
    outcomes: list[str]
    grounds: list[Choice]
    items: list[Choice]
    record_rules: list[RecordRule]
    automated: bool
    transmission: bool
    correction: bool
    access: bool


@dataclass
class RequestPage:
    detail: StaffRequestDetail
    tasks: list[dict[str, Any]]
    task_forms: dict[int, list[TaskForm]]
    decision_form: DecisionForm
    staff_names: dict[int, str]
    identity_methods: list[str]
    last_seq: int
    extra: dict[str, Any] = field(default_factory=dict)


def read_page(
    session: Session, rt: Runtime, reference: str, staff: Staff, client_ip: str | None
) -> RequestPage:
    """Everything the page shows; the detail and the task list are access-logged as the API's
    reads are (with the purpose the staff member stated for this view)."""
    detail = get_detail(session, rt, reference, staff, client_ip)
    request = request_by_reference(session, reference)
    log_access(session, rt, request, staff, "view_tasks", client_ip)
    found = tasks.tasks_of(session, request)
    files = task_views.evidence_of(session, [t.id for t in found])
    extra: dict[str, Any] = {
        "automated_decisions": [(a.code, a.name) for a in rt.policy.automated_decisions],
        "sent_back": sent_back(session, rt, request),
        "ground_articles": {code: g.article for code, g in GROUNDS.items()},
    }
    if request.type == "access":
        log_access(session, rt, request, staff, "view_access_package", client_ip)
        extra["package"] = package.manifest(session, rt, request)
        extra["extract_holders"] = [
            (t.holder_code, t.holder_name)
            for t in extract_tasks(session, request)
            if t.status not in task_rules.SETTLED  # an extract still to come
        ]
    task_list = [
        task_views.task_view(session, rt, request, t, files.get(t.id or 0, [])) for t in found
    ]
    return RequestPage(
        detail=detail,
        tasks=task_list,
        task_forms={t["id"]: task_form(t["instructions"]) for t in task_list},
        decision_form=decision_form(session, rt, request),
        staff_names=staff_names(session),
        identity_methods=[m.value for m in IdentityMethod],
        last_seq=max((e.seq for e in detail.events), default=0),
        extra=extra,
    )


def task_form(instructions: list[dict[str, str]]) -> list[TaskForm]:
    out: list[TaskForm] = []
    for code in dict.fromkeys(i["instruction"] for i in instructions):
        instruction = task_rules.Instruction(code)
        action = task_rules.ACTION_FOR[instruction]
        methods = [
            Choice(m.value, task_rules.METHOD_LABELS_KO[m])
            for m in task_rules.Method
            if m in task_rules.METHODS_FOR[action]
        ]
        out.append(
            TaskForm(code, task_rules.INSTRUCTION_LABELS_KO[instruction], action.value, methods)
        )
    return out


def decision_form(session: Session, rt: Runtime, request: DbRequest) -> DecisionForm:
    parent = _parent(session, request)
    ground_type = parent.type if parent is not None else request.type
    public = rt.policy.controller.public_institution
    allowed = decision_rules.OUTCOMES_BY_TYPE.get(request.type, frozenset(Outcome))
    service = rt.policy.service(request.service)
    items: list[Choice] = []
    rules: list[RecordRule] = []
    if service is not None:
        asked = request.items or [i.code for i in service.items]
        items = [Choice(i.code, i.name) for i in service.items if i.code in asked]
        if request.type in _PLANNED:
            planned = asked
            if request.type == "consent_withdrawal":
                planned = [i for i in asked if i in consent_items(service)]
            for code, held in missing_record_dates(planned, service, rt.policy, {}).items():
                rule = rt.policy.retention_rule(code)
                assert rule is not None
                rules.append(RecordRule(code, rule.name, rule.period, held))
    automated = ad_rules.is_automated_type(request.type)
    named = rt.policy.automated_decision(request.automated_decision or "")
    if automated and named is not None and service is not None:
        # Decree art. 44-3(2): the data types the decision uses, from the published decision.
        names = {i.code: i.name for i in service.items}
        items = [Choice(code, names.get(code, code)) for code in named.items]
    return DecisionForm(
        outcomes=[o.value for o in Outcome if o in allowed],
        grounds=[
            Choice(g.code, f"{g.article}: {g.text_ko}")
            for g in grounds_for(ground_type, public_institution=public)
        ],
        items=items,
        record_rules=rules,
        automated=automated,
        transmission=request.type == "transmission",
        correction=request.type == "correction",
        access=request.type == "access",
    )


def sent_back(session: Session, rt: Runtime, request: DbRequest) -> dict[str, Any] | None:
    """The officer's note on a draft sent back, for whoever drafts the next one (the API's
    detail shows no decision once a draft is sent back)."""
    latest = closing.latest_decision(session, request)
    if latest is None or latest.state != DecisionState.SENT_BACK:
        return None
    return {
        "by": latest.approved_by,
        "note": rt.vault.decrypt_opt(latest.approval_note_enc, field="decision.approval_note"),
    }


def staff_names(session: Session) -> dict[int, str]:
    return {s.id: s.name for s in session.exec(select(Staff)) if s.id is not None}


def changes_after(session: Session, reference: str, opened_at: str) -> list[Event]:
    """What happened to a request after a page was read (`opened_at`, ISO 8601, as the page
    wrote it); nothing when the time is missing or malformed."""
    try:
        when = datetime.fromisoformat(opened_at)
    except ValueError:
        return []
    request = request_by_reference(session, reference)
    return list(
        session.exec(
            select(Event)
            .where(Event.request_id == request.id, col(Event.created_at) > when)
            .order_by(col(Event.seq))
        )
    )


def changes_since(session: Session, reference: str, seq: int) -> list[Event]:
    """What happened to a request after the event a stale form was based on (the timeline
    holds kinds, statuses and actors: no personal data)."""
    request = request_by_reference(session, reference)
    return list(
        session.exec(
            select(Event)
            .where(Event.request_id == request.id, col(Event.seq) > seq)
            .order_by(col(Event.seq))
        )
    )
