"""What holders and owners of tasks are told: the instruction, and one reminder when overdue.

The instruction to a holder is a personal-data transfer under the entrustment (art. 26): it
names the subject only by the identifiers that holder finds records by (the policy says which),
and it carries a signed link to confirm the task, valid TASK_LINK_DAYS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from app.models.channeltalk import ChatLink
from app.models.decision import Decision
from app.models.request import Party, Request
from app.models.staff import Staff
from app.models.task import Task
from app.models.vocab import TYPE_LABELS_KO, Status, TaskStatus
from app.policy import Holder, SourceController
from app.runtime import Runtime
from app.services.audit.timeline import note
from app.services.notices.queue import queue_internal
from app.services.notices.render import render_internal
from app.workflows.console_links import tasks_board_url
from app.workflows.deadlines import kst_date
from app.workflows.notices import date_text
from app.workflows.tasks import HOLDS_REQUEST, INSTRUCTION_LABELS_KO, Instruction

_IDENTIFIER_LABELS = {
    "name": "이름",
    "email": "전자우편",
    "phone": "휴대전화 번호",
    "birth_date": "생년월일",
    "member_id": "회원 ID",
}


# --- the signed confirmation link ---------------------------------------------------------------


def link_token(rt: Runtime, task: Task, *, now: datetime) -> str:
    """`<task id>.<expiry>.<mac>`: names one task, expires, and cannot be forged without the
    data key. It confirms nothing by itself: the page asks the holder to say what was done."""
    expires = int((now + timedelta(days=rt.settings.task_link_days)).timestamp())
    payload = f"{task.id}.{expires}"
    return f"{payload}.{_mac(rt, payload)}"


def task_id_from_token(rt: Runtime, token: str, *, now: datetime) -> int | None:
    """The task id, or None for a forged, damaged or expired token."""
    parts = token.split(".")
    if len(parts) != 3 or not all(p.isascii() for p in parts):
        return None
    task_id, expires, mac = parts
    if not hmac.compare_digest(mac, _mac(rt, f"{task_id}.{expires}")):
        return None
    if not (task_id.isdigit() and expires.isdigit()) or int(expires) < now.timestamp():
        return None
    return int(task_id)


def task_for_token(session: Session, rt: Runtime, token: str) -> tuple[Task, Request] | None:
    """The task a holder's link is for, with its request; None for a token that is not one."""
    task_id = task_id_from_token(rt, token, now=rt.clock())
    task = session.get(Task, task_id) if task_id is not None else None
    if task is None:
        return None
    request = session.get(Request, task.request_id)
    assert request is not None
    return task, request


