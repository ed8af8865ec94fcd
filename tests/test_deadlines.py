"""Legal deadlines (민법 제157·159·161조) and the holiday calendar they use."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.calendar import CalendarError, load_calendar
from app.workflows.deadlines import (
    KST,
    PERIOD_DAYS,
    Deadline,
    HolidayCalendar,
    UnknownRequestType,
    deadline_from_date,
    kst_date,
    legal_deadline,
    period_for,
    target_date,
)

SHIPPED_OVERRIDES = Path(__file__).resolve().parents[1] / "app" / "policy" / "holidays_kr.toml"


@pytest.fixture(scope="module")
def cal() -> HolidayCalendar:
    return load_calendar(2024, 2027, SHIPPED_OVERRIDES)


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST)


def notes_on(deadline: Deadline, day: date) -> list[str]:
    return [s.note for s in deadline.explain if s.date == day]


def rolled_days(deadline: Deadline) -> list[date]:
    return [s.date for s in deadline.explain if "제161조" in s.note]


def hand_built(
    days: dict[date, str], first_year: int = 2026, last_year: int = 2026
) -> HolidayCalendar:
    return HolidayCalendar(days=days, first_year=first_year, last_year=last_year)


# --- worked examples from the law notes -------------------------------------------------


def test_christmas_then_weekend_rolls_to_monday(cal: HolidayCalendar) -> None:
    d = legal_deadline(kst(2026, 12, 15, 10, 0), 10, cal)
    assert d.due_on == date(2026, 12, 28)
    assert d.received_on == date(2026, 12, 15)
    assert not d.start_counted
    assert not d.beyond_calendar
    assert rolled_days(d) == [date(2026, 12, 25), date(2026, 12, 26), date(2026, 12, 27)]
    assert any("성탄절" in n and "제161조" in n for n in notes_on(d, date(2026, 12, 25)))
    assert any("토요일" in n for n in notes_on(d, date(2026, 12, 26)))
    assert any("일요일" in n for n in notes_on(d, date(2026, 12, 27)))


def test_trace_lists_receipt_day_one_last_day_and_expiry_in_order(cal: HolidayCalendar) -> None:
    d = legal_deadline(kst(2026, 12, 15, 10, 0), 10, cal)
    first, day_one, last = d.explain[:3]
    assert (first.date, first.note) == (
        date(2026, 12, 15),
        "접수일 (기간에 산입하지 않음, 민법 제157조)",
    )
    assert day_one.date == date(2026, 12, 16) and "기산일" in day_one.note
    assert last.date == date(2026, 12, 25) and "기간 말일 (10일째)" in last.note
    final = d.explain[-1]
    assert final.date == date(2026, 12, 28)
    assert "24:00(KST)" in final.note and "제159조" in final.note


def test_friday_receipt_counts_ten_calendar_days(cal: HolidayCalendar) -> None:
    d = legal_deadline(kst(2026, 11, 27, 14, 0), 10, cal)
    assert d.due_on == date(2026, 12, 7)
    assert rolled_days(d) == []


def test_after_midnight_kst_counts_from_the_korean_date(cal: HolidayCalendar) -> None:
    # 2026-11-27 15:30 UTC is Saturday 2026-11-28 00:30 in Seoul.
    received = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
    d = legal_deadline(received, 10, cal)
    assert d.received_on == date(2026, 11, 28)
    assert d.explain[1].date == date(2026, 11, 29)  # day 1 = Sunday
    assert d.due_on == date(2026, 12, 8)  # day 10 = Tuesday; counting from Friday gives 12-07


def test_any_timezone_is_converted_to_kst(cal: HolidayCalendar) -> None:
    # 10:30 in New York on Friday 11-27 is 00:30 on Saturday 11-28 in Seoul.
    received = datetime(2026, 11, 27, 10, 30, tzinfo=ZoneInfo("America/New_York"))
    assert legal_deadline(received, 10, cal).due_on == date(2026, 12, 8)


def test_exactly_midnight_kst_counts_the_receipt_day(cal: HolidayCalendar) -> None:
    midnight = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 2026-11-28 00:00:00 KST
    d = legal_deadline(midnight, 10, cal)
    assert d.start_counted
    assert d.received_on == date(2026, 11, 28)
    assert d.explain[1].date == date(2026, 11, 28)  # day 1 is the receipt day
    assert d.due_on == date(2026, 12, 7)  # one day earlier than at 00:30
    assert "제157조 단서" in d.explain[0].note


def test_one_second_after_midnight_is_not_the_proviso(cal: HolidayCalendar) -> None:
    d = legal_deadline(kst(2026, 11, 28, 0, 0, 1), 10, cal)
    assert not d.start_counted
    assert d.due_on == date(2026, 12, 8)


def test_holiday_inside_the_period_does_not_extend_it(cal: HolidayCalendar) -> None:
    # Saturday receipt; 삼일절 (Mon 03-01) is day 9, day 10 is Tuesday 03-02.
    d = legal_deadline(kst(2027, 2, 20, 11, 0), 10, cal)
    assert d.due_on == date(2027, 3, 2)
    assert rolled_days(d) == []


# --- consecutive closed days --------------------------------------------------------------


def test_chuseok_block_2025_rolls_through_seven_closed_days(cal: HolidayCalendar) -> None:
    # Day 10 = Fri 10-03 개천절, then Sat, Sun/추석 전날, 추석, 추석 다음날, 대체 휴일, 한글날.
    d = legal_deadline(kst(2025, 9, 23, 9, 0), 10, cal)
    assert d.due_on == date(2025, 10, 10)
    assert rolled_days(d) == [date(2025, 10, 3) + timedelta(days=i) for i in range(7)]
    assert any("개천절" in n for n in notes_on(d, date(2025, 10, 3)))
    assert any("한글날" in n for n in notes_on(d, date(2025, 10, 9)))


def test_seollal_block_2027_with_substitute_day(cal: HolidayCalendar) -> None:
    # Day 10 = Sat 02-06 (설날 전날); Sun 설날, Mon 설날 다음날, Tue 대체 휴일.
    d = legal_deadline(kst(2027, 1, 27, 9, 0), 10, cal)
    assert d.due_on == date(2027, 2, 10)
    assert any("대체 휴일" in n for n in notes_on(d, date(2027, 2, 9)))


def test_chuseok_block_2026_ends_before_monday(cal: HolidayCalendar) -> None:
    d = legal_deadline(kst(2026, 9, 14, 9, 0), 10, cal)
    assert d.due_on == date(2026, 9, 28)
    assert rolled_days(d) == [date(2026, 9, 24) + timedelta(days=i) for i in range(4)]


def test_saturday_that_is_also_a_holiday_names_both(cal: HolidayCalendar) -> None:
    # Day 10 = Sat 2026-06-06 현충일.
    d = legal_deadline(kst(2026, 5, 27, 9, 0), 10, cal)
    assert d.due_on == date(2026, 6, 8)
    assert any("토요일" in n and "현충일" in n for n in notes_on(d, date(2026, 6, 6)))


def test_one_day_period_rolls_off_the_weekend(cal: HolidayCalendar) -> None:
    d = legal_deadline(kst(2026, 12, 4, 9, 0), 1, cal)  # Friday; day 1 = Saturday
    assert d.due_on == date(2026, 12, 7)


def test_period_must_be_positive(cal: HolidayCalendar) -> None:
    with pytest.raises(ValueError):
        legal_deadline(kst(2026, 12, 4, 9, 0), 0, cal)


# --- calendar bounds ----------------------------------------------------------------------


def test_due_date_beyond_loaded_years_is_flagged() -> None:
    short = load_calendar(2024, 2026, SHIPPED_OVERRIDES)
    d = legal_deadline(kst(2026, 12, 28, 10, 0), 10, short)
    assert d.due_on == date(2027, 1, 7)
    assert d.beyond_calendar


def test_same_due_date_inside_loaded_years_is_not_flagged(cal: HolidayCalendar) -> None:
    d = legal_deadline(kst(2026, 12, 28, 10, 0), 10, cal)
    assert d.due_on == date(2027, 1, 7)
    assert not d.beyond_calendar


def test_roll_into_an_unloaded_year_is_flagged() -> None:
    # Day 10 = Thu 12-31 is inside the calendar, but it rolls into 2027, which is not.
    received = kst(2026, 12, 21, 10, 0)
    open_year_end = legal_deadline(received, 10, hand_built({}))
    assert open_year_end.due_on == date(2026, 12, 31)
    assert not open_year_end.beyond_calendar
    closed_year_end = legal_deadline(received, 10, hand_built({date(2026, 12, 31): "임시공휴일"}))
    assert closed_year_end.due_on == date(2027, 1, 1)
    assert closed_year_end.beyond_calendar


# --- inputs -------------------------------------------------------------------------------


def test_naive_datetime_is_refused(cal: HolidayCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        legal_deadline(datetime(2026, 12, 15, 10, 0), 10, cal)
    with pytest.raises(ValueError):
        kst_date(datetime(2026, 12, 15, 10, 0))


def test_kst_date_of_utc_evening_is_next_day() -> None:
    assert kst_date(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == date(2027, 1, 1)
    assert kst_date(datetime(2026, 12, 31, 14, 59, 59, tzinfo=UTC)) == date(2026, 12, 31)


def test_periods_by_request_type() -> None:
    assert {t: period_for(t) for t in PERIOD_DAYS} == {
        "access": 10,
        "correction": 10,
        "deletion": 10,
        "suspension": 10,
        "consent_withdrawal": 10,
        "objection": 10,
        # Decree art. 44-3
        "automated_decision_refusal": 30,
        "automated_decision_explanation": 30,
        "automated_decision_review": 30,
        # Decree 42-6(1) says 지체 없이; 10 days is our cap (docs/decisions.md).
        "transmission": 10,
    }


def test_unknown_request_type_is_a_value_error_and_a_key_error() -> None:
    with pytest.raises(UnknownRequestType, match="portability") as info:
        period_for("portability")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, KeyError)


# --- deadline_from_date and target_date ------------------------------------------------------


def test_deadline_from_date_does_not_count_the_start_day(cal: HolidayCalendar) -> None:
    d = deadline_from_date(date(2026, 12, 15), 10, cal)
    assert d.due_on == date(2026, 12, 28)
    assert not d.start_counted
    assert d.explain[0].date == date(2026, 12, 15) and "기준일" in d.explain[0].note
    assert d.explain[1].date == date(2026, 12, 16)


def test_deadline_from_date_matches_daytime_receipt_all_2026(cal: HolidayCalendar) -> None:
    day = date(2026, 1, 1)
    while day.year == 2026:
        from_date = deadline_from_date(day, 10, cal)
        from_instant = legal_deadline(kst(day.year, day.month, day.day, 12, 0), 10, cal)
        assert from_date.due_on == from_instant.due_on, day
        assert from_date.explain[1:] == from_instant.explain[1:], day
        day += timedelta(days=1)


def test_target_date_moves_back_to_a_working_day(cal: HolidayCalendar) -> None:
    # 12-28 minus 3 is 성탄절 (Fri 12-25): the team is aimed at Thu 12-24 instead.
    assert target_date(date(2026, 12, 28), 3, cal) == date(2026, 12, 24)
    assert target_date(date(2026, 12, 7), 3, cal) == date(2026, 12, 4)
    assert target_date(date(2026, 12, 28), 0, cal) == date(2026, 12, 28)
    with pytest.raises(ValueError):
        target_date(date(2026, 12, 28), -1, cal)


# --- the calendar ---------------------------------------------------------------------------


def test_is_closed_on_a_hand_built_calendar() -> None:
    c = hand_built({date(2026, 12, 25): "성탄절"})
    assert c.is_closed(date(2026, 12, 25)) == (True, "성탄절")
    assert c.is_closed(date(2026, 12, 26)) == (True, "토요일")
    # Sundays are 공휴일 even when the data leaves them out.
    assert c.is_closed(date(2026, 12, 27)) == (True, "일요일")
    assert c.is_closed(date(2026, 12, 28)) == (False, None)
    assert c.covers(date(2026, 1, 1)) and not c.covers(date(2027, 1, 1))


def test_loader_takes_package_holidays_substitutes_and_sundays(cal: HolidayCalendar) -> None:
    assert cal.holiday_name(date(2024, 10, 1)) == "국군의 날"  # 임시공휴일
    assert cal.holiday_name(date(2025, 1, 27)) == "임시공휴일"
    assert cal.holiday_name(date(2025, 6, 3)) == "대통령 선거일"
    assert cal.holiday_name(date(2026, 6, 3)) == "지방선거일"
    assert cal.holiday_name(date(2026, 12, 25)) == "성탄절"
    assert cal.holiday_name(date(2027, 12, 27)) == "성탄절 대체 휴일"
    assert cal.holiday_name(date(2025, 5, 5)) == "부처님오신날, 어린이날"
    assert cal.holiday_name(date(2026, 11, 29)) == "일요일"
    assert cal.holiday_name(date(2026, 3, 1)) == "삼일절"  # a holiday on a Sunday keeps its name
    assert cal.holiday_name(date(2026, 11, 27)) is None
    assert cal.holiday_name(date(2026, 11, 28)) is None  # Saturdays are not 공휴일


def test_labour_day_2026_is_a_public_holiday(cal: HolidayCalendar) -> None:
    # 노동절 is a 공휴일 from 2026 (law §9): day 10 = Fri 2026-05-01 rolls to Monday 05-04.
    assert cal.holiday_name(date(2026, 5, 1)) == "노동절"
    received = kst(2026, 4, 21, 10, 0)
    assert legal_deadline(received, 10, cal).due_on == date(2026, 5, 4)


def test_override_file_adds_and_removes_days(tmp_path: Path) -> None:
    f = tmp_path / "overrides.toml"
    f.write_text(
        '[[add]]\ndate = 2026-12-07\nname = "임시공휴일"\n\n'
        '[[remove]]\ndate = 2026-12-25\nreason = "test"\n\n'
        '[[add]]\ndate = 2031-01-02\nname = "outside the loaded years"\n',
        encoding="utf-8",
    )
    c = load_calendar(2026, 2026, f)
    assert c.holiday_name(date(2026, 12, 7)) == "임시공휴일"
    assert c.holiday_name(date(2026, 12, 25)) is None
    assert c.holiday_name(date(2031, 1, 2)) is None
    friday = legal_deadline(kst(2026, 11, 27, 14, 0), 10, c)
    assert friday.due_on == date(2026, 12, 8)
    assert any("임시공휴일" in n for n in notes_on(friday, date(2026, 12, 7)))
    assert legal_deadline(kst(2026, 12, 15, 10, 0), 10, c).due_on == date(2026, 12, 25)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[[add]]\ndate = 2026-06-03\nname = \n", "invalid TOML"),
        (
            '[[add]]\ndate = "2026-06-03"\nname = "x"\n',
            "[[add]] entry #1: 'date' must be a bare TOML date",
        ),
        ('[[add]]\ndate = 2026-06-03T00:00:00\nname = "x"\n', "'date' must be a bare TOML date"),
        (
            "[[add]]\ndate = 2026-06-03\n",
            "[[add]] entry #1 (2026-06-03): 'name' must be a non-empty string",
        ),
        ('[[add]]\ndate = 2026-06-03\nname = "  "\n', "'name' must be a non-empty string"),
        ('[[add]]\ndate = 2026-06-03\nname = "x"\nnote = "y"\n', "unknown key(s) ['note']"),
        ("[[remove]]\ndate = 2026-12-25\n", "[[remove]] entry #1 (2026-12-25): 'reason'"),
        ('[add]\ndate = 2026-06-03\nname = "x"\n', "'add' must be an array of tables"),
        ('[[holiday]]\ndate = 2026-06-03\nname = "x"\n', "unknown top-level key(s) ['holiday']"),
        (
            '[[add]]\ndate = 2026-06-03\nname = "x"\n[[add]]\ndate = 2026-06-03\nname = "y"\n',
            "[[add]] entry #2: 2026-06-03 appears twice",
        ),
        (
            '[[add]]\ndate = 2026-12-24\nname = "x"\n[[remove]]\ndate = 2026-12-24\nreason = "y"\n',
            "2026-12-24 is both in [[add]] and [[remove]]",
        ),
        (
            '[[remove]]\ndate = 2026-12-02\nreason = "typo"\n',
            "[[remove]] 2026-12-02 (typo): not a holiday",
        ),
        ('[[remove]]\ndate = 2026-11-29\nreason = "x"\n', "a Sunday is always a 공휴일"),
    ],
)
def test_malformed_override_file_is_refused(tmp_path: Path, body: str, problem: str) -> None:
    f = tmp_path / "bad_holidays.toml"
    f.write_text(body, encoding="utf-8")
    with pytest.raises(CalendarError) as info:
        load_calendar(2026, 2026, f)
    message = str(info.value)
    assert "bad_holidays.toml" in message
    assert problem in message


def test_missing_override_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="cannot read"):
        load_calendar(2026, 2026, tmp_path / "absent.toml")


def test_inverted_year_range_is_refused() -> None:
    with pytest.raises(CalendarError):
        load_calendar(2027, 2026, None)


def test_calendar_with_no_open_day_is_an_error_not_a_hang() -> None:
    start = date(2026, 3, 2)
    everything_closed = hand_built({start + timedelta(days=i): "x" for i in range(400)})
    with pytest.raises(ValueError, match="no open day"):
        deadline_from_date(start, 10, everything_closed)
