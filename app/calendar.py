"""Build the holiday calendar the deadline rules use (impure: reads a package and a file).

공휴일 for 민법 제161조 are the days of 「관공서의 공휴일에 관한 규정」: every Sunday, the
national holidays and their substitute days (from the `holidays` package, KR), and days the
government designates late or that the package gets wrong (the override TOML file).
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import holidays

from app.workflows.deadlines import SUNDAY, HolidayCalendar

# Display names: the package uses the statutory name 기독탄신일 (25 December) and the label
# 신정연휴 for 1 January; the explain trace shows the names people know.
_NAME_ALIASES = {
    "기독탄신일": "성탄절",
    "신정연휴": "신정",
}

_ADD_KEYS = {"date", "name"}
_REMOVE_KEYS = {"date", "reason"}


class CalendarError(ValueError):
    """The holiday calendar could not be built (bad override file, bad year range)."""


def load_calendar(first_year: int, last_year: int, override_file: Path | None) -> HolidayCalendar:
    if first_year > last_year:
        raise CalendarError(f"first_year {first_year} is after last_year {last_year}")
    days: dict[date, str] = {}
    for d, name in _package_holidays(first_year, last_year).items():
        days[d] = name
    day = date(first_year, 1, 1)
    while day.year <= last_year:
        if day.weekday() == SUNDAY:
            days.setdefault(day, "일요일")
        day += timedelta(days=1)
    if override_file is not None:
        _apply_overrides(days, override_file, first_year, last_year)
    return HolidayCalendar(
        days=MappingProxyType(dict(sorted(days.items()))),
        first_year=first_year,
        last_year=last_year,
    )


def _package_holidays(first_year: int, last_year: int) -> dict[date, str]:
    # Default category is PUBLIC; observed=True (the default) includes 대체 휴일.
    kr = holidays.country_holidays("KR", years=range(first_year, last_year + 1), language="ko")
    result: dict[date, str] = {}
    for d in sorted(kr):
        # Two holidays on one day (e.g. 2025-05-05) come back as a list.
        names = [_display_name(n) for n in kr.get_list(d)]
        result[d] = ", ".join(names)
    return result


def _display_name(name: str) -> str:
    for package_name, shown in _NAME_ALIASES.items():
        name = name.replace(package_name, shown)
    return name


def _apply_overrides(days: dict[date, str], path: Path, first_year: int, last_year: int) -> None:
    adds, removes = _read_overrides(path)
    add_dates = {d for d, _ in adds}
    for d, _reason in removes:
        if d in add_dates:
            raise CalendarError(f"{path}: {d} is both in [[add]] and [[remove]]")
    for d, reason in removes:
        if not first_year <= d.year <= last_year:
            continue
        if d.weekday() == SUNDAY:
            raise CalendarError(
                f"{path}: [[remove]] {d} ({reason}): "
                "a Sunday is always a 공휴일 and cannot be removed"
            )
        if d not in days:
            # Most likely a typo in the date, or the package no longer lists the day.
            raise CalendarError(f"{path}: [[remove]] {d} ({reason}): not a holiday in the calendar")
        del days[d]
    for d, name in adds:
        if first_year <= d.year <= last_year:
            days[d] = name


def _read_overrides(path: Path) -> tuple[list[tuple[date, str]], list[tuple[date, str]]]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise CalendarError(f"{path}: cannot read holiday override file: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise CalendarError(f"{path}: invalid TOML: {e}") from e
    unknown = set(data) - {"add", "remove"}
    if unknown:
        raise CalendarError(
            f"{path}: unknown top-level key(s) {sorted(unknown)}; "
            "only [[add]] and [[remove]] are allowed"
        )
    adds = _read_entries(path, data.get("add", []), "add", "name", _ADD_KEYS)
    removes = _read_entries(path, data.get("remove", []), "remove", "reason", _REMOVE_KEYS)
    return adds, removes


def _read_entries(
    path: Path, entries: Any, table: str, text_key: str, allowed: set[str]
) -> list[tuple[date, str]]:
    if not isinstance(entries, list):
        raise CalendarError(f"{path}: '{table}' must be an array of tables ([[{table}]])")
    result: list[tuple[date, str]] = []
    seen: set[date] = set()
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: [[{table}]] entry #{number}"
        if not isinstance(entry, dict):
            raise CalendarError(f"{where}: must be a table")
        unknown = set(entry) - allowed
        if unknown:
            raise CalendarError(f"{where}: unknown key(s) {sorted(unknown)}")
        d = entry.get("date")
        # tomllib gives a bare TOML date as datetime.date; a datetime or a string is wrong.
        if type(d) is not date:
            raise CalendarError(
                f"{where}: 'date' must be a bare TOML date such as 2026-06-03 (got {d!r})"
            )
        text = entry.get(text_key)
        if not isinstance(text, str) or not text.strip():
            raise CalendarError(f"{where} ({d}): '{text_key}' must be a non-empty string")
        if d in seen:
            raise CalendarError(f"{where}: {d} appears twice in [[{table}]]")
        seen.add(d)
        result.append((d, text.strip()))
    return result
