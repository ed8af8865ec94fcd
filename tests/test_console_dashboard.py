"""The console's dashboard at /staff/dashboard: the SLA summary's figures, drawn as inline SVG
charts (with the same figures as tables), and the register and access-log downloads through
the API's export functions, logged the same way."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.runtime import Runtime
from app.workflows.deadlines import KST
from tests.board_helpers import browser
from tests.conftest import Clock, request_body
from tests.factories import ACCESS_TERMS, Desk, deliver_access


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"console_cookie_secure": False}


def kst(day: str) -> datetime:
    y, m, d = map(int, day.split("-"))
    return datetime(y, m, d, 10, 0, tzinfo=KST)


def svg(html: str, chart_id: str) -> str:
    found = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', html, re.S)
    assert found, f"no chart {chart_id}"
    return found.group(0)


def figures(chart: str) -> list[str]:
    return re.findall(r'class="figure">([^<]+)<', chart)


def test_the_charts_draw_the_summarys_on_time_rate_and_median(
    client: TestClient, runtime: Runtime, staff_headers: Any, clock: Clock
) -> None:
    late = Desk(client, staff_headers)
    on_time = Desk(client, staff_headers)
    on_time.staff_write("decision", {"outcome": "granted", "access": ACCESS_TERMS})
    deliver_access(client, on_time.ref, on_time.handler)
    clock.now = kst("2026-12-30")
    late.staff_write("decision", {"outcome": "granted", "access": ACCESS_TERMS})
    deliver_access(client, late.ref, late.handler)
    api = client.get("/v1/staff/sla/summary", headers=late.agent).json()
    assert api["last_30_days"]["on_time_rate"] == 0.5
    with browser(client, runtime, "agent") as b:
        page = b.get("/staff/dashboard")
    assert page.status_code == 200
    html = page.text
    assert "script" not in html.lower()  # drawn on the server, no chart library
    on_time_chart = svg(html, "chart-on-time")
    assert 'role="img"' in on_time_chart and "<title" in on_time_chart
    assert figures(on_time_chart) == ["50%", "50%"]  # last 30 and 90 days, as the API says
    median = api["last_30_days"]["median_days_to_close"]
    assert figures(svg(html, "chart-median")) == [f"{median:g}일", f"{median:g}일"]
    # The same figures as a table, for screen readers.
    table = html[html.index('id="perf-table"') :]
    assert "50.0%" in table and f"{median}일" in table and "2건" in table
    for state, n in api["totals"].items():
        assert f'id="total-{state}">{n}<' in html


def test_requests_by_type_per_month_and_overdue_by_assignee(
    client: TestClient, runtime: Runtime, staff_headers: Any, clock: Clock
) -> None:
    h = staff_headers("agent", name="김담당")
    letters = [
        ("2026-11-20", "access"),
        ("2026-12-05", "deletion"),
        ("2026-12-06", "access"),
        ("2026-12-14", "suspension"),
    ]
    refs = []
    for day, rtype in letters:
        body = request_body(type=rtype, channel="letter", received_at=f"{day}T09:00:00+09:00")
        refs.append(client.post("/v1/staff/requests", json=body, headers=h).json()["reference"])
    me = client.get("/v1/staff/me", headers=h).json()["staff_id"]
    url = f"/v1/staff/requests/{refs[0]}"
    etag = client.get(url, headers=h).headers["etag"]
    assert client.patch(url, json={"assignee": me}, headers={**h, "If-Match": etag}).is_success
    clock.now = kst("2026-12-15")
    api = client.get("/v1/staff/sla/summary", headers=h).json()
    assert api["totals"]["overdue"] == 1
    with browser(client, runtime, "security") as b:
        html = b.get("/staff/dashboard").text
    by_type = svg(html, "chart-by-type")
    # Totals on top of each month's column: ... 2026-11: 1, 2026-12: 3.
    assert figures(by_type)[-2:] == ["1", "3"]
    assert "2026-11" in by_type and "2026-12" in by_type
    start = html.index('id="bytype-table"')
    table = html[start : html.index("</table>", start)]
    assert re.search(r"열람</th>(<td[^>]*>0</td>){4}<td[^>]*>1</td><td[^>]*>1</td>", table)
    overdue = svg(html, "chart-overdue")
    assert "김담당" in overdue and figures(overdue) == ["1건"]


def test_the_register_and_access_log_downloads_are_logged_like_the_apis(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    Desk(client, staff_headers)
    with browser(client, runtime, "agent") as b:
        page = b.get("/staff/dashboard").text
        assert "처리 대장 내려받기" in page and "접속기록 내려받기" not in page
        assert 'id="register-personal"' not in page  # names and contacts: not an agent's
        csv = b.get(
            "/staff/dashboard/register.csv", params={"from": "2026-12-01", "to": "2026-12-31"}
        )
        assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
        assert "attachment" in csv.headers["content-disposition"]
        personal = b.get(
            "/staff/dashboard/register.csv",
            params={"from": "2026-12-01", "to": "2026-12-31", "personal": "1"},
        )
        assert personal.status_code == 403 and 'id="register-personal-error"' in personal.text
        bad = b.get("/staff/dashboard/register.csv", params={"from": "2026-12-31", "to": "x"})
        assert bad.status_code == 422 and 'id="register-to-error"' in bad.text
        inverted = b.get(
            "/staff/dashboard/register.csv", params={"from": "2026-12-31", "to": "2026-12-01"}
        )
        assert inverted.status_code == 422 and 'id="register-from-error"' in inverted.text
        assert b.get("/staff/dashboard/access-log.csv").status_code == 403
    with browser(client, runtime, "officer") as b:
        log = b.get(
            "/staff/dashboard/access-log.csv", params={"from": "2026-12-01", "to": "2026-12-31"}
        )
        assert log.status_code == 200 and log.headers["content-type"].startswith("text/csv")
    officer = staff_headers("officer")
    entries = client.get(
        "/v1/staff/audit/access-log",
        params={"from": "2026-12-01", "to": "2026-12-31"},
        headers=officer,
    ).json()["items"]
    exports = [(e["action"], e["staff"]) for e in entries if e["kind"] == "export"]
    assert (
        "register (from=2026-12-01;to=2026-12-31;personal=false; 1 rows)",
        "콘솔 agent",
    ) in exports
    assert any(a.startswith("access_log (from=2026-12-01;") and who == "콘솔 officer"
               for a, who in exports)  # fmt: skip


def test_with_nothing_closed_the_rates_read_as_not_measured_not_zero(
    client: TestClient, runtime: Runtime, staff_headers: Any
) -> None:
    Desk(client, staff_headers)  # one open request, none closed
    with browser(client, runtime, "security") as b:
        html = b.get("/staff/dashboard").text
    assert figures(svg(html, "chart-on-time")) == ["—", "—"]
    assert figures(svg(html, "chart-median")) == ["—", "—"]
