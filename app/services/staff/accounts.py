"""Staff accounts and bearer tokens (shown once, stored as SHA-256)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.core.crypto import hash_token, new_token
from app.errors import Conflict, NotFound, Unauthenticated
from app.models.staff import ApiToken, Role, Staff

_LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class NewStaff:
    staff_id: int
    token: str


def add_staff(
    session: Session,
    *,
    name: str,
    role: Role,
    now: datetime,
    email: str | None = None,
    token_ttl_days: int = 0,
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
    return NewStaff(staff_id=staff.id, token=issue_token(session, staff, now, token_ttl_days))


def issue_token(session: Session, staff: Staff, now: datetime, ttl_days: int) -> str:
    """A new bearer token, returned once; only its SHA-256 is kept."""
    assert staff.id is not None
    token = new_token()
    expires = now + timedelta(days=ttl_days) if ttl_days else None
    session.add(
        ApiToken(
            staff_id=staff.id, token_hash=hash_token(token), created_at=now, expires_at=expires
        )
    )
    session.flush()
    return token


def token_for_name(session: Session, *, name: str, now: datetime, ttl_days: int) -> str:
    """Another token for an active staff member (rotation: revoke the old one after)."""
    staff = session.exec(select(Staff).where(Staff.name == " ".join(name.split()))).first()
    if staff is None or not staff.active:
        raise NotFound(f"no active staff named '{name}'")
    return issue_token(session, staff, now, ttl_days)


def list_tokens(session: Session) -> list[tuple[ApiToken, Staff]]:
    return [
        (t, s)
        for t, s in session.exec(
            select(ApiToken, Staff)
            .join(Staff, col(Staff.id) == col(ApiToken.staff_id))
            .order_by(col(ApiToken.id))
        ).all()
    ]


def revoke_token(session: Session, token_id: int, *, now: datetime) -> ApiToken:
    """Takes effect at once: every request authenticates against the database."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("토큰을 찾을 수 없습니다.")
    token.revoked_at = token.revoked_at or now
    session.flush()
    return token


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


def authenticate(session: Session, token: str | None, *, now: datetime) -> Staff:
    if not token or not token.strip():
        raise Unauthenticated("Authorization: Bearer <token> 헤더가 필요합니다.")
    row = session.exec(
        select(Staff, ApiToken)
        .join(ApiToken, col(ApiToken.staff_id) == col(Staff.id))
        .where(
            ApiToken.token_hash == hash_token(token.strip()),
            col(ApiToken.revoked_at).is_(None),
            or_(col(ApiToken.expires_at).is_(None), col(ApiToken.expires_at) > now),
            col(Staff.active).is_(True),
        )
    ).first()
    if row is None:
        raise Unauthenticated("토큰이 올바르지 않거나 만료 또는 폐기되었습니다.")
    staff, api_token = row
    if api_token.last_used_at is None or now - api_token.last_used_at > _LAST_USED_EVERY:
        api_token.last_used_at = now
    return staff


def list_members(
    session: Session, *, role: str | None = None, active: bool | None = None
) -> list[Staff]:
    """Staff members by name: who can be assigned to, and who was."""
    query = select(Staff)
    if role is not None:
        query = query.where(Staff.role == role)
    if active is not None:
        query = query.where(Staff.active == active)
    return list(session.exec(query.order_by(col(Staff.name), col(Staff.id))).all())
