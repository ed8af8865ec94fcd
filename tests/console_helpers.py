"""Helpers for the staff console tests: accounts enrolled as a person would, sessions made
directly for tests that are not about signing in, the CSRF token of a page."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import transaction
from app.models.staff import Role, Staff
from app.runtime import Runtime
from app.services.console import credentials, sessions
from app.services.staff.accounts import add_staff

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def new_link(runtime: Runtime, name: str, role: str = "security") -> str:
    """Adds a staff member (as `rightsdesk staff add` does) and returns the enrolment token."""
    with transaction(runtime.engine) as session:
        add_staff(session, name=name, role=Role(role), now=runtime.clock())
        return credentials.enrolment_link_for_name(session, runtime, name).token


def secret_of(html: str) -> str:
    found = re.search(r'id="secret">([A-Z2-7]+)<', html)
    assert found, "the enrolment page shows no secret"
    return found.group(1)


def enrol(client: TestClient, runtime: Runtime, name: str, role: str = "security") -> pyotp.TOTP:
    """Enrols through the page like a person: opens the link, reads the secret, answers with
    a password and the app's first code. Returns the person's authenticator."""
    token = new_link(runtime, name, role)
    page = client.get("/staff/enrol", params={"token": token})
    assert page.status_code == 200, page.text
    totp = pyotp.TOTP(secret_of(page.text))
    done = client.post(
        "/staff/enrol",
        data={
            "csrf_token": csrf_of(page.text),
            "token": token,
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "code": totp.at(runtime.clock()),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return totp


def code_at(totp: pyotp.TOTP, now: datetime) -> str:
    return totp.at(now)


def sign_in(
    client: TestClient,
    name: str,
    code: str,
    *,
    password: str = PASSWORD,
    next_path: str = "",
) -> Any:
    """Password, then code; returns the answer to the code (303 to the console when right)."""
    form = client.get("/staff/login")
    first = client.post(
        "/staff/login",
        data={
            "csrf_token": csrf_of(form.text),
            "name": name,
            "password": password,
            "next": next_path,
        },
        follow_redirects=False,
    )
    if first.status_code != 303:
        return first
    page = client.get(first.headers["location"])
    return client.post(
        "/staff/login/code",
        data={"csrf_token": csrf_of(page.text), "code": code, "next": next_path},
        follow_redirects=False,
    )


def session_cookie(runtime: Runtime, name: str, role: str) -> str:
    """A signed-in session for a staff member (made if missing), without the sign-in pages:
    for tests about what the console shows, not how one signs in."""
    with transaction(runtime.engine) as session:
        staff = session.exec(select(Staff).where(Staff.name == name)).first()
        if staff is None:
            add_staff(session, name=name, role=Role(role), now=runtime.clock())
            staff = session.exec(select(Staff).where(Staff.name == name)).one()
        return sessions.start(session, runtime, staff, second_factor=True)
