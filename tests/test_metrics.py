"""GET /metrics: aggregate figures read from the database, with no personal data in labels."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select

from app.db import transaction
from app.main import create_app
from app.models.notice import Notice
from app.models.request import Request
from app.runtime import Runtime
from app.settings import Settings
from app.workflows.lifecycle import Status, transition
from tests.conftest import Clock, request_body, subject
from tests.factories import file, staff_file

Headers = Callable[..., dict[str, str]]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def client(app: FastAPI, staff_headers: Headers) -> Iterator[TestClient]:
    """Scrapes carry a staff token, as Prometheus does (bearer_token in its config)."""
    with TestClient(app) as c:
        c.headers.update(staff_headers("admin", "prometheus"))
        yield c


def test_metrics_need_a_staff_token(app: FastAPI) -> None:
    with TestClient(app) as anonymous:
        resp = anonymous.get("/metrics")
    assert resp.status_code == 401 and resp.json()["code"] == "unauthenticated"


def scrape(client: TestClient) -> Samples:
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def close(runtime: Runtime, reference: str, to: Status, at: datetime, **fields: Any) -> None:
    """Close a request the way the workflows do (via review when completing)."""
    with transaction(runtime.engine) as session:
        req = session.exec(select(Request).where(Request.reference == reference)).one()
        if to is Status.COMPLETED:
            transition(req, Status.IN_REVIEW, actor="test", now=at)
        for key, val in fields.items():
            setattr(req, key, val)
        transition(req, to, actor="test", now=at)


def test_open_requests_by_status_type_and_sla(client: TestClient, clock: Clock) -> None:
    file(client, request_body())  # received 2026-12-15, due 2026-12-28
    file(client, request_body(type="deletion"))
    open_ = "rightsdesk_requests_open"
    before = scrape(client)
    on_track = {"status": "identity_pending", "type": "access", "sla": "on_track"}
    assert value(before, open_, **on_track) == 1
    assert value(before, open_, **{**on_track, "type": "deletion"}) == 1
    # Zero-filled: a state with no requests reads 0 rather than vanishing.
    overdue = {**on_track, "sla": "overdue"}
    assert (open_, frozenset(overdue.items())) in before and value(before, open_, **overdue) == 0

    clock.advance(days=11)  # Sat 2026-12-26 KST: two days before the deadline
    assert value(scrape(client), open_, **{**on_track, "sla": "due_soon"}) == 1
    # 00:30 KST on Tue 2026-12-29 (still the 28th in UTC): past 24:00 KST of the deadline.
    clock.now = datetime(2026, 12, 28, 15, 30, tzinfo=UTC)
    after = scrape(client)
    assert value(after, open_, **overdue) == 1
    assert value(after, open_, **on_track) == 0
    assert sum(v for (n, _), v in after.items() if n == open_) == 2


def test_filed_and_closed_totals_and_breaches(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock
) -> None:
    h = staff_headers()
    api = file(client, request_body()).json()["reference"]
    file(client, request_body())
    # Received 2026-11-20: due 2026-11-30, so closing it on 12-15 breaches the deadline.
    late = staff_file(client, h, received_at="2026-11-20T09:00:00+09:00").json()["reference"]
    on_time = staff_file(client, h, type="deletion", channel="email").json()["reference"]
    staff_file(client, h, type="deletion", channel="email")
    close(runtime, api, Status.WITHDRAWN, clock())
    close(runtime, late, Status.COMPLETED, clock(), outcome="granted")
    close(runtime, on_time, Status.COMPLETED, clock(), outcome="refused")

    s = scrape(client)
    filed = "rightsdesk_requests_filed_total"
    assert value(s, filed, type="access", channel="api") == 2
    assert value(s, filed, type="access", channel="letter") == 1
    assert value(s, filed, type="deletion", channel="email") == 2
    closed = "rightsdesk_requests_closed_total"
    assert value(s, closed, type="access", outcome="withdrawn") == 1
    assert value(s, closed, type="access", outcome="granted") == 1
    assert value(s, closed, type="deletion", outcome="refused") == 1
    assert sum(v for (n, _), v in s.items() if n == closed) == 3
    # Only the late one breached; a type with closings but no breach reads 0.
    breached = "rightsdesk_requests_breached_total"
    assert value(s, breached, type="access") == 1
    assert (breached, frozenset({("type", "deletion")})) in s
    assert value(s, breached, type="deletion") == 0
    # Closed requests have left the open gauge.
    assert sum(v for (n, _), v in s.items() if n == "rightsdesk_requests_open") == 2


def test_decision_latency_histogram(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock
) -> None:
    h = staff_headers()
    refs = [file(client, request_body()).json()["reference"]]  # 0 days
    for day in ("2026-12-10", "2026-11-05"):  # 5 and 40 days before 2026-12-15
        resp = staff_file(client, h, received_at=f"{day}T09:00:00+09:00")
        refs.append(resp.json()["reference"])
    withdrawn = file(client, request_body()).json()["reference"]
    for ref in refs:
        close(runtime, ref, Status.COMPLETED, clock(), outcome="granted")
    close(runtime, withdrawn, Status.WITHDRAWN, clock())  # not a completed request

    s = scrape(client)
    name = "rightsdesk_decision_latency_days"
    expected = {"1.0": 1, "2.0": 1, "3.0": 1, "5.0": 2, "7.0": 2, "10.0": 2, "14.0": 2}
    expected |= {"21.0": 2, "30.0": 2, "+Inf": 3}
    buckets = {le: value(s, f"{name}_bucket", type="access", le=le) for le in expected}
    assert buckets == expected
    assert value(s, f"{name}_count", type="access") == 3
    assert value(s, f"{name}_sum", type="access") == 45


def test_outbox_pending_failed_and_oldest(
    client: TestClient, runtime: Runtime, clock: Clock
) -> None:
    # A self-filed request queues its receipt and a verification code, both by e-mail.
    file(client, request_body())
    clock.advance(seconds=90)
    s = scrape(client)
    assert value(s, "rightsdesk_outbox_pending", channel="email") == 2
    assert value(s, "rightsdesk_outbox_pending", channel="sms") == 0
    assert value(s, "rightsdesk_outbox_failed", channel="email") == 0
    assert value(s, "rightsdesk_outbox_oldest_pending_seconds") == 90

    with transaction(runtime.engine) as session:
        first = session.exec(select(Notice).order_by(col(Notice.id))).first()
        assert first is not None
        first.status = "failed"
    s = scrape(client)
    assert value(s, "rightsdesk_outbox_pending", channel="email") == 1
    assert value(s, "rightsdesk_outbox_failed", channel="email") == 1
    with transaction(runtime.engine) as session:
        for notice in session.exec(select(Notice)):
            notice.status = "delivered"
    assert value(scrape(client), "rightsdesk_outbox_oldest_pending_seconds") == 0


def test_no_personal_data_in_labels(client: TestClient, staff_headers: Headers) -> None:
    person = subject(name="박비밀", email="park.secret@example.org")
    ref = file(client, request_body(subject=person)).json()["reference"]
    staff_file(client, staff_headers(), subject=person)
    resp = client.get("/metrics")
    labels = [
        v
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
        for v in s.labels.values()
    ]
    assert labels, "the scrape has labelled samples"
    for secret in ("박비밀", "park.secret", "example.org", "1990-05-01", ref):
        assert secret not in resp.text
        assert not [v for v in labels if secret in v]


def test_each_app_has_its_own_registry(
    client: TestClient, app: FastAPI, settings: Settings, clock: Clock
) -> None:
    file(client, request_body())
    other = create_app(settings, clock=clock)
    with TestClient(other) as c:
        c.headers.update(client.headers)  # the same database, so the same token
        assert (
            value(scrape(c), "rightsdesk_requests_filed_total", type="access", channel="api") == 1
        )
    assert (
        value(scrape(client), "rightsdesk_requests_filed_total", type="access", channel="api") == 1
    )
    assert app.state.metrics_registry is not other.state.metrics_registry
    assert b"rightsdesk_" not in generate_latest(REGISTRY)
    assert "/metrics" not in app.openapi()["paths"]
