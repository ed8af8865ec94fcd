"""The web form's CSRF defence (issue 16): a token the server signed, and no cross-site POST.

Double submit alone let anyone who can set a cookie for the site (a sibling subdomain, a
man in the middle on plain HTTP) pick a token of their own; the token is now an HMAC under
a key derived from the data key, and a browser's cross-site POST is refused on its
`Origin` / `Sec-Fetch-Site` even with a valid token.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.main import create_app
from app.settings import Settings
from app.web.csrf import COOKIE
from tests.conftest import Clock
from tests.factories import browser_multipart, csrf_token, filed, form_fields


def post(client: TestClient, token: str, **headers: str) -> httpx.Response:
    body, content_type = browser_multipart(form_fields(token))
    return client.post("/form", content=body, headers={**content_type, **headers})


def test_a_token_the_server_did_not_sign_is_refused(client: TestClient, db: Session) -> None:
    """What the old double submit accepted: any well-formed value, as cookie and field."""
    chosen = secrets.token_urlsafe(32)
    client.cookies.set(COOKIE, chosen)
    resp = post(client, chosen)
    assert resp.status_code == 403 and filed(db) == []
    # The form then hands out a token of its own, not the planted one.
    page = client.get("/form?type=access&service=uno&relationship=self")
    field = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert field is not None and field.group(1) != chosen


def test_a_token_signed_under_another_key_is_refused(
    client: TestClient, settings: Settings, clock: Clock, db: Session
) -> None:
    other_key = "H_W0-mbS1pXhAuB7nAD6d3K8JY4YXQx0bIrLK4fC9qE"
    other = create_app(Settings(**{**settings.model_dump(), "data_key": other_key}), clock=clock)
    with TestClient(other) as elsewhere:
        foreign = csrf_token(elsewhere)
    client.cookies.set(COOKIE, foreign)
    assert post(client, foreign).status_code == 403 and filed(db) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://testserver.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another site's page
        {"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()),
)
def test_a_cross_site_post_is_refused_even_with_a_valid_token(
    client: TestClient, db: Session, headers: dict[str, str]
) -> None:
    resp = post(client, csrf_token(client), **headers)
    assert resp.status_code == 403 and filed(db) == []


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a client that sends neither (curl, an old browser): the token decides
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://TestServer"},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar, a bookmark
        # What Chromium sends for our own form: our pages say Referrer-Policy: no-referrer.
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "null"},
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()) or "no-headers",
)
def test_a_same_origin_post_with_a_valid_token_is_accepted(
    client: TestClient, db: Session, headers: dict[str, str]
) -> None:
    resp = post(client, csrf_token(client), **headers)
    assert resp.status_code == 200, resp.text[:300]
    assert len(filed(db)) == 1


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"public_base_url": "https://privacy.example.com"}


def test_the_public_address_is_the_same_origin_behind_a_proxy_that_rewrites_host(
    client: TestClient, db: Session
) -> None:
    """A proxy that sends its upstream's Host (127.0.0.1:8000): the browser's Origin is the
    public address of PUBLIC_BASE_URL, and that is the site's own."""
    token = csrf_token(client)
    ok = post(client, token, Origin="https://privacy.example.com", Host="127.0.0.1:8000")
    assert ok.status_code == 200, ok.text[:300]
    other = post(client, token, Origin="https://privacy.example.com.evil.example")
    assert other.status_code == 403
    assert len(filed(db)) == 1
