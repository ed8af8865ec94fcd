"""Bounds of what the API accepts: ids that fit the database, dates it can compute with."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, Field

# Ids are 32-bit on PostgreSQL (SERIAL): anything larger is refused with 422, not a 500.
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdField = Annotated[int, Field(ge=1, le=MAX_ID)]


def _sane_day(value: date) -> date:
    # Dates this service can mean; beyond them time-zone arithmetic overflows (year 1, 9999).
    if not 2000 <= value.year <= 2999:
        raise ValueError("2000년부터 2999년 사이의 날짜여야 합니다.")
    return value


def _sane_instant(value: datetime) -> datetime:
    _sane_day(value.date())
    return value


Day = Annotated[date, AfterValidator(_sane_day)]
Instant = Annotated[AwareDatetime, AfterValidator(_sane_instant)]
