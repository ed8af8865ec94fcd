"""One-time codes to the contact a requester gave (Decree art. 46(1))."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.errors import (
    BusinessRuleViolation,
    Conflict,
    InvalidTransition,
    RateLimited,
)
from app.models.identity import IdentityCheck, Verification
from app.models.notice import Notice
from app.models.request import Request
from app.models.vocab import Relationship
from app.runtime import Runtime
from app.services.audit.timeline import move, note
from app.services.clinics.forwarding import send_when_verified
from app.services.identity.checks import evidence_of, relationship
from app.services.notices.queue import queue_notice
from app.workflows import identity as rules
from app.workflows.identity import OtpOutcome
from app.workflows.lifecycle import Status
from app.workflows.notice_extras import VerificationCodeExtra
from app.workflows.notices import NoticeKind


def otp_rules(rt: Runtime) -> rules.OtpRules:
    s = rt.settings
    return rules.OtpRules(
        ttl=timedelta(minutes=s.otp_ttl_minutes),
        max_attempts=s.otp_max_attempts,
        lock=timedelta(minutes=s.otp_lock_minutes),
        resend_interval=timedelta(seconds=s.otp_resend_seconds),
        max_sends=s.otp_max_sends,
        send_window=timedelta(hours=s.otp_send_window_hours),
    )


def _state(v: Verification) -> rules.OtpState:
    return rules.OtpState(
        issued_at=v.issued_at,
        expires_at=v.expires_at,
        failed_attempts=v.failed_attempts,
        locked_until=v.locked_until,
        sends=v.sends,
        window_started_at=v.window_started_at,
        verified_at=v.verified_at,
    )


def code_hash(rt: Runtime, request_id: int | None, code: str) -> str:
    return rt.vault.hash_secret(f"otp:{request_id}:{code}")


def new_code() -> str:
    """Six digits from the CSPRNG."""
    return f"{secrets.randbelow(10**6):06d}"


@dataclass(frozen=True)
class CodeNotice:
    """How a code is queued: every code is a new message (the random key only guards against
    queueing one twice), and it is masked in the stored body once delivered."""

    extra: VerificationCodeExtra
    dedupe: str
    secret: str
    kind: NoticeKind = NoticeKind.VERIFICATION_CODE


def code_notice(rt: Runtime, code: str) -> CodeNotice:
    return CodeNotice(
        extra=VerificationCodeExtra(code=code, valid_minutes=rt.settings.otp_ttl_minutes),
        dedupe=f"verification_code:{secrets.token_hex(8)}",
        secret=code,
    )


def issue_code(session: Session, rt: Runtime, request: Request, *, actor: str) -> Notice:
    """Send a new six-digit code (CSPRNG) to the requester's contact; only its hash is kept.
    Returns the code's notice."""
    assert request.id is not None
    now = rt.clock()
    r = otp_rules(rt)
    code = new_code()
    v = session.exec(select(Verification).where(Verification.request_id == request.id)).first()
    if v is None:
        v = Verification(**first_verification(rt, request.id, code, now))
        session.add(v)
    else:
        if now >= v.window_started_at + r.send_window:
            v.window_started_at, v.sends = now, 0
        v.code_hash = code_hash(rt, request.id, code)
        v.issued_at, v.expires_at = now, now + r.ttl
        v.failed_attempts, v.locked_until = 0, None
        v.sends += 1
    session.flush()
    c = code_notice(rt, code)
    notice = queue_notice(
        session, rt, request, c.kind, extra=c.extra, dedupe=c.dedupe, secret=c.secret, actor=actor
    )
    note(session, rt, request, "code_sent", actor=actor, sends=v.sends)
    return notice


def reissue_code(session: Session, rt: Runtime, request: Request, *, actor: str) -> Notice:
    """Staff resend a code notice: a new code replaces the old one (which stops working),
    while the request still waits for the requester's code."""
    session.refresh(request, with_for_update=True)
    _require_pending_self(session, request)
    return issue_code(session, rt, request, actor=actor)


def first_verification(rt: Runtime, request_id: int, code: str, at: datetime) -> dict[str, Any]:
    """The verification row of a request's first code (a new window, one send)."""
    return {
        "request_id": request_id,
        "code_hash": code_hash(rt, request_id, code),
        "issued_at": at,
        "expires_at": at + otp_rules(rt).ttl,
        "failed_attempts": 0,
        "locked_until": None,
        "sends": 1,
        "window_started_at": at,
        "verified_at": None,
    }


def resend_code(session: Session, rt: Runtime, request: Request) -> None:
    _require_pending_self(session, request)
    v = session.exec(select(Verification).where(Verification.request_id == request.id)).first()
    if v is not None:
        wait = rules.resend_wait(_state(v), otp_rules(rt), now=rt.clock())
        if wait > timedelta(0):
            raise RateLimited(
                "인증번호를 너무 자주 요청하셨습니다. 잠시 후 다시 시도해 주세요.",
                retry_after=wait,
                field="code",
            )
    issue_code(session, rt, request, actor="requester")


