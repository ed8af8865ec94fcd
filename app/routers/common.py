"""Small HTTP helpers shared by the routers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from sqlmodel import Session

from app.deps import HandlerDep, OfficerDep, RuntimeDep, SessionDep, TriageDep
from app.errors import PreconditionRequired, UnsupportedMediaType, VersionMismatch
from app.models.request import Request as DbRequest
from app.models.request_api import StaffRequestDetail
from app.models.staff import Staff
from app.proxies import client_address
from app.runtime import Runtime
from app.services.requests.detail import check_version, get_detail, request_by_reference


def require_json(request: Request) -> None:
    """415 for a body that is not JSON (multipart intake arrives with the evidence issue)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType("본문은 application/json 이어야 합니다.")


def client_ip(request: Request) -> str | None:
    """The client's IP address (forwarded only by a trusted proxy), None if not an address."""
    return client_address(request.scope)


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Declare the problem+json responses a route can give, for /docs."""
    return {c: {"content": {"application/problem+json": {}}} for c in codes}


def created_headers(response: Response, location: str, *, replayed: bool) -> None:
    """201 headers of a filing: where it lives, and whether this is an idempotent replay."""
    response.headers["Location"] = location
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"


def if_match_version(if_match: Annotated[str | None, Header()] = None) -> int:
    """Writes name the version they were based on (the ETag of the detail), or get 428."""
    if not if_match:
        raise PreconditionRequired("변경하려면 상세 조회의 ETag 값을 If-Match 헤더로 보내 주세요.")
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise VersionMismatch("If-Match 값이 이 요청의 ETag가 아닙니다.")
    return int(value)


IfMatch = Annotated[int, Depends(if_match_version)]


def request_for_write(reference: str, session: SessionDep, version: IfMatch) -> DbRequest:
    """The request a write is about, at the version the client last saw (428 / 412)."""
    req = request_by_reference(session, reference, for_update=True)
    check_version(req, version)
    return req


WritableRequest = Annotated[DbRequest, Depends(request_for_write)]


def detail_response(
    session: Session,
    rt: Runtime,
    reference: str,
    staff: Staff,
    http: Request,
    response: Response,
) -> StaffRequestDetail:
    """The staff detail (access-logged), with its version as ETag for the next write."""
    out = get_detail(session, rt, reference, staff, client_ip(http))
    response.headers["ETag"] = f'"{out.version}"'
    response.headers["Cache-Control"] = "no-store"
    return out


@dataclass
class StaffWrite:
    """One staff write: the request at the version the client saw (locked), who is writing,
    and how to answer with the updated detail."""

    req: DbRequest
    staff: Staff
    session: Session
    rt: Runtime
    http: Request
    response: Response

    @property
    def actor(self) -> str:
        return f"staff:{self.staff.id}"

    def detail(self) -> StaffRequestDetail:
        return detail_response(
            self.session, self.rt, self.req.reference, self.staff, self.http, self.response
        )


def case_write(
    staff: HandlerDep,
    req: WritableRequest,
    session: SessionDep,
    rt: RuntimeDep,
    request: Request,
    response: Response,
) -> StaffWrite:
    return StaffWrite(req, staff, session, rt, request, response)


def triage_write(
    staff: TriageDep,
    req: WritableRequest,
    session: SessionDep,
    rt: RuntimeDep,
    request: Request,
    response: Response,
) -> StaffWrite:
    return StaffWrite(req, staff, session, rt, request, response)


def officer_write(
    officer: OfficerDep,
    req: WritableRequest,
    session: SessionDep,
    rt: RuntimeDep,
    request: Request,
    response: Response,
) -> StaffWrite:
    return StaffWrite(req, officer, session, rt, request, response)


# Handling (security, officer); an agent's writes (TriageWrite); the officer's.
CaseWrite = Annotated[StaffWrite, Depends(case_write)]
TriageWrite = Annotated[StaffWrite, Depends(triage_write)]
OfficerWrite = Annotated[StaffWrite, Depends(officer_write)]
