"""Annotated dependency aliases: one per resource and one per permission."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.db import session_scope
from app.errors import Forbidden
from app.models.staff import Role, Staff
from app.runtime import Runtime
from app.services.staff import authenticate


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


def require(*roles: Role) -> Callable[[Staff], Staff]:
    def check(staff: CurrentStaff) -> Staff:
        if staff.role not in roles:
            raise Forbidden(f"이 작업은 {', '.join(r.value for r in roles)} 역할만 할 수 있습니다.")
        return staff

    return check


# Handling requests (personal data): agent, security, officer. Admin manages staff only.
CaseHandler = Annotated[Staff, Depends(require(Role.AGENT, Role.SECURITY, Role.OFFICER))]
# Approvals of refusals, partial grants and destruction: the privacy officer only.
OfficerDep = Annotated[Staff, Depends(require(Role.OFFICER))]
# Staff accounts and tokens, nothing else.
AdminDep = Annotated[Staff, Depends(require(Role.ADMIN))]
# The audit trail (timeline verification): the officer and the security team.
AuditorDep = Annotated[Staff, Depends(require(Role.OFFICER, Role.SECURITY))]
