"""Staff accounts and bearer tokens (shown once, stored as SHA-256)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.crypto import hash_token, new_token
from app.errors import Conflict, NotFound, Unauthenticated
from app.models.staff import ApiToken, Role, Staff


@dataclass(frozen=True)
class NewStaff:
    staff_id: int
    token: str


def add_staff(
    session: Session, *, name: str, role: Role, now: datetime, email: str | None = None
) -> NewStaff:
    name = " ".join(name.split())
    if not name:
        raise ValueError("name must not be empty")
    if session.exec(select(Staff).where(Staff.name == name)).first() is not None:
        raise Conflict(f"staff '{name}' already exists", code="staff_exists")
    staff = Staff(name=name, role=role.value, email=email, created_at=now)
    session.add(staff)
    session.flush()
    assert staff.id is not None
    token = new_token()
    session.add(ApiToken(staff_id=staff.id, token_hash=hash_token(token), created_at=now))
    session.flush()
    return NewStaff(staff_id=staff.id, token=token)


def revoke_staff(session: Session, *, name: str, now: datetime) -> int:
    """Deactivate the account and every token it holds; returns the number of tokens revoked."""
    staff = session.exec(select(Staff).where(Staff.name == " ".join(name.split()))).first()
    if staff is None:
        raise NotFound(f"no staff named '{name}'")
    staff.active = False
    staff.revoked_at = staff.revoked_at or now
    tokens = session.exec(
        select(ApiToken).where(ApiToken.staff_id == staff.id, col(ApiToken.revoked_at).is_(None))
    ).all()
    for token in tokens:
        token.revoked_at = now
    session.flush()
    return len(tokens)


def authenticate(session: Session, token: str | None) -> Staff:
    if not token or not token.strip():
        raise Unauthenticated("Authorization: Bearer <token> 헤더가 필요합니다.")
    row = session.exec(
        select(Staff)
        .join(ApiToken, col(ApiToken.staff_id) == col(Staff.id))
        .where(
            ApiToken.token_hash == hash_token(token.strip()),
            col(ApiToken.revoked_at).is_(None),
            col(Staff.active).is_(True),
        )
    ).first()
    if row is None:
        raise Unauthenticated("토큰이 올바르지 않거나 폐기되었습니다.")
    return row
