"""Reading a filing: a JSON body, or multipart with a JSON part `request` and evidence files.

Files stream into the encrypted evidence store while the body arrives; if anything after
that fails, they are deleted again, so a refused filing leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from app.errors import (
    FieldError,
    UnsupportedMediaType,
    ValidationFailed,
    failed_fields,
    validation_failed,
)
from app.evidence.multipart import UploadedFile, UploadLimits, read_upload
from app.runtime import Runtime
from app.services.identity.evidence import attachment_kinds
from app.workflows.intake import catalog_errors

M = TypeVar("M", bound=BaseModel)


@dataclass
class StoredFiles:
    files: list[UploadedFile] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    def discard(self, rt: Runtime) -> None:
        for f in self.files:
            rt.evidence.delete(f.blob_key)

    @contextmanager
    def discard_on_error(self, rt: Runtime) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.discard(rt)
            raise


@dataclass
class FilingBody(StoredFiles, Generic[M]):
    payload_or_none: M | None = None

    @property
    def payload(self) -> M:
        assert self.payload_or_none is not None  # set by read_filing_body before returning
        return self.payload_or_none


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def upload_limits(rt: Runtime, *, accept_files: bool = True) -> UploadLimits:
    s = rt.settings
    return UploadLimits(
        max_file_bytes=s.max_attachment_bytes,
        max_files=s.max_attachments,
        max_field_bytes=s.max_body_bytes,
        max_parts=s.max_form_parts,
        accept_files=accept_files,
    )


def filing_checks(request: Request, body: dict[str, Any], skip: frozenset[str]) -> list[FieldError]:
    """A filing's catalog rules (service, items), answered with its validation errors."""
    policy = request.app.state.runtime.policy
    return catalog_errors(body, skip, services=policy.service_codes(), item_codes=policy.item_codes)


def _parse(model: type[M], raw: str | bytes, request: Request) -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        more: list[FieldError] = []
        with contextlib.suppress(ValueError):
            body = json.loads(raw)
            if isinstance(body, dict):
                more = filing_checks(request, body, failed_fields(exc.errors()))
        raise validation_failed(exc.errors(), more) from None


async def read_filing_body(request: Request, rt: Runtime, model: type[M]) -> FilingBody[M]:
    media = _media(request)
    if media == "application/json" or media.endswith("+json"):
        return FilingBody(payload_or_none=_parse(model, await request.body(), request))
    if media != "multipart/form-data":
        raise UnsupportedMediaType(
            "본문은 application/json 또는 multipart/form-data 이어야 합니다."
        )
    upload = await read_upload(request, rt.evidence, upload_limits(rt))
    body: FilingBody[M] = FilingBody(files=upload.files)
    with body.discard_on_error(rt):
        parts = upload.fields.get("request", [])
        if len(parts) != 1:
            msg = "신청 내용은 'request' 라는 이름의 JSON 파트 하나로 보내 주세요."
            raise ValidationFailed(msg, errors=[FieldError("request", "required", msg)])
        body.payload_or_none = _parse(model, parts[0], request)
        body.kinds = attachment_kinds(upload.fields.get("attachment_kinds", []), len(upload.files))
    return body


async def read_files(request: Request, rt: Runtime) -> tuple[StoredFiles, dict[str, list[str]]]:
    """At least one file in `attachments` (multipart), stored encrypted; and the text fields."""
    if _media(request) != "multipart/form-data":
        raise UnsupportedMediaType("서류는 multipart/form-data 로 보내 주세요.")
    upload = await read_upload(request, rt.evidence, upload_limits(rt))
    stored = StoredFiles(files=upload.files)
    if not upload.files:
        msg = "제출할 파일(attachments)이 없습니다."
        raise ValidationFailed(msg, errors=[FieldError("attachments", "required", msg)])
    return stored, upload.fields


async def read_supplement(request: Request, rt: Runtime) -> StoredFiles:
    stored, fields = await read_files(request, rt)
    with stored.discard_on_error(rt):
        stored.kinds = attachment_kinds(fields.get("attachment_kinds", []), len(stored.files))
    return stored


# /docs: the two ways to send a filing (the JSON schema is registered in app.core.apidocs).
FILING_BODY_DOCS = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/RequestCreate"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["request"],
                    "properties": {
                        "request": {
                            "type": "string",
                            "description": "RequestCreate as JSON text",
                        },
                        "attachments": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "PDF, JPEG or PNG files",
                        },
                        "attachment_kinds": {
                            "type": "array",
                            "items": {
                                "type": "string",
                                "enum": [
                                    "identity_document",
                                    "power_of_attorney",
                                    "proof_of_representation",
                                    "correction_evidence",
                                    "other",
                                ],
                            },
                            "description": "one kind per file, in the files' order",
                        },
                    },
                }
            },
        },
    }
}
