"""The page a holder (a processor or an internal team) confirms its task on, from the signed
link in its instruction e-mail. GET only shows; the POST (with the token in the body and the
CSRF double submit) records what was done, so a mail scanner that follows links confirms
nothing. An access grant's task asks for an extract instead: the page takes the file
(POST /tasks/extract, multipart), and the upload is what completes the task."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from app.core.limits import accepts_files
from app.deps import RuntimeDep, SessionDep
from app.errors import DomainError, FieldError, ValidationFailed, check_text
from app.evidence.multipart import read_upload
from app.evidence.sniff import EXTRACT_LABEL
from app.models.request import Request as DbRequest
from app.models.task import Task
from app.models.vocab import TYPE_LABELS_KO
from app.routers.filing_body import StoredFiles
from app.routers.web import CsrfRefused, forbidden, page
from app.runtime import Runtime
from app.services.access import extracts
from app.services.requests.detail import request_by_reference
from app.services.tasks import execution as tasks
from app.services.tasks.links import task_for_token
from app.services.tasks.sources import SOURCE_KIND
from app.services.transmission.log import recipient_of
from app.web import csrf
from app.workflows.tasks import (
    ACTION_FOR,
    ACTION_LABELS_KO,
    METHOD_LABELS_KO,
    METHODS_FOR,
    Instruction,
    Method,
    Performed,
    needs_extract,
)
from app.workflows.transmission import MACHINE_READABLE_LABEL
from app.workflows.transmission import TYPE as TRANSMISSION

router = APIRouter(include_in_schema=False)


def _choices(task: Task) -> list[dict[str, object]]:
    """One question per kind of action asked: how was it done?"""
    actions = sorted({ACTION_FOR[Instruction(i["instruction"])] for i in task.instructions})
    return [
        {
            "action": a.value,
            "label": ACTION_LABELS_KO[a],
            "methods": [(m.value, METHOD_LABELS_KO[m]) for m in sorted(METHODS_FOR[a])],
        }
        for a in actions
    ]


def _show(
    request: Request,
    rt: Runtime,
    found: tuple[Task, DbRequest] | None,
    token: str,
    error: str | None = None,
) -> HTMLResponse:
    if found is None:
        return page(request, "task_confirm.html", status=404, invalid=True)
    task, req = found
    service = rt.policy.service(req.service)
    items = [
        (item.name if (item := service.item(i["item"])) else i["item"]) if service else i["item"]
        for i in task.instructions
    ]
    return page(
        request,
        "task_confirm.html",
        status=422 if error else 200,
        task=task,
        reference=req.reference,
        items=items,
        choices=_choices(task),
        extract=needs_extract(i["instruction"] for i in task.instructions),
        accepted=MACHINE_READABLE_LABEL if req.type == TRANSMISSION else EXTRACT_LABEL,
        max_mb=rt.settings.access_extract_max_bytes // (1024 * 1024),
        token=token,
        error=error,
        controller_name=rt.policy.controller.signed_as,
        # Decree art. 43(2): the controller the items came from confirms the notification.
        source=task.holder_kind == SOURCE_KIND,
        type_label=TYPE_LABELS_KO.get(req.type, req.type),
        type_code=req.type,
        # Art. 35-2(2): the institution a transmit task sends to.
        recipient=recipient_of(rt, req),
    )


@router.get("/tasks/confirm", response_class=HTMLResponse)
async def confirm_page(
    request: Request, session: SessionDep, rt: RuntimeDep, token: str = ""
) -> HTMLResponse:
    found = await run_in_threadpool(task_for_token, session, rt, token)
    return _show(request, rt, found, token)


@router.post("/tasks/confirm", response_class=HTMLResponse)
async def confirm(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    raw = (await request.body()).decode("utf-8", "replace")
    fields = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    if not csrf.valid(request, fields.get(csrf.FIELD)):
        return forbidden(request)
    token = fields.get("token", "")
    found = await run_in_threadpool(task_for_token, session, rt, token)
    if found is None or found[0].status != "open":
        return _show(request, rt, found, token)
    try:
        await run_in_threadpool(_record, session, rt, found, fields)
    except DomainError as exc:
        return _show(request, rt, found, token, error=exc.detail)
    return page(
        request,
        "task_confirm.html",
        done=True,
        reference=found[1].reference,
        holder_name=found[0].holder_name,
        source=found[0].holder_kind == SOURCE_KIND,
    )


def _record(
    session: Session, rt: Runtime, found: tuple[Task, DbRequest], fields: dict[str, str]
) -> None:
    task, req = found
    request = request_by_reference(session, req.reference, for_update=True)
    task = tasks.task_of(session, request, task.id or 0, lock=True)
    performed = []
    for choice in _choices(task):
        method = fields.get(f"method_{choice['action']}", "")
        if method not in {m.value for m in Method}:
            raise DomainError(f"'{choice['label']}' 조치의 방법을 골라 주세요.")
        performed.append(
            Performed(ACTION_FOR[_instruction_of(str(choice["action"]))], Method(method))
        )
    note = fields.get("note", "").strip()[:2000] or None
    if note:
        check_text(note, field="note", multiline=True)
    tasks.complete(
        session,
        rt,
        request,
        task,
        tasks.Completion(performed, note, None, by=f"holder:{task.holder_code}"),
    )


def _instruction_of(action: str) -> Instruction:
    return next(i for i, a in ACTION_FOR.items() if a.value == action)


# --- an access extract: the file is the evidence -----------------------------------------


@router.post("/tasks/extract", response_class=HTMLResponse)
@accepts_files
async def upload_extract(request: Request, session: SessionDep, rt: RuntimeDep) -> HTMLResponse:
    found: list[tuple[Task, DbRequest] | None] = [None]

    def authorized(fields: dict[str, list[str]]) -> None:
        # Before the first file byte: the CSRF token, then the signed link of an open task.
        if not csrf.valid(request, (fields.get(csrf.FIELD) or [""])[0]):
            raise CsrfRefused()
        found[0] = task_for_token(session, rt, (fields.get("token") or [""])[0])
        if found[0] is None or found[0][0].status not in ("open", "failed"):
            raise DomainError("이 링크로는 파일을 올릴 수 없습니다.")

    try:
        upload = await read_upload(
            request, rt.evidence, extracts.extract_limits(rt), before_files=authorized
        )
    except CsrfRefused:
        return forbidden(request)
    except DomainError as exc:
        token = (exc.partial_fields or {}).get("token", [""])[0]
        again = await run_in_threadpool(task_for_token, session, rt, token)
        return _show(request, rt, again, token, error=exc.detail)
    stored = StoredFiles(files=upload.files)
    token = (upload.fields.get("token") or [""])[0]
    if not csrf.valid(request, (upload.fields.get(csrf.FIELD) or [""])[0]):
        stored.discard(rt)
        return forbidden(request)
    current = found[0] or await run_in_threadpool(task_for_token, session, rt, token)
    try:
        with stored.discard_on_error(rt):
            if current is None or not stored.files:
                msg = "올릴 파일을 골라 주세요."
                raise ValidationFailed(msg, errors=[FieldError("files", "required", msg)])
            await run_in_threadpool(_record_extract, session, rt, current, stored)
    except DomainError as exc:
        return _show(request, rt, current, token, error=exc.detail)
    task, req = current
    return page(
        request,
        "task_confirm.html",
        done=True,
        extract_done=True,
        reference=req.reference,
        holder_name=task.holder_name,
    )


def _record_extract(
    session: Session, rt: Runtime, found: tuple[Task, DbRequest], stored: StoredFiles
) -> None:
    task, req = found
    request = request_by_reference(session, req.reference, for_update=True)
    task = tasks.task_of(session, request, task.id or 0, lock=True)
    if not needs_extract(i["instruction"] for i in task.instructions):
        raise DomainError("이 작업은 파일이 아니라 조치 결과를 확인하는 작업입니다.")
    task_list = [task] * len(stored.files)
    actor = f"holder:{task.holder_code}"
    extracts.add_extracts(session, rt, request, stored.files, task_list, actor=actor)