def _mac(rt: Runtime, payload: str) -> str:
    digest = hmac.new(rt.vault.derive("task-links"), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def confirm_url(rt: Runtime, task: Task) -> str | None:
    base = rt.settings.public_base_url
    if not base:
        return None
    return f"{base.rstrip('/')}/tasks/confirm?token={link_token(rt, task, now=rt.clock())}"


# --- the instruction ---------------------------------------------------------------------------


def queue_instruction(
    session: Session, rt: Runtime, request: Request, task: Task, holder: Holder, *, actor: str
) -> None:
    """The holder's instruction says only what is asked of it: a correction carries the item
    and its current and requested values, a suspension only the stop, and never a deletion
    paragraph where nothing is to be deleted (api.md "Instructions per action")."""
    assert task.contact_email is not None
    kinds = {Instruction(e["instruction"]) for e in task.instructions}
    context = {
        **holder_context(rt, request, task),
        "delete": Instruction.DELETE in kinds,
        "separate": Instruction.SEPARATE in kinds,
        "correct": Instruction.CORRECT in kinds,
        "suspend": Instruction.SUSPEND in kinds,
        # Access (art. 35): an extract of the items, returned on the task page.
        "extract": Instruction.EXTRACT in kinds,
        # Transmission to oneself (art. 35-2(1)): the extract in a machine-readable format.
        "transmission": request.type == "transmission",
        "correction": _correction(session, rt, request, task)
        if Instruction.CORRECT in kinds
        else None,
        "identifiers": _identifiers(session, rt, request, holder),
        # Art. 35-2(2): the institution the subject named receives the items.
        "transmit": _recipient(rt, request) if Instruction.TRANSMIT in kinds else None,
        "done_words": "·".join(INSTRUCTION_LABELS_KO[k] for k in Instruction if k in kinds),
    }
    send_to_holder(session, rt, request, task, "task_instruction", context, actor=actor)


def _recipient(rt: Runtime, request: Request) -> dict[str, str] | None:
    from app.services.transmission.log import recipient_of

    return recipient_of(rt, request)


def holder_context(rt: Runtime, request: Request, task: Task) -> dict[str, Any]:
    """What every e-mail to a holder about its task says: who asks, which request, each item
    with what is asked of it, by when, and where to confirm."""
    service = rt.policy.service(request.service)
    assert service is not None
    lines = []
    for entry in task.instructions:
        item = service.item(entry["item"])
        label = INSTRUCTION_LABELS_KO[Instruction(entry["instruction"])]
        lines.append(f"{item.name if item else entry['item']}: {label}")
    return {
        "controller_name": rt.policy.controller.signed_as,
        "holder_name": task.holder_name,
        "processor": task.holder_kind == "processor",
        "reference": request.reference,
        "type_label": TYPE_LABELS_KO.get(request.type, request.type),
        "service_name": service.name,
        "instructions": lines,
        "due_text": date_text(task.due_on),
        "confirm_url": confirm_url(rt, task),
        "reply_to": team_address(rt),
    }


def send_to_holder(
    session: Session,
    rt: Runtime,
    request: Request,
    task: Task,
    template: str,
    context: dict[str, Any],
    *,
    actor: str,
    kind: str = "task_instruction",
) -> None:
    """One instruction e-mail to the holder's contact, once per task (its dedupe key), noted
    on the timeline."""
    assert task.contact_email is not None
    subject, body = render_internal(template, context)
    queue_internal(
        session,
        rt,
        request,
        kind=kind,
        to=task.contact_email,
        key=f"{request.reference}:task:{task.id}:instruction",
        subject=subject,
        body=body,
        audience="holder",
    )
    note(session, rt, request, "task_instruction_queued", actor=actor, task_id=task.id)


def _correction(session: Session, rt: Runtime, request: Request, task: Task) -> dict[str, str]:
    """What to correct (art. 36(2)): the item with its current and requested values as the
    subject gave them; for a correction described in words, what the decision says was decided.
    Only the items this holder holds are named."""
    service = rt.policy.service(request.service)
    assert service is not None
    v = rt.vault
    fields = json.loads(v.decrypt_opt(request.correction_enc, field="request.correction") or "{}")
    mine = [e["item"] for e in task.instructions if e["instruction"] == Instruction.CORRECT]
    names = [item.name if (item := service.item(code)) else code for code in mine]
    result = {"items": ", ".join(names), "current": "", "requested": "", "changes": ""}
    named = fields.get("item")
    # The subject's item is a catalog code this holder holds, or words the catalog cannot map
    # (then the staff named the items, and the values still say what to write).
    if fields.get("requested_value") and (named in mine or service.item(named or "") is None):
        result["current"] = fields.get("current_value") or ""
        result["requested"] = fields["requested_value"]
        return result
    decision = session.get(Decision, task.decision_id)
    changes = v.decrypt_opt(decision.changes_enc, field="decision.changes") if decision else None
    result["changes"] = changes or ""
    return result


def _identifiers(
    session: Session, rt: Runtime, request: Request, holder: Holder | SourceController
) -> list[tuple[str, str]]:
    """Only what this holder needs to find the records (data minimisation, art. 3(1))."""
    v = rt.vault
    subject = session.exec(
        select(Party).where(Party.request_id == request.id, Party.role == "subject")
    ).one()
    values = {
        "name": v.decrypt_opt(subject.name_enc, field="party.name"),
        "email": v.decrypt_opt(subject.email_enc, field="party.email"),
        "phone": v.decrypt_opt(subject.phone_enc, field="party.phone"),
        "birth_date": v.decrypt_opt(subject.birth_date_enc, field="party.birth_date"),
    }
    link = session.exec(select(ChatLink).where(ChatLink.request_id == request.id)).first()
    if link is not None:
        values["member_id"] = v.decrypt_opt(link.member_id_enc, field="chat_link.member_id")
    return [
        (_IDENTIFIER_LABELS[key], value) for key in holder.identifiers if (value := values.get(key))
    ]


def identifiers_for(
    session: Session, rt: Runtime, request: Request, holder: Holder | SourceController
) -> list[tuple[str, str]]:
    return _identifiers(session, rt, request, holder)


def team_address(rt: Runtime) -> str | None:
    """Where the team is reached: TEAM_EMAIL, else the policy's intake contact."""
    return rt.settings.team_email or _team_email(rt)


def _team_email(rt: Runtime) -> str | None:
    contact = rt.policy.contact(rt.policy.rights.intake_contact)
    return contact.email if contact else None


# --- one reminder when a task is overdue ---------------------------------------------------------


def remind_overdue(rt: Runtime) -> int:
    """Each open task past its due date reminds its owner once: the assignee, else the holder's
    contact, else the team. Returns how many reminders were queued."""
    from app.db import transaction

    today = kst_date(rt.clock())
    queued = 0
    with transaction(rt.engine) as session:
        overdue = session.exec(
            select(Task)
            .join(Request, col(Request.id) == col(Task.request_id))
            .where(
                # Retention ends and 37(5) follow-ups are owed after the request completed.
                or_(Request.status == Status.EXECUTING, col(Task.kind).notin_(HOLDS_REQUEST)),
                col(Task.status).in_((TaskStatus.OPEN, TaskStatus.FAILED)),
                col(Task.due_on) < today,
                col(Task.reminded_at).is_(None),
            )
            .order_by(col(Task.id))
            .limit(500)
        ).all()
        for task in overdue:
            request = session.get(Request, task.request_id)
            assert request is not None
            to = _owner_address(session, rt, task)
            if to is not None:
                _queue_reminder(
                    session, rt, request, task, to, days_over=(today - task.due_on).days
                )
                queued += 1
            task.reminded_at = rt.clock()
    return queued


def _owner_address(session: Session, rt: Runtime, task: Task) -> str | None:
    if task.assignee_id is not None:
        staff = session.get(Staff, task.assignee_id)
        if staff is not None and staff.email:
            return staff.email
    return task.contact_email or rt.settings.team_email or _team_email(rt)


def _queue_reminder(
    session: Session, rt: Runtime, request: Request, task: Task, to: str, *, days_over: int
) -> None:
    context = {
        "reference": request.reference,
        "holder_name": task.holder_name,
        "due_text": date_text(task.due_on),
        # A retention end or a 37(5) follow-up runs after the request's own deadline.
        "legal_due_text": date_text(request.legal_due_on) if task.kind in HOLDS_REQUEST else None,
        "days_over": days_over,
        "confirm_url": confirm_url(rt, task) if task.contact_email == to else None,
        "link": f"직원 콘솔 작업 목록: {tasks_board_url(rt.settings.public_base_url)}",
    }
    subject, body = render_internal("task_overdue", context)
    queue_internal(
        session,
        rt,
        request,
        kind="task_overdue",
        to=to,
        key=f"{request.reference}:task:{task.id}:overdue",
        subject=subject,
        body=body,
    )
    note(session, rt, request, "task_reminder_queued", actor="sla", task_id=task.id)
