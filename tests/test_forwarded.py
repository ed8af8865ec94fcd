"""Whose address is the client's (issue 16): forwarded headers only from trusted proxies.

`rightsdesk serve` used uvicorn's default, which believes X-Forwarded-For from 127.0.0.1, and
whatever the header said was recorded: a local caller (or anyone behind a local proxy) chose
the address in the access log and the rate-limit bucket. Now the app alone reads forwarded
headers, and only from FORWARDED_ALLOW_IPS (empty by default); only valid IP addresses are
recorded.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app import cli
from app.main import create_app
from app.models.staff import AccessLog
from app.settings import Settings
from tests.conftest import Clock, request_body
from tests.servers import uvicorn_in_thread

Headers = Callable[..., dict[str, str]]
SPOOFED = "203.0.113.77"


def recorded_addresses(db: Session) -> list[str | None]:
    db.expire_all()
    return [a.client_ip for a in db.exec(select(AccessLog).order_by(col(AccessLog.id))).all()]


def view_detail(client: TestClient | httpx.Client, headers: dict[str, str], **extra: str) -> None:
    ref = client.post("/v1/requests", json=request_body()).json()["reference"]
    resp = client.get(f"/v1/staff/requests/{ref}", headers={**headers, **extra})
    assert resp.status_code == 200, resp.text


@pytest.fixture
def served_like_the_cli(
    app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The app under a real uvicorn configured exactly as `rightsdesk serve` configures it."""
    captured: dict[str, Any] = {}
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    monkeypatch.setattr(cli, "_configure_logging", lambda level: None)
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: captured.update(kw))
    cli._serve(argparse.Namespace(host=None, port=None, workers=None))
    options = {k: v for k, v in captured.items() if k not in {"factory", "workers", "port"}}
    options.update(host="127.0.0.1", log_level="warning")
    with uvicorn_in_thread(app, **options) as url:
        yield url


def test_the_server_does_not_believe_x_forwarded_for_from_localhost_by_default(
    served_like_the_cli: str, staff_headers: Headers, db: Session
) -> None:
    with httpx.Client(base_url=served_like_the_cli, timeout=30) as http:
        view_detail(http, staff_headers(), **{"X-Forwarded-For": SPOOFED})
    assert recorded_addresses(db) == ["127.0.0.1"]


def test_an_address_that_is_not_an_ip_is_not_recorded(
    app: FastAPI, staff_headers: Headers, db: Session
) -> None:
    """TestClient's own peer is "testclient": not an address, so nothing is recorded."""
    with TestClient(app) as client:
        view_detail(client, staff_headers())
    assert recorded_addresses(db) == [None]


def test_untrusted_peers_cannot_choose_their_address(
    app: FastAPI, staff_headers: Headers, db: Session
) -> None:
    with TestClient(app, client=("198.51.100.7", 40000)) as client:
        view_detail(client, staff_headers(), **{"X-Forwarded-For": SPOOFED})
    assert recorded_addresses(db) == ["198.51.100.7"]


def _app(settings: Settings, clock: Clock, **overrides: Any) -> FastAPI:
    return create_app(Settings(**{**settings.model_dump(), **overrides}), clock=clock)


def test_a_trusted_proxy_names_the_client_and_only_a_valid_address_is_kept(
    settings: Settings, clock: Clock, staff_headers: Headers, db: Session
) -> None:
    app = _app(settings, clock, forwarded_allow_ips="127.0.0.1, 10.0.0.0/8")
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        headers = staff_headers()
        view_detail(client, headers, **{"X-Forwarded-For": SPOOFED})
        # Two proxies: the client is the first address from the right that is not trusted.
        view_detail(client, headers, **{"X-Forwarded-For": f"192.0.2.1, {SPOOFED}, 10.1.2.3"})
        view_detail(client, headers, **{"X-Forwarded-For": "2001:DB8::1"})
        # Junk is never taken for an address: the last trusted hop stays the client.
        view_detail(client, headers, **{"X-Forwarded-For": "<script>, 10.1.2.3"})
        view_detail(client, headers, **{"X-Forwarded-For": "x" * 40})
    expected = [SPOOFED, SPOOFED, "2001:db8::1", "10.1.2.3", "127.0.0.1"]
    assert recorded_addresses(db) == expected


def test_a_bad_forwarded_allow_ips_stops_the_start(settings: Settings, clock: Clock) -> None:
    with pytest.raises(ValueError, match="FORWARDED_ALLOW_IPS"):
        _app(settings, clock, forwarded_allow_ips="10.0.0.0/8, proxy.internal")


def test_a_spoofed_header_does_not_open_a_new_rate_limit_bucket(
    settings: Settings, clock: Clock
) -> None:
    app = _app(settings, clock, public_rate_limit_per_minute=4)
    with TestClient(app, client=("198.51.100.8", 40000)) as client:
        answers = [
            client.get("/v1/catalog", headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code
            for i in range(6)
        ]
    assert answers == [200] * 4 + [429] * 2
