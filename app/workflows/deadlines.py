"""Legal deadlines for data-subject requests, counted the way the Civil Act counts days.

Pure functions: no clock, no files, no environment. The holiday calendar is an argument
(built by `app.calendar.load_calendar`), and every result carries an explain trace.

Counting (민법 제155조: PIPA and its Decree have no special rule, so arts. 157-161 apply):
- art. 157: the first day (the day of receipt) is not counted, unless the period starts at
  00:00 (오전 영시), in which case it is.
- art. 159: the period expires at the end (24:00 KST) of its last day.
- art. 161: a last day on a Saturday or 공휴일 moves to the next day; we repeat while the next
  day is also a Saturday or 공휴일 (the standard reading).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")

SATURDAY = 5
SUNDAY = 6

# No real calendar has this many closed days in a row; a longer run means a broken calendar.
_MAX_ROLL_DAYS = 31


def kst_date(instant: datetime) -> date:
    """The calendar date in Korea of a tz-aware instant."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(KST).date()


@dataclass(frozen=True)
class HolidayCalendar:
    """공휴일 under 「관공서의 공휴일에 관한 규정」, plus the years the data is confirmed for."""

    days: Mapping[date, str]  # holiday date -> Korean name
    first_year: int
    last_year: int

    def covers(self, d: date) -> bool:
        return self.first_year <= d.year <= self.last_year

    def holiday_name(self, d: date) -> str | None:
        return self.days.get(d)

    def is_closed(self, d: date) -> tuple[bool, str | None]:
        """Whether art. 161 moves a period ending on `d`, and why."""
        if d.weekday() == SATURDAY:
            return True, "토요일"
        name = self.days.get(d)
        if name is not None:
            return True, name
        # Sundays are 공휴일 (관공서의 공휴일에 관한 규정 제2조 제1호) even when the
        # calendar data does not list them.
        if d.weekday() == SUNDAY:
            return True, "일요일"
        return False, None


PERIOD_DAYS: Mapping[str, int] = MappingProxyType(
    {
        "access": 10,  # 영 제41조 제4항
        "correction": 10,  # 영 제43조 제3항
        "deletion": 10,  # 영 제43조 제3항
        "suspension": 10,  # 영 제44조 제2항
        # Design choice: the statute says 지체 없이 (법 제37조 제3항·제4항) and sets no
        # number of days; we cap it at the same 10 days so the request still gets a deadline.
        "consent_withdrawal": 10,
        # Design choice: 법 제38조 제5항 requires an objection (이의제기) procedure but sets no
        # period; we give it 10 days, the period of the decision it challenges.
        "objection": 10,
        # 영 제44조의3: 30 days, extendable twice by 30 days (app/workflows/automated.py).
        "automated_decision_refusal": 30,
        "automated_decision_explanation": 30,
        "automated_decision_review": 30,
        # Design choice: 영 제42조의6 제1항 says 지체 없이 and sets no number of days; like
        # consent withdrawal we cap it at 10 days, the period of the access it stands beside.
        "transmission": 10,
    }
)


class UnknownRequestType(ValueError, KeyError):
    """A request type with no entry in PERIOD_DAYS."""

    def __str__(self) -> str:
        # KeyError would repr() the message; show it as written.
        return str(self.args[0]) if self.args else ""


def period_for(request_type: str) -> int:
    try:
        return PERIOD_DAYS[request_type]
    except KeyError:
        raise UnknownRequestType(f"unknown request type: {request_type!r}") from None


@dataclass(frozen=True)
class ExplainStep:
    date: date
    note: str


@dataclass(frozen=True)
class Deadline:
    due_on: date  # the period ends at 24:00 KST of this day
    period_days: int
    received_on: date  # KST date of receipt (or the start day for deadline_from_date)
    start_counted: bool  # True only under the art. 157 proviso (start at 00:00)
    explain: tuple[ExplainStep, ...]
    beyond_calendar: bool  # some examined day lies outside the confirmed calendar years


