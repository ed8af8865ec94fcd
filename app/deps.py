"""Annotated dependency aliases: one per resource and one per permission."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.db import session_scope
from app.errors import (
    DomainError,
    Forbidden,
    PreconditionRequired,
    UnsupportedMediaType,
    VersionMismatch,
)
from app.models.request import Request as DbRequest
from app.models.request_api import StaffRequestDetail
from app.models.staff import Role, Staff
from app.proxies import client_address
from app.runtime import Runtime
from app.services.console import sessions as console_sessions
from app.services.requests.detail import check_version, get_detail, request_by_reference
from app.services.requests.queue import QueueQuery
from app.services.staff.accounts import authenticate


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a hop per request for
    # what is only an attribute read.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(rt: RuntimeDep) -> Iterator[Session]:
    yield from session_scope(rt.engine)


# scope="function": commit when the handler returns, *before* the response goes out. With the
# default ("request") FastAPI sends the response first, so a client could hold a 201 for a
# row not yet committed, or never committed at all.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# Declared as a security scheme so /docs offers an "Authorize" button; our own handler answers
# a missing or bad token with the contract's 401 problem.
_bearer = HTTPBearer(auto_error=False, description="rightsdesk staff add 로 발급한 토큰")


def current_staff(
    session: SessionDep,
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Staff:
    token = credentials.credentials if credentials else None
    return authenticate(session, token, now=rt.clock())


CurrentStaff = Annotated[Staff, Depends(current_staff)]


class Capability(StrEnum):
    """What a staff member does; PERMISSIONS says which roles may (api.md "Roles, restated")."""

    # the queue, details, notices, tasks, files, certificate, access-package manifest, SLA,
    # chat intake
    READ = "read"
    TRIAGE = "triage"  # file staff requests (a chat's too), assign, internal notes, 보완 요청
    # identity results, decisions, postponements, tasks, resends, the access package (extracts,
    # release, access given in person)
    HANDLE = "handle"
    APPROVE = "approve"  # approvals, waivers, reviewing the access log
    AUDIT = "audit"  # verifying the sealed timeline
    EXPORT_PERSONAL = "export_personal"  # the register with names and contacts
    # staff accounts and tokens, and the clinics of processor mode (business contacts only):
    # never personal data
    ADMINISTER = "administer"
    # who can be assigned: staff id, name, role, active (no personal data of subjects)
    STAFF_DIRECTORY = "staff_directory"


_CASE_WORKERS = frozenset({Role.AGENT, Role.SECURITY, Role.OFFICER})

# The one table of who may do what. An agent files, triages and asks for more; every other
# write on a request is handling, for the security team and the officer; the officer alone
# approves and waives; admin manages staff and tokens and sees no request. (Who am I and the
# metrics, counts only, take any valid token: CurrentStaff.)
PERMISSIONS: Mapping[Capability, frozenset[Role]] = MappingProxyType(
    {
        Capability.READ: _CASE_WORKERS,
        Capability.TRIAGE: _CASE_WORKERS,
        Capability.HANDLE: frozenset({Role.SECURITY, Role.OFFICER}),
        Capability.APPROVE: frozenset({Role.OFFICER}),
        Capability.AUDIT: frozenset({Role.SECURITY, Role.OFFICER}),
        Capability.EXPORT_PERSONAL: frozenset({Role.SECURITY, Role.OFFICER}),
        Capability.ADMINISTER: frozenset({Role.ADMIN}),
        Capability.STAFF_DIRECTORY: frozenset(Role),
    }
)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _check(staff: Staff, roles: frozenset[Role]) -> Staff:
    if staff.role not in roles:
        names = ", ".join(r.value for r in Role if r in roles)
        raise Forbidden(f"이 작업은 {names} 역할만 할 수 있습니다.")
    return staff


def require_capability(capability: Capability) -> Callable[[Staff], Staff]:
    roles = PERMISSIONS[capability]

    def check(staff: CurrentStaff) -> Staff:
        return _check(staff, roles)

    return check


def case_worker(staff: CurrentStaff, request: Request) -> Staff:
    """Reading a request (READ). A write through this dependency is handling (HANDLE): a
    route an agent may write to says so with TriageDep, so a new write route is closed to
    agents until someone decides otherwise."""
    safe = request.method in _SAFE_METHODS
    return _check(staff, PERMISSIONS[Capability.READ if safe else Capability.HANDLE])


# Reading requests (personal data): agent, security, officer. Writes: see case_worker.
CaseHandler = Annotated[Staff, Depends(case_worker)]
# An agent's writes: filing staff requests, assigning, internal notes, 보완 요청.
TriageDep = Annotated[Staff, Depends(require_capability(Capability.TRIAGE))]
# Every other write on a request: the security team and the officer.
HandlerDep = Annotated[Staff, Depends(require_capability(Capability.HANDLE))]
# Approvals of refusals, partial grants and destruction, waivers: the privacy officer only.
OfficerDep = Annotated[Staff, Depends(require_capability(Capability.APPROVE))]
# Staff accounts and tokens, nothing else.
AdminDep = Annotated[Staff, Depends(require_capability(Capability.ADMINISTER))]
# The audit trail (timeline verification): the officer and the security team.
AuditorDep = Annotated[Staff, Depends(require_capability(Capability.AUDIT))]
# Reads of personal data that are not one request's, by POST (search by subject): READ.
ReaderDep = Annotated[Staff, Depends(require_capability(Capability.READ))]
# The staff directory (people to assign to): every role.
DirectoryDep = Annotated[Staff, Depends(require_capability(Capability.STAFF_DIRECTORY))]


# --- request headers and bodies ----------------------------------------------------------------


def require_json(request: Request) -> None:
    """415 for a body that is not JSON (multipart intake arrives with the evidence issue)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType("본문은 application/json 이어야 합니다.")


