"""Passwords (argon2id) and TOTP second factors of staff, set through a one-time enrolment
link, and the sign-in checks with their lockout."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from urllib.parse import quote

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from app.core.crypto import hash_token, new_token
from app.errors import NotFound
from app.models.console import ConsoleSession, EnrolmentLink, StaffCredential
from app.models.staff import Staff
from app.runtime import Runtime
from app.services.console.signin_log import SignInEvent, record
from app.workflows import console_auth as rules

_TOTP_FIELD = "totp_secret"
_ISSUER = "RightsDesk"
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory parameters


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    # Verified against when the name is unknown, so that a wrong name takes as long as a
    # wrong password and the answer time does not tell which names exist.
    return _hasher.hash("decoy password, never anyone's")


def _staff_by_name(session: Session, name: str) -> Staff | None:
    return session.exec(select(Staff).where(Staff.name == " ".join(name.split()))).first()


# --- enrolment ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewLink:
    token: str
    expires_at: datetime


def issue_enrolment_link(session: Session, rt: Runtime, staff: Staff) -> NewLink:
    """A one-time link that sets the password and the second factor; earlier unused links of
    the same person stop working. The token is returned once and kept as its SHA-256."""
    assert staff.id is not None
    now = rt.clock()
    for old in session.exec(
        select(EnrolmentLink).where(
            EnrolmentLink.staff_id == staff.id, col(EnrolmentLink.used_at).is_(None)
        )
    ):
        old.used_at = now
    token = new_token()
    expires = now + timedelta(hours=rt.settings.console_enrolment_hours)
    secret = rt.vault.encrypt(pyotp.random_base32(), field=_TOTP_FIELD)
    session.add(
        EnrolmentLink(
            staff_id=staff.id,
            token_hash=hash_token(token),
            totp_secret_enc=secret,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return NewLink(token=token, expires_at=expires)


def enrolment_link_for_name(session: Session, rt: Runtime, name: str) -> NewLink:
    staff = _staff_by_name(session, name)
    if staff is None or not staff.active:
        raise NotFound(f"no active staff named '{name}'")
    return issue_enrolment_link(session, rt, staff)


def enrolment_url(rt: Runtime, token: str) -> str:
    base = (rt.settings.public_base_url or "").rstrip("/")
    return f"{base}/staff/enrol?token={quote(token)}"


@dataclass(frozen=True)
class Enrolment:
    link: EnrolmentLink
    staff: Staff
    secret: str

    @property
    def otpauth_uri(self) -> str:
        return pyotp.TOTP(self.secret).provisioning_uri(name=self.staff.name, issuer_name=_ISSUER)


def open_enrolment(session: Session, rt: Runtime, token: str) -> Enrolment | None:
    """The enrolment a link is for, while it is unused, unexpired and its staff active."""
    if not token or len(token) > 100:
        return None
    link = session.exec(
        select(EnrolmentLink).where(EnrolmentLink.token_hash == hash_token(token))
    ).first()
    if link is None or link.used_at is not None or rt.clock() >= link.expires_at:
        return None
    staff = session.get(Staff, link.staff_id)
    if staff is None or not staff.active:
        return None
    return Enrolment(link, staff, rt.vault.decrypt(link.totp_secret_enc, field=_TOTP_FIELD))


class EnrolProblem(StrEnum):
    BAD_CODE = "bad_code"


def complete_enrolment(
    session: Session,
    rt: Runtime,
    enrolment: Enrolment,
    *,
    password: str,
    code: str,
    client_ip: str | None,
) -> EnrolProblem | None:
    """Sets the password and the second factor once the first code from the app is right;
    the link is used up, and every session of the account ends (a reset signs out)."""
    now = rt.clock()
    step = _matching_step(enrolment.secret, code, now)
    if step is None:
        return EnrolProblem.BAD_CODE
    staff_id = enrolment.staff.id
    assert staff_id is not None
    credential = session.get(StaffCredential, staff_id) or StaffCredential(
        staff_id=staff_id, password_hash="", totp_secret_enc="", enrolled_at=now
    )
    credential.password_hash = _hasher.hash(password)
    credential.totp_secret_enc = enrolment.link.totp_secret_enc
    credential.enrolled_at = now
    # The code just typed cannot also sign in.
    credential.last_totp_step = step
    credential.failed_count = 0
    credential.locked_until = None
    session.add(credential)
    enrolment.link.used_at = now
    for open_session in session.exec(
        select(ConsoleSession).where(
            ConsoleSession.staff_id == staff_id, col(ConsoleSession.ended_at).is_(None)
        )
    ):
        open_session.ended_at = now
    record(session, SignInEvent.ENROLLED, staff_id=staff_id, client_ip=client_ip, now=now)
    return None


# --- sign-in --------------------------------------------------------------------------------


class Refusal(StrEnum):
    BAD_CREDENTIALS = "bad_credentials"  # unknown name, wrong password, not enrolled
    BAD_CODE = "bad_code"  # wrong, expired or replayed TOTP code
    LOCKED = "locked"


@dataclass(frozen=True)
class Checked:
    staff: Staff | None
    refusal: Refusal | None
    locked_until: datetime | None = None


def check_password(
    session: Session, rt: Runtime, *, name: str, password: str, client_ip: str | None
) -> Checked:
    """The first factor. Every outcome is logged; wrong tries count towards the lockout."""
    now = rt.clock()
    staff = _staff_by_name(session, name) if name.strip() else None
    credential = session.get(StaffCredential, staff.id) if staff and staff.active else None
    if staff is None or credential is None:
        _verify(_decoy_hash(), password)
        record(session, SignInEvent.FAILED, staff_id=staff.id if staff else None,
               client_ip=client_ip, now=now)  # fmt: skip
        return Checked(None, Refusal.BAD_CREDENTIALS)
    if rules.is_locked(credential.locked_until, now):
        record(session, SignInEvent.LOCKED, staff_id=staff.id, client_ip=client_ip, now=now)
        return Checked(staff, Refusal.LOCKED, credential.locked_until)
    if not _verify(credential.password_hash, password):
        return _failed(session, rt, staff, credential, Refusal.BAD_CREDENTIALS, client_ip)
    if _hasher.check_needs_rehash(credential.password_hash):
        credential.password_hash = _hasher.hash(password)
    return Checked(staff, None)


def check_code(
    session: Session, rt: Runtime, staff: Staff, *, code: str, client_ip: str | None
) -> Checked:
    """The second factor: a code of the current step (or one either side) not used before."""
    now = rt.clock()
    credential = session.get(StaffCredential, staff.id)
    if credential is None or not staff.active:
        return Checked(None, Refusal.BAD_CREDENTIALS)
    if rules.is_locked(credential.locked_until, now):
        record(session, SignInEvent.LOCKED, staff_id=staff.id, client_ip=client_ip, now=now)
        return Checked(staff, Refusal.LOCKED, credential.locked_until)
    secret = rt.vault.decrypt(credential.totp_secret_enc, field=_TOTP_FIELD)
    step = _matching_step(secret, code, now)
    if step is None or not rules.totp_step_accepted(step, credential.last_totp_step):
        return _failed(session, rt, staff, credential, Refusal.BAD_CODE, client_ip)
    credential.last_totp_step = step
    credential.failed_count = 0
    credential.locked_until = None
    record(session, SignInEvent.SIGNED_IN, staff_id=staff.id, client_ip=client_ip, now=now)
    return Checked(staff, None)


def _failed(
    session: Session,
    rt: Runtime,
    staff: Staff,
    credential: StaffCredential,
    refusal: Refusal,
    client_ip: str | None,
) -> Checked:
    now = rt.clock()
    credential.failed_count += 1
    locked = rules.lock_after_failure(
        credential.failed_count,
        max_failures=rt.settings.console_max_failures,
        lock_minutes=rt.settings.console_lock_minutes,
        now=now,
    )
    record(session, SignInEvent.FAILED, staff_id=staff.id, client_ip=client_ip, now=now)
    if locked is not None:
        credential.locked_until = locked
        credential.failed_count = 0
        return Checked(staff, Refusal.LOCKED, locked)
    return Checked(staff, refusal)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    for step in rules.totp_candidate_steps(now):
        if hmac.compare_digest(totp.at(step * rules.TOTP_STEP_SECONDS), code):
            return step
    return None
