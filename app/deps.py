"""Annotated dependency aliases: one per resource and one per permission."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.db import session_scope
from app.errors import Forbidden
from app.models.staff import Role, Staff
from app.runtime import Runtime
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

    READ = "read"  # the queue, details, notices, tasks, files, certificate, SLA, chat intake
    TRIAGE = "triage"  # file staff requests (a chat's too), assign, internal notes, 보완 요청
    HANDLE = "handle"  # identity results, decisions, postponements, tasks, resends
    APPROVE = "approve"  # approvals, waivers, reviewing the access log
    AUDIT = "audit"  # verifying the sealed timeline
    EXPORT_PERSONAL = "export_personal"  # the register with names and contacts
    ADMINISTER = "administer"  # staff accounts and tokens, never personal data


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
    }
)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _check(staff: Staff, roles: frozenset[Role]) -> Staff:
    if staff.role not in roles:
        names = ", ".join(r.value for r in Role if r in roles)
        raise Forbidden(f"이 작업은 {names} 역할만 할 수 있습니다.")
    return staff


def require(*roles: Role) -> Callable[[Staff], Staff]:
    def check(staff: CurrentStaff) -> Staff:
        return _check(staff, frozenset(roles))

    return check


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
