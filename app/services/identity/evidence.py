"""Evidence files of a request: recorded, listed in the timeline, supplemented."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from app.errors import (
    FieldError,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from app.evidence.multipart import UploadedFile
from app.models.identity import Attachment
from app.models.request import Request
from app.runtime import Runtime
from app.services.audit.timeline import note
from app.services.identity.info_requests import _return_from_wait
from app.workflows.identity import AttachmentKind
from app.workflows.lifecycle import Status


def attach(
    session: Session,
    rt: Runtime,
    request: Request,
    files: Sequence[UploadedFile],
    kinds: Sequence[str],
    *,
    actor: str,
    task_id: int | None = None,
) -> list[Attachment]:
    """Record uploaded files (already encrypted in the evidence store) on the request, and on
    one of its tasks when they are a holder's evidence."""
    assert request.id is not None
    now = rt.clock()
    stored = []
    for f, kind in zip(files, kinds, strict=True):
        a = Attachment(
            request_id=request.id,
            **attachment_values(rt, f, kind, actor=actor, at=now, task_id=task_id),
        )
        session.add(a)
        stored.append(a)
    session.flush()
    data = attachments_note([a.model_dump() for a in stored], task_id)
    note(session, rt, request, "attachments_added", actor=actor, **data)
    return stored


def attachment_values(
    rt: Runtime, f: UploadedFile, kind: str, *, actor: str, at: datetime, task_id: int | None
) -> dict[str, Any]:
    """An attachment row without its request id."""
    return {
        "kind": kind,
        "content_type": f.content_type,
        "size": f.size,
        "sha256": f.sha256,
        "blob_key": f.blob_key,
        "filename_enc": rt.vault.encrypt_opt(f.filename, field="attachment.filename"),
        "uploaded_by": actor,
        "uploaded_at": at,
        "task_id": task_id,
    }


def attachments_note(stored: Sequence[Mapping[str, Any]], task_id: int | None) -> dict[str, Any]:
    """The timeline entry's data for files just recorded (no names: they can be personal)."""
    return {
        **({"task_id": task_id} if task_id else {}),
        "attachments": [{k: a[k] for k in ("id", "kind", "content_type", "size")} for a in stored],
    }


def attachment_kinds(raw: Sequence[str], count: int) -> list[str]:
    """The parallel `attachment_kinds` form field: the n-th kind belongs to the n-th file."""
    if len(raw) != count:
        msg = f"첨부파일 {count}개마다 종류(attachment_kinds)를 하나씩 보내 주세요."
        raise ValidationFailed(msg, errors=[FieldError("attachment_kinds", "count_mismatch", msg)])
    allowed = {k.value for k in AttachmentKind}
    for i, kind in enumerate(raw):
        if kind not in allowed:
            msg = "첨부파일 종류는 " + ", ".join(sorted(allowed)) + " 중 하나여야 합니다."
            raise ValidationFailed(
                msg,
                errors=[
                    FieldError(
                        f"attachment_kinds.{i}", "invalid_choice", msg, tuple(sorted(allowed))
                    )
                ],
            )
    return list(raw)


# While identity is pending, a 보완 요청 is open or staff review: the requester may add files.
SUPPLEMENT_STATUSES = frozenset(
    {Status.IDENTITY_PENDING, Status.AWAITING_REQUESTER, Status.IN_REVIEW}
)


def accepts_supplement(status: str) -> bool:
    """Whether the requester may send more documents now (the API's rule, the web form's)."""
    return status in SUPPLEMENT_STATUSES


def supplement(
    session: Session,
    rt: Runtime,
    request: Request,
    files: Sequence[UploadedFile],
    kinds: Sequence[str],
) -> None:
    """The requester sends more evidence; that answers a 보완 요청 too."""
    session.refresh(request, with_for_update=True)  # queue behind staff writes
    if not accepts_supplement(request.status):
        raise InvalidTransition("이 단계에서는 서류를 추가로 제출할 수 없습니다.")
    attach(session, rt, request, files, kinds, actor="requester")
    _return_from_wait(session, rt, request)


def attachment_of(session: Session, request: Request, attachment_id: int) -> Attachment:
    """One of the request's files, to hand to staff; 404 for another request's or a purged one."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.request_id != request.id:
        raise NotFound("첨부파일을 찾을 수 없습니다.")
    if request.purged_at is not None:
        raise NotFound("보존 기간이 지나 파기된 파일입니다.")
    return attachment
