"""The staff console's sign-in rules, as values in and values out (the clock is an argument).

안전성 확보조치 기준 (PIPC notice) art. 5: access to personal data needs authentication, a
second factor for remote access, a limit on failed tries, and a session that ends after a
while without use; art. 8 keeps the 접속기록 (the service records each event).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# RFC 6238: 30-second steps; one step either side absorbs a phone clock a little off.
TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1

CONSOLE_HOME = "/staff"


def totp_step(now: datetime) -> int:
    return int(now.timestamp()) // TOTP_STEP_SECONDS


def totp_candidate_steps(now: datetime) -> list[int]:
    """The steps a code typed now may belong to, the current one first."""
    current = totp_step(now)
    return [current, *(current + d for d in range(-TOTP_DRIFT_STEPS, TOTP_DRIFT_STEPS + 1) if d)]


def totp_step_accepted(step: int, last_accepted: int) -> bool:
    """A code is good once: the step it matched must come after the last one accepted, so the
    same code (or an older one) replayed within its window is refused."""
    return step > last_accepted


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def lock_after_failure(
    failures: int, *, max_failures: int, lock_minutes: int, now: datetime
) -> datetime | None:
    """Art. 5(6): after `max_failures` wrong passwords or codes in a row, no further try is
    checked until `lock_minutes` have passed."""
    return now + timedelta(minutes=lock_minutes) if failures >= max_failures else None


class SessionState(StrEnum):
    ACTIVE = "active"
    IDLE = "idle"  # unused longer than the idle timeout
    EXPIRED = "expired"  # older than the absolute timeout, however busy


def session_state(
    *,
    created_at: datetime,
    last_seen_at: datetime,
    now: datetime,
    idle_minutes: int,
    absolute_hours: int,
) -> SessionState:
    if now - created_at >= timedelta(hours=absolute_hours):
        return SessionState.EXPIRED
    if now - last_seen_at >= timedelta(minutes=idle_minutes):
        return SessionState.IDLE
    return SessionState.ACTIVE


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this site, else the console home.
    Refuses anything a browser could read as another site: a scheme, `//host`, `/\\host`,
    control characters, or a path outside /staff."""
    if not target or len(target) > 512 or not target.isascii():
        return CONSOLE_HOME
    if any(ord(c) < 0x21 or c == "\\" for c in target):
        return CONSOLE_HOME
    if not target.startswith("/") or target.startswith("//"):
        return CONSOLE_HOME
    path = target.split("?", 1)[0].split("#", 1)[0]
    if path != CONSOLE_HOME and not path.startswith(CONSOLE_HOME + "/"):
        return CONSOLE_HOME
    if "/.." in path or path.startswith(CONSOLE_HOME + "/login") or path == "/staff/logout":
        return CONSOLE_HOME
    return target


@dataclass(frozen=True)
class PasswordProblem:
    rule: str
    min_length: int


def password_problem(
    password: str, confirm: str, *, name: str, min_length: int
) -> PasswordProblem | None:
    """Art. 5(5): a password hard to guess. Length is what counts (NIST SP 800-63B); no
    composition rules, but not the account's own name, and typed the same twice."""
    if password != confirm:
        return PasswordProblem("mismatch", min_length)
    if len(password) < min_length:
        return PasswordProblem("too_short", min_length)
    if name and name.replace(" ", "").lower() in password.replace(" ", "").lower():
        return PasswordProblem("contains_name", min_length)
    if len(set(password)) < 4:
        return PasswordProblem("too_simple", min_length)
    return None
