"""The staff directory: the people a request or a task can be assigned to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.deps import DirectoryDep, SessionDep
from app.models.staff import Role, Staff
from app.routers.common import Page, problem_responses
from app.services.staff import accounts

router = APIRouter(prefix="/v1/staff", tags=["staff"], responses=problem_responses(401, 403, 422))


class MemberOut(BaseModel):
    """A staff member. `email`, `created_at` and `revoked_at` are for admin only: the key is
    absent from everyone else's answer."""

    id: int
    name: str
    role: Role
    active: bool
    email: str | None = Field(default=None, description="admin only")
    created_at: datetime | None = Field(default=None, description="admin only")
    revoked_at: datetime | None = Field(default=None, description="admin only")


class MemberPage(Page[MemberOut]):
    pass


def _member(staff: Staff, *, admin: bool) -> MemberOut:
    out = MemberOut(id=staff.id or 0, name=staff.name, role=Role(staff.role), active=staff.active)
    if admin:
        # Set even when None: the admin's answer always has these keys.
        out.email, out.created_at, out.revoked_at = staff.email, staff.created_at, staff.revoked_at
    return out


@router.get(
    "/members",
    response_model=MemberPage,
    response_model_exclude_unset=True,
    summary="직원 목록 (담당자 지정용): id, 이름, 역할, 활성 여부",
)
def list_members(
    staff: DirectoryDep,
    session: SessionDep,
    role: Annotated[Role | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
) -> MemberPage:
    """Every staff role may read it, to pick an assignee (`PATCH .../requests/{reference}`
    `assignee`, a task's `assignee_id`); agent, security and officer can be assigned."""
    admin = staff.role == Role.ADMIN
    found = accounts.list_members(session, role=role.value if role else None, active=active)
    return MemberPage(items=[_member(s, admin=admin) for s in found], next_cursor=None)
