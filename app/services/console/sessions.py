"""Browser sessions of the staff console.

The cookie holds `<token>.<HMAC>`: a random 256-bit token signed with a key derived from the
data key, so a value this server did not issue is refused before any lookup. The database
keeps the token's SHA-256, so sign-out, a new enrolment or a deactivated account end the
session at once. A new session (and token) is made at each sign-in step: a token known
before the sign-in is worth nothing after it (no fixation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from app.core.crypto import hash_token
from app.models.console import ConsoleSession
from app.models.staff import Staff
from app.runtime import Runtime
from app.services.console.signin_log import SignInEvent, record
from app.workflows.console_auth import SessionState, session_state

COOKIE = "rd_staff"  # app/web/console.py sets it
_TOKEN_BYTES = 32


def _mac(rt: Runtime, token: str) -> str:
    key = rt.vault.derive("console-session")
    digest = hmac.new(key, b"session:" + token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _token_of(rt: Runtime, cookie: str | None) -> str | None:
    if not cookie or len(cookie) > 200 or not cookie.isascii():
        return None
    token, dot, mac = cookie.partition(".")
    if not dot or not hmac.compare_digest(mac.encode(), _mac(rt, token).encode()):
        return None
    return token


def start(session: Session, rt: Runtime, staff: Staff, *, second_factor: bool) -> str:
    """A new session; returns the cookie value (shown to the browser only)."""
    assert staff.id is not None
    now = rt.clock()
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    session.add(
        ConsoleSession(
            token_hash=hash_token(token),
            staff_id=staff.id,
            second_factor=second_factor,
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return f"{token}.{_mac(rt, token)}"


@dataclass(frozen=True)
class Current:
    row: ConsoleSession
    staff: Staff


def find(
    session: Session, rt: Runtime, cookie: str | None, *, second_factor: bool = True
) -> Current | None:
    """The open session a cookie names, at the stage asked for (signed in with both factors,
    or only past the password); touches it. An idle or expired one is ended (and logged)."""
    token = _token_of(rt, cookie)
    if token is None:
        return None
    row = session.exec(
        select(ConsoleSession).where(ConsoleSession.token_hash == hash_token(token))
    ).first()
    if row is None or row.ended_at is not None or row.second_factor != second_factor:
        return None
    staff = session.get(Staff, row.staff_id)
    now = rt.clock()
    s = rt.settings
    state = session_state(
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        now=now,
        idle_minutes=s.console_idle_minutes,
        absolute_hours=s.console_absolute_hours,
    )
    half_signed_in_too_long = not second_factor and now - row.created_at >= timedelta(
        minutes=s.console_second_factor_minutes
    )
    if staff is None or not staff.active or state != SessionState.ACTIVE or half_signed_in_too_long:
        row.ended_at = now
        if second_factor:
            record(session, SignInEvent.EXPIRED, staff_id=row.staff_id, client_ip=None, now=now)
        return None
    row.last_seen_at = now
    return Current(row, staff)


def end(session: Session, rt: Runtime, cookie: str | None) -> ConsoleSession | None:
    """Ends the session a cookie names (at whatever stage); returns it, or None."""
    token = _token_of(rt, cookie)
    if token is None:
        return None
    row = session.exec(
        select(ConsoleSession).where(ConsoleSession.token_hash == hash_token(token))
    ).first()
    if row is None or row.ended_at is not None:
        return None
    row.ended_at = rt.clock()
    session.flush()
    return row


def sign_out(session: Session, rt: Runtime, cookie: str | None, *, client_ip: str | None) -> None:
    row = end(session, rt, cookie)
    if row is not None and row.second_factor:
        record(session, SignInEvent.SIGNED_OUT, staff_id=row.staff_id, client_ip=client_ip,
               now=rt.clock())  # fmt: skip