# A JSON body only (415 otherwise); put it after the token check, so that who may not write
# learns nothing about the body.
JsonBody = Annotated[None, Depends(require_json)]

# The requester's access code, for the public routes about one request.
AccessCode = Annotated[str, Header(max_length=64)]

# A filing's idempotency key (a replay answers with the first response).
IdempotencyKey = Annotated[str | None, Header(max_length=200)]

# The staff queue's filters, sort and page (GET /v1/staff/requests), as one query model.
QueueParams = Annotated[QueueQuery, Query()]


# --- staff writes: one mechanism, If-Match on the request's version ------------------------


def if_match_version(if_match: Annotated[str | None, Header()] = None) -> int:
    """Writes name the version they were based on (the ETag of the detail), or get 428."""
    if not if_match:
        raise PreconditionRequired("변경하려면 상세 조회의 ETag 값을 If-Match 헤더로 보내 주세요.")
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise VersionMismatch("If-Match 값이 이 요청의 ETag가 아닙니다.")
    return int(value)


# The version a write was based on: 428 without If-Match, 412 for one that is not a version.
# A route that reads its body (files) before locking the request takes this alone and calls
# `request_for_write` once the body is in; every other staff write takes a StaffWrite below.
IfMatch = Annotated[int, Depends(if_match_version)]


def request_for_write(session: Session, reference: str, version: int) -> DbRequest:
    """The request a write is about, locked, at the version the client last saw (else 412)."""
    req = request_by_reference(session, reference, for_update=True)
    check_version(req, version)
    return req


def detail_response(
    session: Session,
    rt: Runtime,
    reference: str,
    staff: Staff,
    http: Request,
    response: Response,
) -> StaffRequestDetail:
    """The staff detail (access-logged), with its version as ETag for the next write."""
    out = get_detail(session, rt, reference, staff, client_address(http.scope))
    response.headers["ETag"] = f'"{out.version}"'
    response.headers["Cache-Control"] = "no-store"
    return out


