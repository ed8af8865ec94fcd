"""The access package over HTTP: holders' extracts uploaded by staff, the manifest, the
release, access given in person or by mail, and the requester's download (api.md "Access
package")."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.core.limits import accepts_files
from app.deps import (
    AccessCode,
    CaseHandler,
    CaseWrite,
    HandlerDep,
    IfMatch,
    RuntimeDep,
    SessionDep,
    StaffWrite,
    request_for_write,
)
from app.errors import FieldError, ValidationFailed
from app.evidence.multipart import read_upload
from app.models.bounds import Instant
from app.routers.common import client_ip, problem_responses
from app.routers.filing_body import StoredFiles
from app.services.access import extracts, package
from app.services.access.download import Download, download
from app.services.requests.detail import log_access, request_by_reference
from app.services.requests.requester import authorize_requester
from app.textsafety import MultiLine

router = APIRouter(tags=["access package"], responses=problem_responses(401, 403, 404, 422))
_STAFF = "/v1/staff/requests/{reference}"


class PackageFile(BaseModel):
    holder: str
    name: str
    size: int
    sha256: str


class PackageDownload(BaseModel):
    at: datetime
    via: str


class Manifest(BaseModel):
    status: str = Field(description="assembling | released | expired")
    files: list[PackageFile]
    released_at: datetime | None
    expires_at: datetime | None
    downloads: list[PackageDownload]


class ProvidedIn(BaseModel):
    at: Instant
    note: MultiLine | None = Field(default=None, max_length=2000)


def _manifest(w: StaffWrite) -> Manifest:
    w.etag()
    return Manifest.model_validate(package.manifest(w.session, w.rt, w.req))


@router.get(f"{_STAFF}/access-package", response_model=Manifest, summary="열람 자료 목록")
def read_manifest(
    reference: str,
    staff: CaseHandler,
    session: SessionDep,
    rt: RuntimeDep,
    http: Request,
    response: Response,
) -> Manifest:
    request = request_by_reference(session, reference)
    log_access(session, rt, request, staff, "view_access_package", client_ip(http))
    response.headers["ETag"] = f'"{request.version}"'
    response.headers["Cache-Control"] = "no-store"
    return Manifest.model_validate(package.manifest(session, rt, request))


@router.post(
    f"{_STAFF}/access-package/files",
    response_model=Manifest,
    responses=problem_responses(409, 412, 413, 415, 428),
    summary="보유처의 열람 자료(추출 파일) 올리기",
)
@accepts_files
async def upload_files(
    reference: str,
    staff: HandlerDep,
    version: IfMatch,
    session: SessionDep,
    rt: RuntimeDep,
    http: Request,
    response: Response,
) -> Manifest:
    """multipart/form-data: files `files` (PDF, JPEG, PNG, ZIP, CSV, JSON, XLSX) and a
    parallel field `holders` (the n-th holder code is the n-th file's)."""
    upload = await read_upload(http, rt.evidence, extracts.extract_limits(rt))
    stored = StoredFiles(files=upload.files)
    with stored.discard_on_error(rt):
        if not upload.files:
            msg = "올릴 파일(files)이 없습니다."
            raise ValidationFailed(msg, errors=[FieldError("files", "required", msg)])
        holders = upload.fields.get(extracts.HOLDERS_FIELD, [])

        def write() -> Manifest:
            w = StaffWrite(
                request_for_write(session, reference, version), staff, session, rt, http, response
            )
            task_list = extracts.holder_tasks(session, w.req, holders, len(upload.files))
            extracts.add_extracts(session, rt, w.req, upload.files, task_list, actor=w.actor)
            return _manifest(w)

        return await run_in_threadpool(write)


@router.post(
    f"{_STAFF}/access-package/release",
    response_model=Manifest,
    responses=problem_responses(409, 412, 428),
    summary="열람 자료 제공 (ZIP과 열람내역서, 결과 통지)",
)
def release_package(w: CaseWrite) -> Manifest:
    package.release(w.session, w.rt, w.req, w.staff)
    return _manifest(w)


@router.post(
    f"{_STAFF}/access/provided",
    response_model=Manifest,
    responses=problem_responses(409, 412, 428),
    summary="방문 열람 또는 우편 사본 제공 완료",
)
def access_provided(body: ProvidedIn, w: CaseWrite) -> Manifest:
    package.provided(w.session, w.rt, w.req, w.staff, at=body.at, note_text=body.note)
    return _manifest(w)


# --- the requester ---------------------------------------------------------------------------


def package_response(d: Download) -> StreamingResponse:
    """The ZIP as an attachment (RFC 6266 / 5987 name), never cached."""
    # Old clients that read only `filename` get the reference and an English name.
    ascii_name = f"{d.reference}-access-package.zip"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(d.filename)}"
    return StreamingResponse(
        d.reader,
        media_type="application/zip",
        headers={
            "Content-Disposition": disposition,
            "Content-Length": str(d.size),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/v1/requests/{reference}/access-package",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}},
        **problem_responses(404, 410, 429),
    },
    tags=["public"],
    summary="열람 자료 내려받기 (ZIP)",
)
def download_package(
    reference: str,
    http: Request,
    session: SessionDep,
    rt: RuntimeDep,
    x_access_code: AccessCode = "",
) -> StreamingResponse:
    client = client_ip(http)
    request = authorize_requester(session, rt, reference, x_access_code, client=client)
    return package_response(download(session, rt, request, via="api", client_ip=client))
