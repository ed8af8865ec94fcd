"""What the app holds for its lifetime: settings, engine, key, policy, calendar, clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy.engine import Engine

from app.calendar import load_calendar
from app.core.crypto import Vault, load_or_create_dev_key
from app.core.limits import FailureLock, IntakeRateLimiter
from app.db import make_engine
from app.errors import RateLimited
from app.evidence.store import EvidenceStore
from app.logrepeat import RepeatedLogs
from app.models.base import utcnow
from app.policy import Policy, load_policy
from app.private_files import private_dir
from app.settings import Settings
from app.workflows import rrn
from app.workflows.deadlines import HolidayCalendar, calendar_days_left, kst_date


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    vault: Vault
    policy: Policy
    calendar: HolidayCalendar
    evidence: EvidenceStore
    clock: Callable[[], datetime] = field(default=utcnow)
    intake_limiter: IntakeRateLimiter | None = None
    code_lock: FailureLock | None = None

    @cached_property
    def audit_key(self) -> bytes:
        """Seals the timeline (app/workflows/audit.py); derived once, used for every event."""
        return self.vault.derive("audit-chain")

    @cached_property
    def repeated_logs(self) -> RepeatedLogs:
        """Warnings a stranger can cause (a bad webhook token): one per LOG_REPEAT_SECONDS."""
        return RepeatedLogs(self.settings.log_repeat_seconds, now=lambda: self.clock().timestamp())

    def check_intake_rate(self, client: str | None) -> float | None:
        """Raise RateLimited when this address filed too often (RIGHTSDESK_INTAKE_RATE_*).
        Returns the moment recorded, for `forgive_intake` (None when no limit is set)."""
        if self.intake_limiter is None:
            return None
        key = self.vault.hash_secret(f"intake-address:{client or 'unknown'}")
        now = self.clock().timestamp()
        wait = self.intake_limiter.hit(key, now)
        if wait is not None:
            raise RateLimited(
                "접수가 너무 잦습니다. 잠시 후 다시 시도해 주세요.",
                retry_after=timedelta(seconds=wait),
            )
        return now

    def forgive_intake(self, client: str | None, at: float | None, exc: BaseException) -> None:
        """A filing refused as invalid (413, 415, 422) does not count against the limit."""
        if self.intake_limiter is None or at is None:
            return
        if getattr(exc, "status", None) not in (413, 415, 422):
            return
        key = self.vault.hash_secret(f"intake-address:{client or 'unknown'}")
        self.intake_limiter.forget(key, at)


def data_key_text(settings: Settings) -> str:
    if settings.data_key:
        return settings.data_key
    # Settings already refuse a missing key outside development.
    return load_or_create_dev_key(settings.data_dir)


def check_channeltalk_services(settings: Settings, policy: Policy) -> None:
    """A chat becomes a request of one service: with the webhook on, that service must be
    known (RIGHTSDESK_CHANNELTALK_SERVICE, or per channel CHANNELTALK_SERVICES)."""
    if not settings.channeltalk_tokens:
        return
    named = [settings.channeltalk_service, *settings.channeltalk_services.values()]
    for code in filter(None, named):
        if policy.service(code) is None:
            raise ValueError(f"Channel Talk service {code!r} is not a service of the policy")
    if settings.channeltalk_service is None and len(policy.services) > 1:
        raise ValueError(
            "RIGHTSDESK_CHANNELTALK_SERVICE is required with the Channel Talk webhook: the "
            "policy has several services (" + ", ".join(s.code for s in policy.services) + ")"
        )


def _warn_if_calendar_runs_out(settings: Settings, now: datetime) -> None:
    left = calendar_days_left(kst_date(now), settings.calendar_last_year)
    if left <= settings.calendar_warn_days:
        logging.getLogger("rightsdesk").warning(
            "the confirmed holiday calendar ends on %s-12-31 (%d day(s) left): check the next "
            "year's 공휴일 in the holiday file, raise RIGHTSDESK_CALENDAR_LAST_YEAR and run "
            "`rightsdesk calendar recompute`; deadlines past it are flagged unconfirmed",
            settings.calendar_last_year,
            left,
        )


def build_runtime(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Runtime:
    """Load and validate everything once at start-up, so a bad policy or key fails fast."""
    if settings.notice_lease_seconds < settings.slowest_send_seconds * 1.1:
        logging.getLogger("rightsdesk").warning(
            "RIGHTSDESK_NOTICE_LEASE_SECONDS (%g) is shorter than the slowest send (%g s): with "
            "several workers a notice still being sent can be taken over and sent twice",
            settings.notice_lease_seconds,
            settings.slowest_send_seconds,
        )
    _warn_if_calendar_runs_out(settings, clock())
    private_dir(settings.data_dir)  # the database, key, evidence and mail drop live here
    # Free text is scrubbed of resident registration numbers before it is sealed (art. 24-2).
    vault = Vault.from_text(data_key_text(settings), scrub=rrn.mask)
    policy = load_policy(settings.policy_file)
    check_channeltalk_services(settings, policy)
    return Runtime(
        settings=settings,
        engine=make_engine(settings),
        vault=vault,
        evidence=EvidenceStore(settings.evidence_dir, vault.derive("evidence-files")),
        policy=policy,
        calendar=load_calendar(
            settings.calendar_first_year, settings.calendar_last_year, settings.holiday_file
        ),
        clock=clock,
        intake_limiter=(
            IntakeRateLimiter(settings.intake_rate_limit, settings.intake_rate_window_seconds)
            if settings.intake_rate_limit
            else None
        ),
        code_lock=FailureLock(
            settings.access_code_max_failures,
            settings.access_code_lock_minutes * 60,
            crowd_failures=settings.access_code_reference_failures,
            crowd_max_failures=settings.access_code_max_failures_under_attack,
        ),
    )
