"""SLA state: derived from the legal deadline, never stored. One definition, with its SQL twin
kept beside it so the queue can filter in the database; tests hold the two to each other."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, case
from sqlalchemy.sql.elements import ColumnElement

from app.workflows.lifecycle import CLOSED


class Sla(StrEnum):
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    MET = "met"
    BREACHED = "breached"


def sla_state(
    *, status: str, legal_due_on: date, closed_on: date | None, today: date, due_soon_days: int
) -> Sla:
    """`today` is the KST date. The deadline runs to 24:00 KST of legal_due_on (Civil Act
    art. 159), so a request is overdue only from the next day."""
    if status in CLOSED:
        assert closed_on is not None
        return Sla.MET if closed_on <= legal_due_on else Sla.BREACHED
    if legal_due_on < today:
        return Sla.OVERDUE
    if legal_due_on <= today + timedelta(days=due_soon_days):
        return Sla.DUE_SOON
    return Sla.ON_TRACK


def closed_statuses() -> BindParameter[list[str]]:
    """The closed statuses as sorted literals in the SQL text: SQLite uses the partial index
    of open requests (ix_request_open_due) only when the query repeats its WHERE term word for
    word, which a list of bound parameters never does."""
    return bindparam(
        "closed",
        sorted(s.value for s in CLOSED),
        expanding=True,
        literal_execute=True,
        unique=True,
    )


def sla_condition(
    state: Sla, *, status: Any, legal_due_on: Any, closed_on: Any, today: date, due_soon_days: int
) -> ColumnElement[bool]:
    """The SQL twin of sla_state() for one state: plain comparisons with bound dates, so it
    means the same on SQLite and PostgreSQL."""
    closed = status.in_(closed_statuses())
    is_open = status.not_in(closed_statuses())
    soon = today + timedelta(days=due_soon_days)
    conditions: dict[Sla, ColumnElement[bool]] = {
        Sla.MET: and_(closed, closed_on <= legal_due_on),
        Sla.BREACHED: and_(closed, closed_on > legal_due_on),
        Sla.OVERDUE: and_(is_open, legal_due_on < today),
        Sla.DUE_SOON: and_(is_open, legal_due_on >= today, legal_due_on <= soon),
        Sla.ON_TRACK: and_(is_open, legal_due_on > soon),
    }
    return conditions[state]


def sla_column(
    *, status: Any, legal_due_on: Any, closed_on: Any, today: date, due_soon_days: int
) -> ColumnElement[str]:
    """The state as a SQL expression (for counting by state in one query)."""
    cols = dict(status=status, legal_due_on=legal_due_on, closed_on=closed_on)
    return case(
        *[
            (sla_condition(s, **cols, today=today, due_soon_days=due_soon_days), s.value)
            for s in Sla
        ],
        else_=None,
    )
