"""The holders' extracts of the subject's data: uploaded by the holder on its signed task
page or by staff for a holder, stored encrypted as attachments of kind `access_extract` on the
holder's task. The upload is the task's evidence: it completes the task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.errors import BusinessRuleViolation, FieldError, InvalidTransition, ValidationFailed
from app.evidence.multipart import UploadedFile, UploadLimits
from app.evidence.sniff import EXTENSIONS, EXTRACT_LABEL, sniff_extract
from app.models.access import EXTRACT_KIND, AccessPackage
from app.models.identity import Attachment
from app.models.request import Request
from app.models.task import Task
from app.models.vocab import Status, TaskStatus
from app.runtime import Runtime
from app.services.identity.evidence import attach
from app.services.tasks import execution as tasks
from app.workflows import tasks as rules
from app.workflows.access_package import zip_entry_name
from app.workflows.transmission import check_machine_readable, uses_package

FILES_FIELD = "files"
HOLDERS_FIELD = "holders"


def extract_limits(rt: Runtime) -> UploadLimits:
    """An extract may be larger than evidence, and of more types (PDF … XLSX)."""
    s = rt.settings
    return UploadLimits(
        max_file_bytes=s.access_extract_max_bytes,
        max_files=s.max_attachments,
        max_field_bytes=s.max_body_bytes,
        max_parts=s.max_form_parts,
        sniff=sniff_extract,
        accepted_label=EXTRACT_LABEL,
        files_field=FILES_FIELD,
    )


def extract_tasks(session: Session, request: Request) -> list[Task]:
    return [
        t
        for t in tasks.tasks_of(session, request)
        if rules.needs_extract(i["instruction"] for i in t.instructions)
    ]


def check_open_for_extracts(session: Session, request: Request) -> None:
    """Extracts go in while the request executes and the package is not yet released."""
    if (
        not uses_package(request.type, request.transmission_to)
        or request.status != Status.EXECUTING
    ):
        raise InvalidTransition("열람 자료는 열람을 인용한 뒤 제공 전까지만 올릴 수 있습니다.")
    package = session.exec(
        select(AccessPackage).where(AccessPackage.request_id == request.id)
    ).first()
    if package is not None and package.released_at is not None:
        raise InvalidTransition("이미 제공한 열람 자료에는 파일을 더할 수 없습니다.")


def holder_tasks(
    session: Session, request: Request, holders: Sequence[str], count: int
) -> list[Task]:
    """The task of each named holder, in the files' order (the parallel `holders` field)."""
    if len(holders) != count:
        msg = f"파일 {count}개마다 보유처 코드(holders)를 하나씩 보내 주세요."
        raise ValidationFailed(msg, errors=[FieldError(HOLDERS_FIELD, "count_mismatch", msg)])
    by_code = {t.holder_code: t for t in extract_tasks(session, request)}
    found = []
    for i, code in enumerate(holders):
        task = by_code.get(code.strip())
        if task is None:
            allowed = ", ".join(sorted(by_code)) or "없음"
            raise BusinessRuleViolation(
                "unknown_holder",
                f"{HOLDERS_FIELD}.{i}",
                f"이 요청에서 열람 자료를 낼 보유처가 아닙니다(보유처: {allowed}).",
            )
        found.append(task)
    return found


def add_extracts(
    session: Session,
    rt: Runtime,
    request: Request,
    files: Sequence[UploadedFile],
    task_list: Sequence[Task],
    *,
    actor: str,
) -> None:
    """Record each file on its holder's task; an open (or failed) task is then done."""
    check_open_for_extracts(session, request)
    formats = [EXTENSIONS.get(f.content_type, "bin") for f in files]
    check_machine_readable(request.type, formats, field=FILES_FIELD)
    for f, task in zip(files, task_list, strict=True):
        if task.status == TaskStatus.WAIVED:
            raise InvalidTransition(f"'{task.holder_name}' 작업은 면제되어 파일을 받지 않습니다.")
        attach(session, rt, request, [f], [EXTRACT_KIND], actor=actor, task_id=task.id)
    for task in {t.id: t for t in task_list}.values():  # each task once, in order
        if task.status == TaskStatus.FAILED:
            tasks.reopen(session, rt, request, task, actor=actor)
        if task.status == TaskStatus.OPEN:
            completion = tasks.Completion(
                rules.EXTRACT_PERFORMED, None, None, by=actor, extract_file=True
            )
            tasks.complete(session, rt, request, task, completion)


@dataclass(frozen=True)
class ExtractFile:
    attachment: Attachment
    holder_code: str
    holder_name: str
    name: str  # its name in the ZIP


def extract_files(session: Session, rt: Runtime, request: Request) -> list[ExtractFile]:
    """Every extract of the request with its name in the package, by holder then upload."""
    rows = session.exec(
        select(Attachment, Task)
        .join(Task, col(Task.id) == col(Attachment.task_id))
        .where(Attachment.request_id == request.id, Attachment.kind == EXTRACT_KIND)
        .order_by(col(Task.id), col(Attachment.id))
    ).all()
    out: list[ExtractFile] = []
    counts: dict[str, int] = {}
    for a, task in rows:
        counts[task.holder_code] = counts.get(task.holder_code, 0) + 1
        filename = rt.vault.decrypt_opt(a.filename_enc, field="attachment.filename")
        ext = EXTENSIONS.get(a.content_type, "bin")
        name = zip_entry_name(task.holder_code, counts[task.holder_code], filename, ext)
        out.append(ExtractFile(a, task.holder_code, task.holder_name, name))
    return out
