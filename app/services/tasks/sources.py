"""Decree art. 43(2): items received from another controller (the policy names the source of
each such item). A granted correction or deletion of them opens one `notify_source` task per
source, when the holders' tasks open (the notice says the action is planned, not done): an
e-mail tells the source what will be corrected or deleted, which items, the new value of its
own item only, and only what it needs to find the records; its signed link lets the source
confirm, or staff complete the task with the source's answer as evidence. The request
closes once every source is reached.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from app.models.decision import Decision
from app.models.request import Request
from app.models.task import Task
from app.models.vocab import TaskKind
from app.policy import SourceController
from app.runtime import Runtime
from app.services.audit.timeline import note
from app.services.tasks.links import holder_context, identifiers_for, send_to_holder
from app.workflows import tasks as rules

SOURCE_KIND = "source"  # Task.holder_kind of a source's task


def open_source_notices(
    session: Session,
    rt: Runtime,
    request: Request,
    d: Decision,
    acted: Sequence[str],
    *,
    due_on: Any,
    actor: str,
) -> list[Task]:
    """One task per source of the corrected or deleted items, each told by e-mail when the
    policy gives its address (otherwise staff reach it by phone and record the answer)."""
    service = rt.policy.service(request.service)
    assert service is not None and request.id is not None and d.id is not None
    plans = rules.plan_source_notices(request.type, acted_on=acted, items=service.items)
    now = rt.clock()
    created: list[tuple[Task, SourceController]] = []
    for plan in plans:
        source = rt.policy.source_controller(plan.source_code)
        assert source is not None  # the policy checks every item's source exists
        task = Task(
            request_id=request.id,
            decision_id=d.id,
            kind=TaskKind.NOTIFY_SOURCE,
            holder_code=source.code,
            holder_kind=SOURCE_KIND,
            holder_name=source.name,
            contact_email=source.email,
            instructions=[{"item": i, "instruction": ins.value} for i, ins in plan.instructions],
            due_on=due_on,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        created.append((task, source))
    session.flush()
    if not created:
        return []
    note(
        session,
        rt,
        request,
        "source_notice_opened",
        actor=actor,
        tasks=[t.id for t, _ in created],
        sources=[s.code for _, s in created],
    )
    for task, source in created:
        if task.contact_email:
            context = source_context(session, rt, request, task, source)
            send_to_holder(
                session, rt, request, task, "source_notice", context, actor=actor,
                kind="source_notice",
            )  # fmt: skip
    return [t for t, _ in created]


def source_context(
    session: Session, rt: Runtime, request: Request, task: Task, source: SourceController
) -> dict[str, Any]:
    """What the source reads: the request's reference, the items it provided that were
    to be corrected or deleted, the corrected value of its own item for a correction (the
    source keeps the same data), and the identifiers the policy says it finds records by;
    nothing else."""
    service = rt.policy.service(request.service)
    assert service is not None
    codes = [i["item"] for i in task.instructions]
    return {
        **holder_context(rt, request, task),
        "source_name": source.name,
        "received_how": source.received_how,
        "item_names": [item.name if (item := service.item(c)) else c for c in codes],
        "is_correction": request.type == "correction",
        "correction": _correction(rt, request, codes),
        "identifiers": identifiers_for(session, rt, request, source),
    }


def _correction(rt: Runtime, request: Request, codes: Sequence[str]) -> str | None:
    """The new value of the corrected item when the subject named it among the source's own
    items; else None (the notice then says the security team gives the value). Never the
    decision's free text: it can carry other items' values, which the source must not get."""
    if request.type != "correction":
        return None
    v = rt.vault
    fields = json.loads(v.decrypt_opt(request.correction_enc, field="request.correction") or "{}")
    if fields.get("requested_value") and fields.get("item") in codes:
        service = rt.policy.service(request.service)
        item = service.item(fields["item"]) if service else None
        name = item.name if item else fields["item"]
        return f"{name}: {fields['requested_value']} (정정 후 값)"
    return None


def source_answered(
    session: Session, rt: Runtime, request: Request, task: Task, *, actor: str
) -> None:
    """The result of the notification follows up on the timeline: how the source answered."""
    note(
        session,
        rt,
        request,
        "source_notice_result",
        actor=actor,
        task_id=task.id,
        source=task.holder_code,
        status=task.status,
        performed=task.performed or [],
    )