class CodeLocked(RateLimited):
    """Too many wrong codes: the lock (and the attempt that set it) is committed."""

    commit = True


class CodeRefused(BusinessRuleViolation):
    """A wrong or expired code: the attempt is committed so that it counts."""

    commit = True


def verify_code(session: Session, rt: Runtime, request: Request, code: str) -> None:
    """Check a code. A wrong, expired or locking attempt raises CodeRefused or CodeLocked,
    errors flagged `commit`: the attempt must be counted, so the transaction still commits."""
    _require_pending_self(session, request)
    v = session.exec(select(Verification).where(Verification.request_id == request.id)).first()
    if v is None:
        raise Conflict(
            "보낸 인증번호가 없습니다. 인증번호를 다시 요청해 주세요.", code="no_code_sent"
        )
    now = rt.clock()
    r = otp_rules(rt)
    claimed = _claim_attempt(session, v, r, now)
    # Judged against the row as it was before this attempt took its turn.
    state = replace(_state(v), failed_attempts=v.failed_attempts - 1) if claimed else _state(v)
    matches = secrets.compare_digest(code_hash(rt, request.id, code.strip()), v.code_hash)
    outcome = (
        rules.check_code(state, matches=matches, now=now) if claimed else _unclaimed(state, now)
    )
    if outcome is OtpOutcome.ALREADY_VERIFIED:
        return
    if outcome is OtpOutcome.LOCKED:
        raise CodeLocked(
            "인증번호를 여러 번 틀려 확인이 잠겼습니다. 잠시 후 새 인증번호를 요청해 주세요.",
            retry_after=rules.resend_wait(state, r, now=now),
            field="code",
        )
    if outcome is OtpOutcome.EXPIRED:
        raise CodeRefused(
            "code_expired",
            "code",
            "인증번호의 유효 시간이 지났습니다. 새 인증번호를 요청해 주세요.",
        )
    if outcome is OtpOutcome.WRONG:
        if rules.locks_after_this_failure(state, r):
            v.locked_until = now + r.lock
            note(session, rt, request, "code_locked", actor="requester", attempts=v.failed_attempts)
            raise CodeLocked(
                "인증번호를 여러 번 틀려 확인이 잠겼습니다. 잠시 후 새 인증번호를 요청해 주세요.",
                retry_after=r.lock,
                field="code",
            )
        left = r.max_attempts - v.failed_attempts
        raise CodeRefused(
            "invalid_code", "code", f"인증번호가 맞지 않습니다. {left}번 더 입력할 수 있습니다."
        )
    v.failed_attempts = state.failed_attempts  # the right code is not a failed attempt
    v.verified_at = now
    session.add(
        IdentityCheck(
            request_id=v.request_id,
            method="one_time_code",
            result="verified",
            actor="requester",
            checked_at=now,
        )
    )
    session.flush()
    if rules.verified_automatically(relationship(session, request), evidence_of(session, request)):
        move(session, rt, request, Status.IN_REVIEW, actor="requester", identity="one_time_code")
        send_when_verified(session, rt, request, actor="requester")


def _claim_attempt(session: Session, v: Verification, r: rules.OtpRules, now: datetime) -> bool:
    """Take one of the code's attempts, in one conditional UPDATE, before the code is judged:
    of any number of attempts at once, at most OTP_MAX_ATTEMPTS are ever judged, on SQLite as
    on PostgreSQL (a read, then a write, let parallel attempts all read the same count). The
    row is reread either way, so `v` is what the attempt is judged against."""
    claimable = (
        col(Verification.id) == v.id,
        col(Verification.verified_at).is_(None),
        col(Verification.locked_until).is_(None),
        col(Verification.expires_at) > now,
        col(Verification.failed_attempts) < r.max_attempts,
    )
    claim = update(Verification).where(*claimable)
    claim = claim.values(failed_attempts=col(Verification.failed_attempts) + 1)
    claimed = session.connection().execute(claim).rowcount == 1
    session.refresh(v)
    return bool(claimed)


def _unclaimed(state: rules.OtpState, now: datetime) -> OtpOutcome:
    """Why an attempt got no turn: verified, locked, expired, or out of attempts (locked)."""
    outcome = rules.check_code(state, matches=False, now=now)
    return OtpOutcome.LOCKED if outcome is OtpOutcome.WRONG else outcome


def _require_pending_self(session: Session, request: Request) -> None:
    if request.status != Status.IDENTITY_PENDING:
        raise InvalidTransition("본인 확인이 필요한 단계가 아닙니다.")
    # Only requesters whose proof is the contact code (Decree art. 46(1); the table in
    # app/workflows/identity.py) verify by code; representatives show documents.
    if (
        rules.Piece.VERIFY_CONTACT
        not in rules.REQUIRED[Relationship(relationship(session, request))]
    ):
        raise InvalidTransition("대리인의 요청은 제출 서류로 확인합니다.")