_NOTE_RECEIPT = "접수일 (기간에 산입하지 않음, 민법 제157조)"
_NOTE_RECEIPT_MIDNIGHT = (
    "접수일 — 00:00(KST) 접수로 기간이 오전 영시부터 시작하므로 이 날을 산입 (민법 제157조 단서)"
)
_NOTE_START_DAY = "기준일 (기간에 산입하지 않음, 민법 제157조)"
_NOTE_DUE = "기한 만료일: 이 날 24:00(KST)까지, 민법 제159조"


def legal_deadline(received_at: datetime, period_days: int, calendar: HolidayCalendar) -> Deadline:
    """Deadline for a request received at `received_at` (tz-aware, any zone)."""
    received_on = kst_date(received_at)
    local = received_at.astimezone(KST)
    at_midnight = (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
    if at_midnight:
        # art. 157 proviso: a period that begins at 00:00 counts its first day. This is also
        # the earlier, conservative result.
        return _count(received_on, received_on, True, _NOTE_RECEIPT_MIDNIGHT, period_days, calendar)
    # art. 157 main text: the day of receipt is not counted.
    return _count(
        received_on, received_on + timedelta(days=1), False, _NOTE_RECEIPT, period_days, calendar
    )


def deadline_from_date(start: date, period_days: int, calendar: HolidayCalendar) -> Deadline:
    """Deadline for a period running "from" a given day, e.g. 10 days from the day a
    postponement reason ends (표준지침 제31조 제1항). The start day is not counted (art. 157)."""
    return _count(start, start + timedelta(days=1), False, _NOTE_START_DAY, period_days, calendar)


def _count(
    anchor: date,
    day_one: date,
    start_counted: bool,
    anchor_note: str,
    period_days: int,
    calendar: HolidayCalendar,
) -> Deadline:
    if period_days < 1:
        raise ValueError(f"period_days must be at least 1, got {period_days}")
    last_day = day_one + timedelta(days=period_days - 1)
    steps = [
        ExplainStep(anchor, anchor_note),
        ExplainStep(day_one, "기산일 (1일째)"),
        ExplainStep(last_day, f"기간 말일 ({period_days}일째)"),
    ]
    examined = [last_day]
    due = last_day
    # art. 161: move past every Saturday / 공휴일, one day at a time.
    while True:
        closed, reason = calendar.is_closed(due)
        if not closed:
            break
        label = _closed_label(calendar, due, reason)
        steps.append(ExplainStep(due, f"{label} — 다음 날로 연장 (민법 제161조)"))
        if len(examined) > _MAX_ROLL_DAYS:
            raise ValueError(f"no open day within {_MAX_ROLL_DAYS} days after {last_day}")
        due += timedelta(days=1)
        examined.append(due)
    # art. 159: expires at the end of the due day.
    steps.append(ExplainStep(due, _NOTE_DUE))
    return Deadline(
        due_on=due,
        period_days=period_days,
        received_on=anchor,
        start_counted=start_counted,
        explain=tuple(steps),
        beyond_calendar=any(not calendar.covers(d) for d in examined),
    )


def _closed_label(calendar: HolidayCalendar, d: date, reason: str | None) -> str:
    if reason == "토요일":
        holiday = calendar.holiday_name(d)
        return f"토요일·공휴일({holiday})" if holiday else "토요일"
    return f"공휴일({reason})"


def calendar_days_left(today: date, last_year: int) -> int:
    """Days from `today` to the last confirmed day (31 December of `last_year`); negative once
    past it. Law rule 5: deadlines beyond the confirmed years are only provisional."""
    return (date(last_year, 12, 31) - today).days


def target_date(legal_due_on: date, days_before: int, calendar: HolidayCalendar) -> date:
    """The team's internal target: `days_before` calendar days before the legal deadline,
    moved back to the previous working day so that the team is never aimed at a day off."""
    if days_before < 0:
        raise ValueError(f"days_before must not be negative, got {days_before}")
    target = legal_due_on - timedelta(days=days_before)
    for _ in range(_MAX_ROLL_DAYS):
        if not calendar.is_closed(target)[0]:
            return target
        target -= timedelta(days=1)
    raise ValueError(f"no working day in the {_MAX_ROLL_DAYS} days before {legal_due_on}")
