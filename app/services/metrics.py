"""Prometheus metrics at GET /metrics, read from the database at scrape time.

Every number is an aggregate query (GROUP BY), so the figures are the same whichever process
is scraped and survive restarts. Labels carry codes only (status, type, channel, outcome,
SLA state): never a reference, a name or a contact.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Connection, String, case, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from app.models.channeltalk import ChatCandidate, InboundEvent, IntegrationState
from app.models.notice import Notice
from app.models.request import Request as DsrRequest
from app.models.vocab import NoticeStatus
from app.runtime import Runtime
from app.workflows.deadlines import PERIOD_DAYS, kst_date
from app.workflows.lifecycle import CLOSED, OPEN, Status
from app.workflows.sla import Sla, sla_column

# Upper bounds (days) of the decision latency histogram; +Inf is added by the exposition.
LATENCY_BUCKETS: tuple[int, ...] = (1, 2, 3, 5, 7, 10, 14, 21, 30)
_OPEN_SLA = (Sla.ON_TRACK, Sla.DUE_SOON, Sla.OVERDUE)
_NOTICE_CHANNELS = ("email", "sms", "chat")
_FROM_DB = "Derived from the database at scrape time, so it survives restarts."


class RightsDeskCollector(Collector):
    """Yields every RightsDesk metric from a handful of aggregate queries."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterable[Metric]:
        with self.rt.engine.connect() as conn:
            yield from self._requests(conn)
            yield from self._latency(conn)
            yield from self._outbox(conn)
            yield from self._channeltalk(conn)

    def _sla(self) -> ColumnElement[str]:
        return sla_column(
            status=col(DsrRequest.status),
            legal_due_on=col(DsrRequest.legal_due_on),
            closed_on=col(DsrRequest.closed_on),
            today=kst_date(self.rt.clock()),
            due_soon_days=self.rt.settings.due_soon_days,
        )

    def _requests(self, conn: Connection) -> Iterator[Metric]:
        yield from self._open_requests(conn)
        yield from self._filed(conn)
        yield from self._closed(conn)

    def _open_requests(self, conn: Connection) -> Iterator[Metric]:
        status, rtype = col(DsrRequest.status), col(DsrRequest.type)
        sla = self._sla().label("sla")
        # Open requests: zero-filled for the known codes, so a cleared backlog reads 0.
        open_counts = {
            (s.value, t, v.value): 0 for s in OPEN for t in PERIOD_DAYS for v in _OPEN_SLA
        }
        rows = conn.execute(
            select(status, rtype, sla, func.count())
            .where(status.in_([s.value for s in OPEN]))
            .group_by(status, rtype, sla)
        )
        for st, ty, sl, n in rows:
            open_counts[(st, ty, sl)] = n
        gauge = GaugeMetricFamily(
            "rightsdesk_requests_open",
            "Open requests by status, type and SLA state (on_track, due_soon, overdue; KST).",
            labels=["status", "type", "sla"],
        )
        for key, n in sorted(open_counts.items()):
            gauge.add_metric(list(key), n)
        yield gauge

    def _filed(self, conn: Connection) -> Iterator[Metric]:
        rtype = col(DsrRequest.type)
        filed = CounterMetricFamily(
            "rightsdesk_requests_filed_total",
            f"Requests filed, by type and intake channel. {_FROM_DB}",
            labels=["type", "channel"],
        )
        channel = col(DsrRequest.channel)
        for ty, ch, n in conn.execute(
            select(rtype, channel, func.count()).group_by(rtype, channel)
        ):
            filed.add_metric([ty, ch], n)
        yield filed

    def _closed(self, conn: Connection) -> Iterator[Metric]:
        status, rtype = col(DsrRequest.status), col(DsrRequest.type)
        sla = self._sla().label("sla")
        # Closed requests: the decision's outcome, or the status when none was decided
        # (withdrawn, rejected). One query feeds both counters.
        outcome = func.coalesce(col(DsrRequest.outcome), status, type_=String).label("outcome")
        closed = CounterMetricFamily(
            "rightsdesk_requests_closed_total",
            "Requests closed, by type and outcome (granted, partially_granted, refused, "
            "no_data_held, unchanged; "
            f"else the closing status: withdrawn, rejected). {_FROM_DB}",
            labels=["type", "outcome"],
        )
        breached = CounterMetricFamily(
            "rightsdesk_requests_breached_total",
            f"Requests closed after their legal deadline (KST date), by type. {_FROM_DB}",
            labels=["type"],
        )
        closed_counts: dict[tuple[str, str], int] = {}
        breached_counts: dict[str, int] = {}
        closed_rows = conn.execute(
            select(rtype, outcome, sla, func.count())
            .where(status.in_([s.value for s in CLOSED]))
            .group_by(rtype, outcome, sla)
        )
        for ty, oc, sl, n in closed_rows:
            closed_counts[(ty, oc)] = closed_counts.get((ty, oc), 0) + n
            breached_counts[ty] = breached_counts.get(ty, 0) + (n if sl == Sla.BREACHED else 0)
        for (ty, label), n in sorted(closed_counts.items()):
            closed.add_metric([ty, label], n)
        for ty, n in sorted(breached_counts.items()):
            breached.add_metric([ty], n)
        yield closed
        yield breached

    def _latency(self, conn: Connection) -> Iterator[Metric]:
        days = col(DsrRequest.days_to_close)
        rtype = col(DsrRequest.type)
        # Cumulative bucket counts in SQL: portable CASE sums, one row per type.
        buckets = [func.sum(case((days <= b, 1), else_=0)) for b in LATENCY_BUCKETS]
        rows = conn.execute(
            select(rtype, func.count(), func.sum(days), *buckets)
            .where(col(DsrRequest.status) == Status.COMPLETED.value, days.is_not(None))
            .group_by(rtype)
        )
        hist = HistogramMetricFamily(
            "rightsdesk_decision_latency_days",
            "Calendar days (KST) from receipt to closing of completed requests, by type. "
            + _FROM_DB,
            labels=["type"],
        )
        for ty, count, total, *cumulative in sorted(rows):
            # Same `le` spelling as prometheus_client's own histograms ("1.0").
            pairs = [
                (str(float(b)), float(c)) for b, c in zip(LATENCY_BUCKETS, cumulative, strict=True)
            ]
            hist.add_metric([ty], [*pairs, ("+Inf", float(count))], float(total))
        yield hist

    def _outbox(self, conn: Connection) -> Iterator[Metric]:
        status, channel = col(Notice.status), col(Notice.channel)
        waiting = (NoticeStatus.PENDING, NoticeStatus.FAILED)
        counts = {(s, c): 0 for s in waiting for c in _NOTICE_CHANNELS}
        rows = conn.execute(
            select(status, channel, func.count())
            .where(status.in_(waiting))
            .group_by(status, channel)
        )
        for row_status, ch, n in rows:
            counts[(row_status, ch)] = n
        for st, doc in [
            (NoticeStatus.PENDING, "Notices waiting in the outbox for delivery, by channel."),
            (NoticeStatus.FAILED, "Notices whose delivery failed for good, by channel."),
        ]:
            gauge = GaugeMetricFamily(f"rightsdesk_outbox_{st}", doc, labels=["channel"])
            for (s, ch), n in sorted(counts.items()):
                if s == st:
                    gauge.add_metric([ch], n)
            yield gauge

        oldest = conn.execute(
            select(func.min(col(Notice.created_at))).where(status == NoticeStatus.PENDING)
        ).scalar_one()
        age = (self.rt.clock() - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "rightsdesk_outbox_oldest_pending_seconds",
            "Age of the oldest pending notice in seconds (0 when the outbox is empty).",
            value=max(age, 0.0),
        )

    def _channeltalk(self, conn: Connection) -> Iterator[Metric]:
        events = GaugeMetricFamily(
            "rightsdesk_channeltalk_events",
            "Channel Talk deliveries kept (raw events, within their retention), by status.",
            labels=["status"],
        )
        counts = dict.fromkeys(("pending", "processing", "done", "ignored", "failed"), 0)
        status = col(InboundEvent.status)
        for st, n in conn.execute(select(status, func.count()).group_by(status)):
            counts[st] = n
        for st, n in counts.items():
            events.add_metric([st], n)
        yield events
        pending = conn.execute(
            select(func.count())
            .select_from(ChatCandidate)
            .where(col(ChatCandidate.status) == "pending")
        ).scalar_one()
        yield GaugeMetricFamily(
            "rightsdesk_channeltalk_candidates_pending",
            "Chat messages that may be rights requests, waiting for a manager to confirm.",
            value=pending,
        )
        state = conn.execute(
            select(col(IntegrationState.value)).where(col(IntegrationState.key) == "channeltalk")
        ).scalar_one_or_none()
        blocked = 1.0 if isinstance(state, dict) and state.get("webhook_blocked") else 0.0
        yield GaugeMetricFamily(
            "rightsdesk_channeltalk_webhook_blocked",
            "1 when the last reconciliation found our Channel Talk webhook blocked.",
            value=blocked,
        )


# One registry per app (not the global one), so several apps in one process do not clash.
