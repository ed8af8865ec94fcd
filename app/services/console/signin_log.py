"""The sign-in log: one row per sign-in, failed try, refused try while locked, enrolment and
sign-out, with the address it came from (안전성 확보조치 기준 art. 8, 접속기록)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from app.models.console import SignInLog


class SignInEvent(StrEnum):
    SIGNED_IN = "sign_in"
    FAILED = "sign_in_failed"
    LOCKED = "sign_in_locked"
    ENROLLED = "enrolled"
    SIGNED_OUT = "sign_out"
    EXPIRED = "session_expired"


def record(
    session: Session,
    event: SignInEvent,
    *,
    staff_id: int | None,
    client_ip: str | None,
    now: datetime,
) -> None:
    session.add(SignInLog(staff_id=staff_id, event=event.value, client_ip=client_ip, at=now))
    session.flush()
