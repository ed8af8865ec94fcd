"""The SLA summary: counts by state, type and service, due days and performance."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, null, union_all
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from app.models.request import Request
from app.runtime import Runtime
from app.workflows.deadlines import kst_date
from app.workflows.sla import Sla, closed_statuses

# The same literal list as the SLA twin, so these queries can use the partial index too.
_OPEN = col(Request.status).not_in(closed_statuses())


_IS_CLOSED = col(Request.status).in_(closed_statuses())


def summary(session: Session, rt: Runtime) -> dict[str, Any]:
    """Counts by SLA state × type × service, what is overdue and due now, and how the team
    has done over the last 30 and 90 days."""
    now = rt.clock()
    today = kst_date(now)
    counts, unassigned = _counts(session, rt, now)
    by_state: Counter[str | None] = Counter()
    cells = []
    for (sla, rtype, service), n in sorted(counts.items(), key=lambda c: (c[0][0] or "", c[0])):
        if n > 0:
            by_state[sla] += n
            cells.append({"sla": sla, "type": rtype, "service": service, "count": n})
    oldest = session.exec(
        select(Request)
        .where(_OPEN, col(Request.legal_due_on) < today)
        .order_by(col(Request.legal_due_on), col(Request.id))
        .limit(5)
    ).all()
    performance = _performance(session, today, (30, 90))
    return {
        "today": today,
        "totals": {s.value: by_state.get(s.value, 0) for s in Sla},
        "counts": cells,
        "oldest_overdue": [
            {
                "reference": r.reference,
                "type": r.type,
                "legal_deadline": r.legal_due_on,
                "days_overdue": (today - r.legal_due_on).days,
                "assignee": r.assignee_id,
            }
            for r in oldest
        ],
        "due_today": _due_on(session, today),
        "due_tomorrow": _due_on(session, today + timedelta(days=1)),
        "unassigned_too_long": unassigned,
        "last_30_days": performance[30],
        "last_90_days": performance[90],
    }


Cell = tuple[str | None, str, str]  # SLA state (None: closed without closed_on), type, service


def _counts(session: Session, rt: Runtime, now: datetime) -> tuple[Counter[Cell], int]:
    """What `sla_column` grouped by state, type and service would count, and the open requests
    unassigned for too long, without evaluating the state on every row of the table.

    One statement, so one snapshot, in three parts, each read from an index:
    - every request by type and service, and how many have a closing date
      (ix_request_type_service_closed);
    - the open requests by state, with the unassigned ones (the partial ix_request_open_due);
    - the closed requests closed after their deadline (the partial ix_request_breached).
    The closed requests with a closing date that are not breached are met; a closed request
    without a closing date has no state (NULL, as in `sla_column`).
    """
    rows = session.connection().execute(_counts_statement(rt, now)).all()
    return _fold(rows)


def _counts_statement(rt: Runtime, now: datetime) -> Any:
    """The three parts of `_counts`, as one UNION ALL."""
    today = kst_date(now)
    soon = today + timedelta(days=rt.settings.due_soon_days)
    due, closed_on = col(Request.legal_due_on), col(Request.closed_on)
    rtype, service = col(Request.type), col(Request.service)
    # Once the status is known to be open, the conditions of sla_condition() reduce to these.
    state = case(
        (due < today, Sla.OVERDUE.value),
        (due <= soon, Sla.DUE_SOON.value),
        else_=Sla.ON_TRACK.value,
    )
    unassigned = and_(
        col(Request.assignee_id).is_(None),
        col(Request.received_at) < unassigned_cutoff(rt, now),
    )
    every = sql_select(
        literal("all"), null(), rtype, service, func.count(), func.count(closed_on), literal(0)
    ).group_by(rtype, service)
    still_open = (
        sql_select(
            literal("open"),
            state,
            rtype,
            service,
            func.count(),
            func.count(closed_on),
            func.sum(case((unassigned, 1), else_=0)),
        )
        .where(_OPEN)
        .group_by(state, rtype, service)
    )
    # The status is counted rather than filtered: a status filter would lead the planner to
    # ix_request_status_due and through every closed request.
    breached = (
        sql_select(
            literal("breached"),
            null(),
            rtype,
            service,
            func.sum(case((_IS_CLOSED, 1), else_=0)),
            literal(0),
            literal(0),
        )
        .where(closed_on > due)
        .group_by(rtype, service)
    )
    return union_all(every, still_open, breached)


def _fold(rows: Any) -> tuple[Counter[Cell], int]:
    """The rows of the three parts into counts per cell, and the unassigned open requests."""
    counts: Counter[Cell] = Counter()
    closed: Counter[tuple[str, str]] = Counter()  # every request, then less the open ones
    dated: Counter[tuple[str, str]] = Counter()  # the same, with a closing date
    flagged = 0
    for part, sla, t, sv, n, n_dated, n_unassigned in rows:
        if part == "all":
            closed[(t, sv)] += n
            dated[(t, sv)] += n_dated
        elif part == "open":
            counts[(sla, t, sv)] += n
            closed[(t, sv)] -= n
            dated[(t, sv)] -= n_dated
            flagged += int(n_unassigned or 0)
        else:
            counts[(Sla.BREACHED.value, t, sv)] += int(n or 0)
    for (t, sv), n in closed.items():
        counts[(Sla.MET.value, t, sv)] += dated[(t, sv)] - counts[(Sla.BREACHED.value, t, sv)]
        counts[(None, t, sv)] += n - dated[(t, sv)]
    return counts, flagged


def _due_on(session: Session, day: date) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Request.reference, Request.type, Request.assignee_id)
        .where(_OPEN, col(Request.legal_due_on) == day)
        .order_by(col(Request.id))
        .limit(200)
    ).all()
    return [{"reference": r, "type": t, "assignee": a} for r, t, a in rows]


def unassigned_cutoff(rt: Runtime, now: datetime) -> datetime:
    return now - timedelta(hours=rt.settings.unassigned_flag_hours)


def _performance(
    session: Session, today: date, windows: tuple[int, ...]
) -> dict[int, dict[str, Any]]:
    """For each window of days: the on-time rate and median days to close of requests closed
    in it. The median comes from a histogram: the database counts by closing day and days to
    close in one pass over the widest window, in the order of ix_request_closed_on (which
    holds every column read), so no request rows travel and nothing is sorted."""
    closed_on = col(Request.closed_on)
    days_to_close = col(Request.days_to_close)
    rows = session.exec(
        select(
            closed_on,
            days_to_close,
            func.count(),
            func.sum(case((closed_on <= col(Request.legal_due_on), 1), else_=0)),
        )
        .where(closed_on > today - timedelta(days=max(windows)))
        .group_by(closed_on, days_to_close)
    ).all()
    out: dict[int, dict[str, Any]] = {}
    for days in windows:
        since = today - timedelta(days=days)
        hist: Counter[int | None] = Counter()
        closed = met = 0
        for day, d, n, m in rows:
            if day is not None and day > since:
                hist[d] += n
                closed += n
                met += int(m or 0)
        out[days] = {
            "closed": closed,
            "on_time": met,
            "on_time_rate": round(met / closed, 4) if closed else None,
            "median_days_to_close": _median_from_histogram(
                sorted(hist.items(), key=lambda h: (h[0] is not None, h[0] or 0)), closed
            ),
        }
    return out


def _median_from_histogram(hist: list[tuple[int | None, int]], total: int) -> float | None:
    """The median of values given as sorted (value, count) pairs; the mean of the two middle
    values when the count is even."""
    if not total:
        return None
    wanted = sorted({(total + 1) // 2, total // 2 + 1})
    found: list[int] = []
    seen = 0
    for value, n in hist:
        seen += n
        while wanted and seen >= wanted[0]:
            wanted.pop(0)
            found.append(value or 0)
    return sum(found) / len(found)