@dataclass
class StaffWrite:
    """One staff write: the request at the version the client saw (locked), who is writing,
    and how to answer (the updated detail, or the new version as ETag)."""

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

    def etag(self) -> None:
        """For an answer other than the detail: the request's version after this write."""
        self.session.flush()
        self.response.headers["ETag"] = f'"{self.req.version}"'


def _staff_write(
    staff: Staff, reference: str, version: int, session: Session, rt: Runtime, http: Request,
    response: Response,
) -> StaffWrite:  # fmt: skip
    return StaffWrite(
        request_for_write(session, reference, version), staff, session, rt, http, response
    )


def case_write(
    staff: HandlerDep,
    reference: str,
    version: IfMatch,
    session: SessionDep,
    rt: RuntimeDep,
    http: Request,
    response: Response,
) -> StaffWrite:
    return _staff_write(staff, reference, version, session, rt, http, response)


def triage_write(
    staff: TriageDep,
    reference: str,
    version: IfMatch,
    session: SessionDep,
    rt: RuntimeDep,
    http: Request,
    response: Response,
) -> StaffWrite:
    return _staff_write(staff, reference, version, session, rt, http, response)


def officer_write(
    officer: OfficerDep,
    reference: str,
    version: IfMatch,
    session: SessionDep,
    rt: RuntimeDep,
    http: Request,
    response: Response,
) -> StaffWrite:
    return _staff_write(officer, reference, version, session, rt, http, response)


# Every staff write on a request, by who may make it: handling (security, officer), an agent's
# writes, the officer's. Each needs If-Match (428 / 412) and locks the request.
CaseWrite = Annotated[StaffWrite, Depends(case_write)]
TriageWrite = Annotated[StaffWrite, Depends(triage_write)]
OfficerWrite = Annotated[StaffWrite, Depends(officer_write)]


# --- the staff console (/staff): cookie sessions with a second factor ------------------------


class ConsoleSignInRequired(DomainError):
    """No signed-in console session: the console answers with the sign-in page (303)."""

    status, code, title = 401, "unauthenticated", "로그인이 필요합니다."
    # An idle or expired session found on the way is ended, and that is kept.
    commit = True

    def __init__(self, next_path: str) -> None:
        super().__init__()
        self.next_path = next_path


class ConsoleForbidden(DomainError):
    """Signed in, but the role may not open this page: the console's 403 page."""

    status, code, title = 403, "forbidden", "이 화면을 볼 권한이 없습니다."
    commit = True


def console_staff(http: Request, session: SessionDep, rt: RuntimeDep) -> Staff:
    current = console_sessions.find(session, rt, http.cookies.get(console_sessions.COOKIE))
    if current is None:
        query = f"?{http.url.query}" if http.url.query else ""
        raise ConsoleSignInRequired(http.url.path + query if http.method == "GET" else "")
    return current.staff


ConsoleStaff = Annotated[Staff, Depends(console_staff)]


def console_capability(capability: Capability) -> Callable[[Staff], Staff]:
    """The console's check of the same PERMISSIONS as the API's bearer routes."""
    roles = PERMISSIONS[capability]

    def check(staff: ConsoleStaff) -> Staff:
        if staff.role not in roles:
            raise ConsoleForbidden()
        return staff

    return check


def may_triage(staff: Staff) -> bool:
    return staff.role in PERMISSIONS[Capability.TRIAGE]


# Any signed-in staff member (sign-out); the queue and the requests: READ.
ConsoleReader = Annotated[Staff, Depends(console_capability(Capability.READ))]

# The console's actions (the request page; search, duplicates, bulk actions): the same
# capabilities as the API's writes.
ConsoleTriage = Annotated[Staff, Depends(console_capability(Capability.TRIAGE))]
ConsoleHandler = Annotated[Staff, Depends(console_capability(Capability.HANDLE))]
ConsoleOfficer = Annotated[Staff, Depends(console_capability(Capability.APPROVE))]
