"""The lifecycle table and the SLA definition with its SQL twin (pure, no HTTP)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Column, Date, MetaData, String, Table, create_engine, insert, select

from app.errors import InvalidTransition
from app.workflows.lifecycle import CLOSED, OPEN, TRANSITIONS, Status, transition
from app.workflows.sla import Sla, sla_column, sla_condition, sla_state

NOW = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)


@dataclass
class Req:
    status: str = "identity_pending"
    type: str = "access"
    resume_status: str | None = None
    version: int = 1
    closed_at: datetime | None = None
    closed_on: date | None = None
    received_at: datetime = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)
    days_to_close: int | None = None


def test_every_status_has_a_row_and_closed_ones_are_final() -> None:
    assert set(TRANSITIONS) == set(Status)
    for status in CLOSED:
        assert TRANSITIONS[status] == frozenset()
    for status in OPEN:
        assert Status.WITHDRAWN in TRANSITIONS[status]  # the requester may always withdraw


def test_refused_transition_changes_nothing() -> None:
    req = Req()
    with pytest.raises(InvalidTransition):
        transition(req, Status.COMPLETED, actor="staff:1", now=NOW)
    assert req.status == "identity_pending" and req.version == 1


def test_transition_bumps_version_and_closing_sets_the_kst_day() -> None:
    req = Req()
    ev = transition(req, Status.IN_REVIEW, actor="staff:1", now=NOW)
    assert (ev.from_status, ev.to_status, req.version) == ("identity_pending", "in_review", 2)
    late = datetime(2026, 12, 15, 16, 0, tzinfo=UTC)  # 01:00 KST on 12-16
    transition(req, Status.WITHDRAWN, actor="requester", now=late)
    assert req.closed_at == late and req.closed_on == date(2026, 12, 16)
    assert req.days_to_close == 1


def test_information_request_returns_to_where_it_was() -> None:
    req = Req(status="in_review")
    transition(req, Status.AWAITING_REQUESTER, actor="staff:1", now=NOW)
    assert req.resume_status == "in_review"
    with pytest.raises(InvalidTransition):
        transition(req, Status.IDENTITY_PENDING, actor="requester", now=NOW)
    transition(req, Status.IN_REVIEW, actor="requester", now=NOW)
    assert req.resume_status is None


def test_only_access_can_be_postponed() -> None:
    transition(Req(status="in_review"), Status.POSTPONED, actor="staff:1", now=NOW)
    with pytest.raises(InvalidTransition):
        transition(Req(status="in_review", type="deletion"), Status.POSTPONED, actor="s", now=NOW)


TODAY = date(2026, 12, 15)


@pytest.mark.parametrize(
    ("status", "due", "closed_on", "expected"),
    [
        ("in_review", TODAY + timedelta(days=4), None, Sla.ON_TRACK),
        ("in_review", TODAY + timedelta(days=3), None, Sla.DUE_SOON),
        ("in_review", TODAY, None, Sla.DUE_SOON),  # runs to 24:00 KST today
        ("in_review", TODAY - timedelta(days=1), None, Sla.OVERDUE),
        ("completed", TODAY, TODAY, Sla.MET),
        ("completed", TODAY, TODAY + timedelta(days=1), Sla.BREACHED),
    ],
)
def test_sla_state(status: str, due: date, closed_on: date | None, expected: Sla) -> None:
    got = sla_state(
        status=status, legal_due_on=due, closed_on=closed_on, today=TODAY, due_soon_days=3
    )
    assert got is expected


def test_sql_twin_agrees_with_the_python_definition() -> None:
    """Every combination of status, deadline and closing day, evaluated by SQLite."""
    engine = create_engine("sqlite://")
    md = MetaData()
    t = Table(
        "r",
        md,
        Column("status", String),
        Column("due", Date),
        Column("closed", Date),
        Column("label", String),
    )
    md.create_all(engine)
    offsets = range(-5, 6)
    rows = []
    for status, due_off, closed_off in itertools.product(list(Status), offsets, offsets):
        closed = TODAY + timedelta(days=closed_off) if status in CLOSED else None
        due = TODAY + timedelta(days=due_off)
        rows.append(
            {
                "status": status.value,
                "due": due,
                "closed": closed,
                "label": f"{status}|{due}|{closed}",
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(t), rows)
        cols = dict(
            status=t.c.status,
            legal_due_on=t.c.due,
            closed_on=t.c.closed,
            today=TODAY,
            due_soon_days=3,
        )
        got = dict(conn.execute(select(t.c.label, sla_column(**cols))).all())
        for state in Sla:
            in_sql = {
                r[0] for r in conn.execute(select(t.c.label).where(sla_condition(state, **cols)))
            }
            in_py = {
                r["label"]
                for r in rows
                if sla_state(
                    status=r["status"],
                    legal_due_on=r["due"],
                    closed_on=r["closed"],
                    today=TODAY,
                    due_soon_days=3,
                )
                is state
            }
            assert in_sql == in_py, state
    assert all(got[r["label"]] is not None for r in rows)
