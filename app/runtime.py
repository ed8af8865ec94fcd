"""What the app holds for its lifetime: settings, engine, key, policy, calendar, clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from app.calendar import load_calendar
from app.crypto import Vault, load_or_create_dev_key
from app.db import make_engine
from app.evidence.store import EvidenceStore
from app.models.base import utcnow
from app.policy import Policy, load_policy
from app.settings import Settings
from app.workflows.deadlines import HolidayCalendar


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    vault: Vault
    policy: Policy
    calendar: HolidayCalendar
    evidence: EvidenceStore
    clock: Callable[[], datetime] = field(default=utcnow)


def data_key_text(settings: Settings) -> str:
    if settings.data_key:
        return settings.data_key
    # Settings already refuse a missing key outside development.
    return load_or_create_dev_key(settings.data_dir)


def build_runtime(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Runtime:
    """Load and validate everything once at start-up, so a bad policy or key fails fast."""
    vault = Vault.from_text(data_key_text(settings))
    return Runtime(
        settings=settings,
        engine=make_engine(settings),
        vault=vault,
        evidence=EvidenceStore(settings.evidence_dir, vault.derive("evidence-files")),
        policy=load_policy(settings.policy_file),
        calendar=load_calendar(
            settings.calendar_first_year, settings.calendar_last_year, settings.holiday_file
        ),
        clock=clock,
    )
